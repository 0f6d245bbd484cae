/**
 * Random command sequences against the state machine, checking its invariants after
 * every step: never more holders than the limit, tokens strictly increasing, every
 * hold on a live lease, waiters granted in FIFO order, no grant during a lock-delay,
 * lease deadlines exactly as a simple model says, and the counters consistent. Read
 * holds never share a name with a write hold and stay within readersPerLockMax.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LockringError, type ErrorCode } from '../../src/domain/errors.js';
import type { DomainEvent } from '../../src/domain/events.js';
import type { Lock, Waiter } from '../../src/domain/model.js';
import { build, type Harness } from '../helpers/machine.js';
import { noHold } from '../../src/domain/hold-table.js';
import { holderList, holderOf } from '../../src/domain/lock-holders.js';
import { lockDelay, lockHolderMap, lockReaders } from '../../src/domain/lock-extra.js';

const names = ['a', 'b', 'c'] as const;
const readersMax = 2;
const ttls = [100, 150, 300, 1_000] as const;

type Command =
  | { readonly t: 'grant' | 'session'; readonly ttl: number }
  | { readonly t: 'attach' | 'detach' | 'revoke'; readonly lease: number }
  | { readonly t: 'keepalive'; readonly lease: number; readonly ttl: number | undefined }
  | {
      readonly t: 'acquire';
      readonly name: string;
      readonly lease: number | null;
      readonly ttl: number;
      readonly waitMs: number;
      readonly limit: number | undefined;
      readonly lockDelayMs: number;
      readonly mode: 'read' | 'write' | undefined;
      readonly maxHoldMs: number | undefined;
      readonly priority: number | undefined;
      readonly yieldGraceMs: number | undefined;
    }
  | { readonly t: 'release'; readonly hold: number; readonly wrongName: boolean }
  | { readonly t: 'cancel'; readonly waiter: number }
  | { readonly t: 'advance'; readonly ms: number; readonly tick: 'full' | 'one' | 'none' }
  | { readonly t: 'query'; readonly kind: 'inspect' | 'list' | 'check'; readonly name: string; readonly hold: number };

const index = fc.nat({ max: 20 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constantFrom('grant' as const, 'session' as const), ttl: fc.constantFrom(...ttls) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constantFrom('attach' as const, 'detach' as const, 'revoke' as const), lease: index }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('keepalive' as const), lease: index, ttl: fc.option(fc.constantFrom(...ttls), { nil: undefined }) }), weight: 2 },
  {
    arbitrary: fc.record({
      t: fc.constant('acquire' as const),
      name: fc.constantFrom(...names),
      lease: fc.option(index, { nil: null }),
      ttl: fc.constantFrom(...ttls),
      waitMs: fc.constantFrom(0, 0, 50, 200, 1_000),
      limit: fc.constantFrom(undefined, undefined, 1, 2, 3),
      lockDelayMs: fc.constantFrom(0, 0, 120),
      mode: fc.constantFrom(undefined, undefined, 'write' as const, 'read' as const, 'read' as const),
      maxHoldMs: fc.constantFrom(undefined, undefined, undefined, 100, 250),
      priority: fc.constantFrom(undefined, 0, 1, 3, 3),
      // Only a waiting acquire with a priority may give one (else invalid_request).
      yieldGraceMs: fc.constantFrom(undefined, 0, 50, 80),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({ t: fc.constant('release' as const), hold: fc.nat({ max: 3 }), wrongName: fc.constantFrom(false, false, false, true) }),
    weight: 5,
  },
  { arbitrary: fc.record({ t: fc.constant('cancel' as const), waiter: index }), weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.constantFrom(1, 49, 50, 99, 100, 120, 250, 1_000),
      tick: fc.constantFrom('full' as const, 'full' as const, 'one' as const, 'none' as const),
    }),
    weight: 6,
  },
  {
    arbitrary: fc.record({ t: fc.constant('query' as const), kind: fc.constantFrom('inspect' as const, 'list' as const, 'check' as const), name: fc.constantFrom(...names), hold: fc.nat({ max: 3 }) }),
    weight: 2,
  },
);

/** Errors a command may legitimately end with; anything else fails the run. */
const expected: Record<Command['t'], ErrorCode[]> = {
  grant: ['limit_exceeded'],
  session: ['limit_exceeded'],
  attach: ['lease_not_found', 'invalid_request'],
  detach: [],
  revoke: ['lease_not_found'],
  keepalive: ['lease_not_found'],
  // invalid_request: mode read with a limit above 1.
  acquire: ['lock_held', 'limit_mismatch', 'mode_mismatch', 'lease_not_found', 'limit_exceeded', 'invalid_request'],
  release: ['not_holder'],
  cancel: [],
  advance: [],
  query: ['lock_not_found'],
};

