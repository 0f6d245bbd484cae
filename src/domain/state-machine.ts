import type { Clock } from './clock.js';
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
  readonly newLeaseId: () => string;
  readonly lastToken?: number;
}

export interface TickResult {
  /** Deadlines processed in this tick. */
  readonly processed: number;
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

  /** Applies one command; waiters freed by it are granted before it returns. */
  run<T>(command: (machine: this) => T): T {
    try {
      return command(this);
    } finally {
      this.locks.flush();
    }
  }

  /** Processes at most `budget` due deadlines (expiries, wait timeouts, lock-delays). */
  tick(budget: number = this.ctx.limits.expiriesPerTickMax): TickResult {
    const now = this.ctx.clock.monoMs();
    let processed = 0;
    while (processed < budget) {
      const item = this.ctx.deadlines.popDue(now);
      if (item === undefined) break;
      processed += 1;
      this.run(() => this.fire(item));
    }
    const next = this.ctx.deadlines.peek();
    return { processed, more: next !== undefined && next.deadlineMs <= now };
  }

  /** Monotonic time of the earliest deadline, if any (for the expiry loop's timer). */
  nextDeadlineMs(): number | undefined {
    return this.ctx.deadlines.peek()?.deadlineMs;
  }

  private fire(item: DeadlineItem): void {
    switch (item.type) {
      case 'lease':
        if (!item.ended) this.leases.expire(item);
        return;
      case 'waiter':
        this.locks.timeout(item);
        return;
      case 'lock-delay':
        this.locks.endDelay(item);
        return;
    }
  }

  private deliver(event: DomainEvent): void {
    for (const sink of this.sinks) sink(event);
  }
}
