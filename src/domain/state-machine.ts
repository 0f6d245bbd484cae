import type { Clock } from './clock.js';
import { assert } from './errors.js';
import { Restorer } from './restorer.js';
import type { DomainContext } from './context.js';
import { DeadlineQueue } from './deadline-queue.js';
import type { DomainEvent, EventSink } from './events.js';
import { FencingCounter } from './fencing.js';
import type { Hashing } from './hashing.js';
import { Leases } from './leases.js';
import { Locks } from './locks.js';
import type { DeadlineItem } from './model.js';
import { Rings } from './rings.js';
import type { Limits } from '../limits.js';

export interface StateMachineOptions {
  readonly clock: Clock;
  readonly limits: Limits;
  readonly hashing: Hashing;
  /** A new lease id; an id the server makes names `slot` (lease-table.ts). */
  readonly newLeaseId: (slot: number) => string;
  readonly lastToken?: number;
}

export interface TickResult {
  /** Deadlines processed in this tick. */
  readonly processed: number;
  /** Units of work done: one per deadline, plus one per hold and ring member an expiry ended. */
  readonly work: number;
  /** True when more deadlines were already due but the budget ran out. */
  readonly more: boolean;
}

/**
 * The one door into lockring's state. Every transport (HTTP, WebSocket, recovery)
 * goes through `run`, which applies a command, hands waiting requests their
 * permits, and delivers the events it caused to every subscriber, in order.
 * The machine is pure: no I/O, no timers, time read from the injected clock.
 */
export class StateMachine {
  readonly leases: Leases;
  readonly locks: Locks;
  readonly rings: Rings;
  readonly ctx: DomainContext;
  private readonly sinks: EventSink[] = [];
  private readonly commandEndSinks: (() => void)[] = [];
  /** Nesting depth of `run` (a command may run inside another, e.g. a tick's items). */
  private depth = 0;

  constructor(options: StateMachineOptions) {
    this.ctx = {
      clock: options.clock,
      limits: options.limits,
      deadlines: new DeadlineQueue<DeadlineItem>(),
      fencing: new FencingCounter(options.lastToken ?? 0),
      hashing: options.hashing,
      newLeaseId: options.newLeaseId,
      emit: (event) => this.deliver(event),
    };
    this.leases = new Leases(this.ctx);
    this.locks = new Locks(this.ctx, this.leases);
    this.rings = new Rings(this.ctx, this.leases);
    this.leases.dependents = {
      dropLocks: (lease, reason) => this.locks.dropLease(lease, reason),
      dropMembers: (lease) => this.rings.dropLease(lease),
    };
  }

  get clock(): Clock {
    return this.ctx.clock;
  }

  get limits(): Limits {
    return this.ctx.limits;
  }

  get lastToken(): number {
    return this.ctx.fencing.last;
  }

  /** Subscribes to every event, in the order they happen. */
  subscribe(sink: EventSink): () => void {
    this.sinks.push(sink);
    return () => {
      const index = this.sinks.indexOf(sink);
      if (index >= 0) this.sinks.splice(index, 1);
    };
  }

  /**
   * Called at the end of every outermost command, after all its events: the commit
   * pipeline stamps what the command wants shown with the log position it reached.
   */
  onCommandEnd(sink: () => void): void {
    this.commandEndSinks.push(sink);
  }

  /** True while a command runs: outputs made now are stamped at its end. */
  get running(): boolean {
    return this.depth > 0;
  }

  /** Applies one command; waiters freed by it are granted before it returns. */
  run<T>(command: (machine: this) => T): T {
    this.depth += 1;
    try {
      return command(this);
    } finally {
      try {
        this.locks.flush();
      } finally {
        this.depth -= 1;
        if (this.depth === 0) for (let i = 0; i < this.commandEndSinks.length; i++) this.commandEndSinks[i]!();
      }
    }
  }

  /** Recovery's door: the only way state enters the machine without a command. */
  restorer(): Restorer {
    assert(this.depth === 0 && this.leases.byId.size === 0 && this.locks.byName.size === 0 && this.rings.byName.size === 0,
      'recovery needs a fresh machine');
    return new Restorer(this.ctx, this.leases, this.locks, this.rings);
  }

  /**
   * Processes due deadlines (expiries, wait timeouts, lock-delays) until `budget`
   * units of work are done: one per deadline, plus one per hold and ring member that
   * an expiry ends, so a lease carrying many holds counts for what it costs.
   */
  tick(budget: number = this.ctx.limits.expiriesPerTickMax): TickResult {
    const now = this.ctx.clock.monoMs();
    const deadlines = this.ctx.deadlines;
    let processed = 0;
    let work = 0;
    while (work < budget) {
      const item = deadlines.popDue(now);
      if (item === undefined) break;
      processed += 1;
      // One command per deadline, through a method made once: no closure per expiry.
      this.due = item;
      work += 1 + this.run(this.fireDue);
    }
    this.due = null;
    return { processed, work, more: deadlines.peekDeadlineMs() <= now };
  }

  /** When a queued deadline falls due, on the monotonic clock; Infinity when it is not queued. */
  deadlineOf(entry: DeadlineItem): number {
    return this.ctx.deadlines.deadlineOf(entry);
  }

  /** Monotonic time of the earliest deadline, if any (for the expiry loop's timer). */
  nextDeadlineMs(): number | undefined {
    const next = this.ctx.deadlines.peekDeadlineMs();
    return next === Infinity ? undefined : next;
  }

  /** The deadline `tick` is firing. */
  private due: DeadlineItem | null = null;
  private readonly fireDue = (): number => this.fire(this.due!);

  /** Fires one deadline; returns the holds and members it ended. */
  private fire(item: DeadlineItem): number {
    switch (item.type) {
      case 'lease':
        return item.ended ? 0 : this.leases.expire(item, this.ctx.deadlines.poppedDeadlineMs);
      case 'waiter':
        this.locks.timeout(item);
        return 0;
      case 'lock-delay':
        this.locks.endDelay(item.lock);
        return 0;
      case 'max-hold':
      case 'yield':
        return this.locks.endBound(item);
    }
  }

  private deliver(event: DomainEvent): void {
    for (const sink of this.sinks) sink(event);
  }
}