interface TrackedWaiter {
  readonly waiter: Waiter;
  readonly name: string;
  readonly order: number;
  readonly deadlineMs: number;
  settled: number;
  readonly priority: number;
}

interface ModelLease {
  /** Monotonic deadline, or null while a socket keeps a session alive. */
  deadlineMs: number | null;
  ttlMs: number;
  readonly kind: string;
}

class Simulation {
  readonly h: Harness = build({
    slotIds: true,
    limits: { leasesMax: 12, locksMax: 2, holdsMax: 6, waitersPerLockMax: 3, waitersMax: 5, readersPerLockMax: readersMax },
  });
  readonly leaseIds: string[] = [];
  readonly holds: { name: string; token: number }[] = [];
  readonly waiters: TrackedWaiter[] = [];
  readonly leases = new Map<string, ModelLease>();
  /** Counts of what the run exercised, so a weak generator shows up as a failure. */
  readonly seen = { waiterGrants: 0, waiterErrors: 0, lockDelays: 0, lateExpiries: 0, releases: 0, readGrants: 0, maxHoldEnds: 0, preemptions: 0, loneHolds: 0 };
  private lastToken = 0;
  /** Monotonic yield deadline by token, for the holds asked to yield (the first request). */
  private readonly yieldDeadlines = new Map<number, number>();
  /** maxHoldMs by token, for the holds that asked for one. */
  private readonly bounds = new Map<number, number>();
  private waiterOrder = 0;

  constructor() {
    this.h.machine.subscribe((event) => this.onEvent(event));
  }

  get now(): number {
    return this.h.clock.monoMs();
  }

  apply(command: Command): void {
    try {
      this.dispatch(command);
    } catch (error) {
      if (!(error instanceof LockringError)) throw error;
      assert.ok(expected[command.t].includes(error.code), `${command.t} failed with ${error.code}: ${error.message}`);
    }
  }

  private dispatch(command: Command): void {
    const { machine } = this.h;
    const leaseId = (i: number) => this.leaseIds[i % Math.max(1, this.leaseIds.length)] ?? 'none';
    switch (command.t) {
      case 'grant':
      case 'session': {
        const lease = machine.run((m) => (command.t === 'grant' ? m.leases.grant(command.ttl) : m.leases.openSession(command.ttl)));
        this.leaseIds.push(lease.id);
        return;
      }
      case 'attach':
        return this.attach(leaseId(command.lease));
      case 'detach':
        return this.detach(leaseId(command.lease));
      case 'revoke':
        machine.run((m) => m.leases.revoke(leaseId(command.lease)));
        return;
      case 'keepalive':
        return this.keepalive(leaseId(command.lease), command.ttl);
      case 'acquire':
        return this.acquire(command, command.lease === null ? undefined : leaseId(command.lease));
      case 'release': {
        const hold = this.recentHold(command.hold);
        if (hold === undefined) return;
        const name = command.wrongName ? names[(names.indexOf(hold.name as never) + 1) % names.length]! : hold.name;
        const live = machine.locks.holderOf(name, hold.token);
        const bounded = live === undefined ? null : live.maxHold;
        const asked = live === undefined ? null : live.yieldRequest;
        const alive = live !== undefined && !machine.leases.isDead(live.lease) && (bounded === null || machine.deadlineOf(bounded) > this.now) &&
          (asked === null || machine.deadlineOf(asked) > this.now);
        let released = false;
        try {
          machine.run((m) => m.locks.release(name, hold.token));
          released = true;
        } finally {
          assert.equal(released, alive, released ? 'released a token that was not a live holder' : 'release failed for a live holder');
        }
        this.seen.releases += 1;
        return;
      }
      case 'cancel': {
        const tracked = this.waiters[command.waiter % Math.max(1, this.waiters.length)];
        if (tracked !== undefined) machine.run((m) => m.locks.cancel(tracked.waiter));
        return;
      }
      case 'advance':
        this.h.clock.advance(command.ms);
        if (command.tick === 'full') {
          while (machine.tick().more);
          this.checkAfterFullTick();
        } else if (command.tick === 'one') {
          machine.tick(1);
        }
        return;
      case 'query':
        return this.query(command);
    }
  }

  /** One of the last few holds (most are still held), `back` from the newest. */
  private recentHold(back: number): { name: string; token: number } | undefined {
    return this.holds[this.holds.length - 1 - (back % Math.max(1, this.holds.length))];
  }

  private attach(id: string): void {
    this.h.machine.run((m) => m.leases.attach(id));
    this.leases.get(id)!.deadlineMs = null;
  }

  private detach(id: string): void {
    const model = this.leases.get(id);
    this.h.machine.run((m) => m.leases.detach(id));
    if (model !== undefined && model.deadlineMs === null) model.deadlineMs = this.now + model.ttlMs;
  }

  private keepalive(id: string, ttl: number | undefined): void {
    const model = this.leases.get(id);
    const alive = model !== undefined && (model.deadlineMs === null || model.deadlineMs > this.now);
    try {
      this.h.machine.run((m) => m.leases.keepalive(id, ttl));
    } catch (error) {
      assert.ok(!alive, `keepalive of a live lease failed at ${this.now}`);
      throw error;
    }
    assert.ok(alive, `keepalive revived a dead lease at ${this.now}`);
    if (ttl !== undefined) model!.ttlMs = ttl;
    if (model!.deadlineMs !== null) model!.deadlineMs = this.now + model!.ttlMs;
  }

  private acquire(command: Extract<Command, { t: 'acquire' }>, leaseId: string | undefined): void {
    const request = {
      name: command.name,
      ...(leaseId === undefined ? { ttlMs: command.ttl } : { leaseId }),
      waitMs: command.waitMs,
      limit: command.limit,
      lockDelayMs: command.lockDelayMs,
      mode: command.mode,
      maxHoldMs: command.maxHoldMs,
      priority: command.priority,
      yieldGraceMs: command.yieldGraceMs,
    };
    const result = this.h.machine.run((m) => m.locks.acquire(request));
    if ('granted' in result) {
      this.holds.push({ name: result.granted.name, token: result.granted.token });
      return;
    }
    assert.ok(command.waitMs > 0, 'a try-lock was queued');
    const tracked: TrackedWaiter = {
      waiter: result.waiter, name: command.name, order: this.waiterOrder++,
      deadlineMs: this.now + command.waitMs, settled: 0, priority: command.priority ?? 0,
    };
    result.waiter.onSettle = (outcome) => {
      tracked.settled += 1;
      assert.equal(tracked.settled, 1, 'a waiter settled twice');
      assert.equal(tracked.waiter.queued, false, 'a settled waiter is still queued');
      if (!outcome.ok) {
        this.seen.waiterErrors += 1;
        return;
      }
      this.seen.waiterGrants += 1;
      assert.equal(outcome.grant.name, tracked.name);
      this.holds.push({ name: outcome.grant.name, token: outcome.grant.token });
      for (const other of this.waiters) {
        // FIFO within a priority; no lower priority is granted before a higher one.
        if (other.name === tracked.name && other.priority >= tracked.priority && (other.order < tracked.order || other.priority > tracked.priority)) {
          assert.equal(other.waiter.queued, false, `waiter ${tracked.order} granted before ${other.order} (priority, then FIFO)`);
        }
      }
    };
    this.waiters.push(tracked);
  }

  private query(command: Extract<Command, { t: 'query' }>): void {
    const { machine } = this.h;
    if (command.kind === 'inspect') {
      const view = machine.locks.inspect(command.name);
      const readers = view.holders.filter((holder) => holder.mode === 'read').length;
      assert.ok(readers === 0 ? view.holders.length <= view.limit : readers === view.holders.length && readers <= readersMax);
      for (const holder of view.holders) {
        const lease = machine.leases.byId.get(holder.leaseId);
        assert.ok(lease !== undefined && !machine.leases.isDead(lease), 'inspect shows a holder whose lease is dead');
      }
    } else if (command.kind === 'list') {
      const page = machine.locks.list('', undefined, 2);
      assert.ok(page.locks.length <= 2);
    } else {
      const hold = this.recentHold(command.hold);
      if (hold !== undefined) machine.locks.check(hold.name, hold.token);
    }
  }

  private onEvent(event: DomainEvent): void {
    switch (event.type) {
      case 'lock_acquired': {
        if (event.maxHoldMs !== undefined) this.bounds.set(event.token, event.maxHoldMs);
        assert.ok(event.token > this.lastToken, `token ${event.token} after ${this.lastToken}`);
        this.lastToken = event.token;
        // Read without making a lone hold's Lock: it has one write holder, limit 1, no delay.
        const entry = this.h.machine.locks.byName.entry(event.name)!;
        if (typeof entry === 'number') {
          assert.equal(event.limit, 1, 'a lone hold on a semaphore');
          assert.equal(event.mode, undefined, 'a lone hold in read mode');
          return;
        }
        const lock = entry;
        assert.equal(lockDelay(lock), null, 'granted during a lock-delay');
        if (event.mode === 'read') {
          this.seen.readGrants += 1;
          assert.equal(lock.limit, 1, 'a read hold on a semaphore');
          assert.equal(lockReaders(lock), lock.holderCount, 'a read hold beside a writer');
          assert.ok(lockReaders(lock) <= readersMax);
        } else {
          assert.ok(lock.holderCount - lockReaders(lock) <= lock.limit);
          assert.equal(lockReaders(lock), 0, 'a write hold beside readers');
        }
        return;
      }
      case 'lease_granted':
        this.leases.set(event.leaseId, {
          deadlineMs: event.kind === 'session' ? null : this.now + event.ttlMs,
          ttlMs: event.ttlMs,
          kind: event.kind,
        });
        return;
      case 'lease_ended': {
        const model = this.leases.get(event.leaseId);
        assert.ok(model !== undefined, 'an unknown lease ended');
        if (event.reason === 'expired') {
          assert.ok(model.deadlineMs !== null && model.deadlineMs <= this.now, `lease expired early at ${this.now}`);
          assert.equal(event.latenessMs, this.now - model.deadlineMs);
          if (event.latenessMs > 0) this.seen.lateExpiries += 1;
        }
        if (event.reason === 'released') assert.equal(model.kind, 'hold');
        this.leases.delete(event.leaseId);
        return;
      }
      case 'lock_delay_started':
        this.seen.lockDelays += 1;
        return;
      case 'yield_requested': {
        assert.equal(this.yieldDeadlines.has(event.token), false, 'a hold asked to yield twice');
        assert.ok(event.askedBy > event.priority, 'a hold asked by a waiter of no higher priority');
        this.yieldDeadlines.set(event.token, this.now + event.graceMs);
        return;
      }
      case 'lock_released':
        if (event.reason === 'preempted') {
          this.seen.preemptions += 1;
          const deadline = this.yieldDeadlines.get(event.token);
          assert.ok(deadline !== undefined && this.now >= deadline, `preempted at ${this.now}, deadline ${deadline}`);
        }
        if (event.reason === 'max_hold') {
          this.seen.maxHoldEnds += 1;
          const bound = this.bounds.get(event.token);
          assert.ok(bound !== undefined && event.heldMs >= bound, `max_hold after ${event.heldMs} ms, bound ${bound}`);
        }
        return;
      default:
        return;
    }
  }

  /** Structural invariants that hold after every command. */
  checkInvariants(): void {
    const { machine } = this.h;
    let holds = 0;
    let waiters = 0;
    for (const name of machine.locks.byName.keys()) {
      const entry = machine.locks.byName.entry(name)!;
      const table = machine.locks.holdTable;
      if (typeof entry === 'number') {
        // A lone hold: one write hold of a limit-1 name, no Lock; its row names the name.
        assert.equal(table.lockOrName(entry), name, 'a lone hold\'s row names another lock');
        assert.ok(table.holds(entry, table.token(entry)) && table.token(entry) > 0, 'a lone hold on a free row');
        assert.equal(table.mode(entry), 'write', 'a lone hold in read mode');
        assert.equal(table.lease(entry).ended, false, 'a lone hold on an ended lease');
        this.seen.loneHolds += 1;
        holds += 1;
        continue;
      }
      const lock = entry;
      assert.equal(lock.name, name);
      const readers = holderList(lock).filter((hold) => table.mode(hold) === 'read').length;
      assert.equal(lockReaders(lock), readers, `${name}: reader count`);
      assert.ok(readers === 0 || readers === lock.holderCount, `${name}: a writer beside readers`);
      assert.ok(readers <= readersMax, `${name}: ${readers} readers over ${readersMax}`);
      assert.ok(readers > 0 || lock.holderCount <= lock.limit, `${name}: ${lock.holderCount} holders over limit ${lock.limit}`);
      assert.ok(lock.holderCount > 0 || lock.waiterCount > 0 || lockDelay(lock) !== null, `${name} is idle but exists`);
      if (lock.waiterCount > 0) {
        // Never a grantable head: the first waiter does not fit beside the holders.
        const head = lock.waiterHead!;
        const headFits = head.mode === 'write' ? lock.holderCount < lock.limit : readers === lock.holderCount && readers < readersMax;
        assert.ok(lockDelay(lock) !== null || !headFits, `${name} has waiters and room for the first one`);
      }
      assert.equal(queueLength(lock), lock.waiterCount);
      for (let waiter = lock.waiterHead; waiter?.next; waiter = waiter.next) {
        const next = waiter.next;
        assert.ok(waiter.priority > next.priority || (waiter.priority === next.priority && waiter.id < next.id), `${name}: queue out of order`);
      }
      for (const hold of holderList(lock)) {
        const lease = table.lease(hold);
        assert.equal(table.lockOrName(hold), lock, 'a hold names another lock');
        assert.ok(table.holds(hold, table.token(hold)) && table.token(hold) > 0, 'a holder on a free row');
        assert.equal(lease.ended, false, 'a hold on an ended lease');
        assert.equal(machine.leases.byId.get(lease.id), lease, 'a hold on a lease not in the table');
        assert.ok(table.onLease(lease).includes(hold));
      }
      assert.equal(holderList(lock).length, lock.holderCount, 'a lock miscounts its holders');
      assert.ok(lockHolderMap(lock) === null || lock.holder === noHold, 'a lone holder beside a holder map');
      const extra = lock.extra;
      assert.ok(extra === null || extra.limit !== 1 || extra.holderMap !== null || extra.readers > 0 || extra.delay !== null || extra.waiterCount > 0,
        `${lock.name} carries an empty extra`);
      holds += lock.holderCount;
      waiters += lock.waiterCount;
    }
    assert.equal(machine.locks.holdCount, holds);
    assert.equal(machine.locks.waiterCount, waiters);
    let onLeases = 0;
    let leaseCount = 0;
    for (const lease of machine.leases.byId.values()) {
      // Slots are reused as leases end: an id finds its own lease only, by its slot.
      assert.equal(machine.leases.byId.get(lease.id), lease, 'the lease table does not find a lease by its id');
      assert.ok(lease.slot >= 0, 'a lease with a slot id kept beside the slots');
      leaseCount += 1;
      // The list through the holds: linked both ways, counted right, every hold still held.
      const table = machine.locks.holdTable;
      const list = table.onLease(lease);
      assert.equal(list.length, lease.holdCount, 'a lease miscounts its holds');
      assert.equal(lease.lastHold, list.at(-1) ?? noHold);
      assert.equal(lease.firstHold, list[0] ?? noHold);
      list.forEach((hold) => {
        assert.equal(table.lease(hold), lease);
        const lockOrName = table.lockOrName(hold);
        const found = typeof lockOrName === 'string' ? machine.locks.byName.entry(lockOrName) : holderOf(table, lockOrName, table.token(hold));
        assert.equal(found, hold, 'a lease lists a hold its lock does not');
      });
      onLeases += list.length;
    }
    assert.equal(onLeases, holds, 'holds on leases and holds on locks differ');
    assert.equal(machine.locks.holdTable.size, holds, 'the hold table keeps rows no lock holds');
    assert.equal(leaseCount, machine.leases.byId.size);
    for (const tracked of this.waiters) {
      if (tracked.waiter.queued) assert.equal(tracked.settled, 0);
    }
    for (const [id, model] of this.leases) {
      if (model.deadlineMs === null || model.deadlineMs > this.now) assert.ok(machine.leases.byId.has(id), `live lease ${id} is gone`);
    }
    assert.equal(machine.locks.orderedNameCount, machine.locks.byName.size, 'the listing order keeps exactly the names');
  }

  /** After every due deadline ran: nothing dead is left, nothing overdue is waiting. */
  private checkAfterFullTick(): void {
    const { machine } = this.h;
    assert.deepEqual(new Set(machine.leases.byId.keys()), new Set(this.leases.keys()));
    for (const lease of machine.leases.byId.values()) assert.equal(machine.leases.isDead(lease), false);
    for (const tracked of this.waiters) {
      if (tracked.deadlineMs <= this.now) assert.equal(tracked.waiter.queued, false, 'a waiter outlived its waitMs');
    }
    for (const name of machine.locks.byName.keys()) {
      // Read without making a lone hold's Lock, so that lone holds stay lone across commands.
      const entry = machine.locks.byName.entry(name)!;
      const delay = typeof entry === 'number' ? null : lockDelay(entry);
      assert.ok(delay === null || machine.deadlineOf(delay) > this.now, 'a lock-delay outlived its end');
      for (const hold of machine.locks.holdersNamed(name)) {
        const { maxHold, yieldRequest } = hold;
        assert.ok(maxHold === null || machine.deadlineOf(maxHold) > this.now, 'a bounded hold outlived its maxHoldMs');
        assert.ok(maxHold === null || machine.deadlineOf(maxHold) - maxHold.maxHoldMs - this.now === hold.acquiredAtWallMs - machine.clock.wallMs(),
          'a bounded hold ends maxHoldMs after its grant');
        assert.ok(yieldRequest === null || machine.deadlineOf(yieldRequest) > this.now, 'a hold outlived its yield deadline');
      }
      for (const hold of typeof entry === 'number' ? [entry] : holderList(entry)) {
        // The extra is made only for a hold that has something in it.
        const extra = machine.locks.holdTable.extra(hold);
        assert.ok(extra === null || extra.lockDelayMs > 0 || extra.priority > 0 || extra.principal !== undefined || extra.maxHold !== null || extra.yieldRequest !== null,
          'a hold carries an empty extra');
      }
    }
  }
}

function queueLength(lock: Lock): number {
  let count = 0;
  for (let waiter = lock.waiterHead; waiter !== null; waiter = waiter.next) {
    assert.equal(waiter.queued, true);
    assert.equal(waiter.lock, lock);
    count += 1;
  }
  return count;
}

describe('state machine properties', () => {
  test('random command sequences keep every invariant', () => {
    const seen = { waiterGrants: 0, waiterErrors: 0, lockDelays: 0, lateExpiries: 0, releases: 0, readGrants: 0, maxHoldEnds: 0, preemptions: 0, loneHolds: 0 };
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 10, maxLength: 150, size: 'max' }), (commands) => {
        const sim = new Simulation();
        for (const command of commands) {
          sim.apply(command);
          sim.checkInvariants();
        }
        for (const key of Object.keys(seen) as (keyof typeof seen)[]) seen[key] += sim.seen[key];
      }),
      { numRuns: 1000 },
    );
    // The generator must reach the interesting paths, or the properties prove little.
    // Floors sit about four standard deviations below what 16 seeds gave (per 1000 runs):
    // waiter errors 90-162 (mean 123), preemptions 34-63 (mean 46; a preemption needs a
    // queued waiter with a priority and a grace); the rest at least 140. A floor at one or
    // two deviations fails a sound generator one run in ten.
    const floors: Partial<Record<keyof typeof seen, number>> = { waiterErrors: 50, preemptions: 15 };
    for (const [key, count] of Object.entries(seen)) {
      const floor = floors[key as keyof typeof seen] ?? 100;
      assert.ok(count >= floor, `only ${count} ${key} in 1000 runs`);
    }
  });

  test('the same commands give the same events (the machine is deterministic)', () => {
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 60 }), (commands) => {
        const runs = [new Simulation(), new Simulation()];
        for (const sim of runs) for (const command of commands) sim.apply(command);
        assert.deepEqual(runs[0]!.h.events, runs[1]!.h.events);
      }),
      { numRuns: 100 },
    );
  });
});
