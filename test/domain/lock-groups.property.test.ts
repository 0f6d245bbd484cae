/**
 * Random interleavings of single (some with a priority) and multi-lock acquires, releases (one by one and
 * together), cancels, revokes and expiries, checking after every step: a group's holds
 * exist all or none until one of them is released on its own, a waiting group is
 * queued on all its names or none, limits hold, and nothing that could be granted is
 * left waiting (no deadlock). At the end, freeing everything drains every queue.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LockringError, type ErrorCode } from '../../src/domain/errors.js';
import type { Lock, WaiterGroup } from '../../src/domain/model.js';
import { build, type Harness } from '../helpers/machine.js';
import { lockDelay, lockReaders } from '../../src/domain/lock-extra.js';

const names = ['a', 'b', 'c', 'd'] as const;
const readersMax = 2;

type Item = { readonly name: string; readonly mode: 'read' | 'write' | undefined; readonly limit: number | undefined };
type Command =
  | { readonly t: 'lease' }
  | { readonly t: 'single'; readonly item: Item; readonly lease: number | null; readonly waitMs: number; readonly lockDelayMs: number; readonly priority: number | undefined }
  | { readonly t: 'multi'; readonly items: Item[]; readonly lease: number | null; readonly waitMs: number }
  | { readonly t: 'release'; readonly hold: number }
  | { readonly t: 'releaseAll'; readonly group: number }
  | { readonly t: 'cancel'; readonly group: number }
  | { readonly t: 'revoke'; readonly lease: number }
  | { readonly t: 'advance'; readonly ms: number };

const itemArb: fc.Arbitrary<Item> = fc.record({
  name: fc.constantFrom(...names),
  mode: fc.constantFrom(undefined, undefined, 'read' as const),
  limit: fc.constantFrom(undefined, undefined, 1, 2),
});
const index = fc.nat({ max: 12 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constant({ t: 'lease' as const }), weight: 1 },
  {
    arbitrary: fc.record({
      t: fc.constant('single' as const), item: itemArb, lease: fc.option(index, { nil: null }),
      waitMs: fc.constantFrom(0, 100, 1_000), lockDelayMs: fc.constantFrom(0, 0, 80),
      // Queued ahead of lower priorities (multi-locks rank 0): the queues must still agree on one order.
      priority: fc.constantFrom(undefined, undefined, 0, 3, 7),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('multi' as const),
      items: fc.uniqueArray(itemArb, { minLength: 1, maxLength: 3, selector: (item) => item.name }),
      lease: fc.option(index, { nil: null }),
      waitMs: fc.constantFrom(0, 100, 1_000, 1_000),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ t: fc.constant('release' as const), hold: index }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('releaseAll' as const), group: index }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('cancel' as const), group: index }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('revoke' as const), lease: index }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(1, 50, 100, 300, 1_000) }), weight: 4 },
);

const expected: ErrorCode[] = ['lock_held', 'limit_mismatch', 'mode_mismatch', 'lease_not_found', 'limit_exceeded', 'invalid_request', 'not_holder'];

interface GrantedGroup {
  readonly holds: { name: string; token: number }[];
  /** One of its holds was released on its own: from then on the rest may stand alone. */
  split: boolean;
}

class Simulation {
  readonly h: Harness = build({
    slotIds: true,
    limits: { leasesMax: 10, locksMax: 4, holdsMax: 8, waitersPerLockMax: 4, waitersMax: 8, readersPerLockMax: readersMax, namesPerAcquireMax: 3 },
  });
  readonly leaseIds: string[] = [];
  readonly holds: { name: string; token: number; group: GrantedGroup | null }[] = [];
  readonly granted: GrantedGroup[] = [];
  readonly waiting: WaiterGroup[] = [];
  readonly seen = { groupNow: 0, groupLater: 0, groupTimeout: 0, drained: 0 };

  apply(command: Command): void {
    try {
      this.dispatch(command);
    } catch (error) {
      if (!(error instanceof LockringError)) throw error;
      assert.ok(expected.includes(error.code), `${command.t} failed with ${error.code}: ${error.message}`);
    }
    this.check();
  }

  private lease(i: number | null): { ttlMs: number } | { leaseId: string } {
    if (i === null || this.leaseIds.length === 0) return { ttlMs: 400 };
    return { leaseId: this.leaseIds[i % this.leaseIds.length]! };
  }

  private dispatch(command: Command): void {
    const { machine } = this.h;
    switch (command.t) {
      case 'lease':
        this.leaseIds.push(machine.run((m) => m.leases.grant(600).id));
        return;
      case 'single': {
        const { item } = command;
        const result = machine.run((m) => m.locks.acquire({ ...item, ...this.lease(command.lease), waitMs: command.waitMs, lockDelayMs: command.lockDelayMs, priority: command.priority }));
        if ('granted' in result) this.holds.push({ name: item.name, token: result.granted.token, group: null });
        else result.waiter.onSettle = (outcome) => {
          if (outcome.ok) this.holds.push({ name: item.name, token: outcome.grant.token, group: null });
        };
        return;
      }
      case 'multi': {
        const result = machine.run((m) => m.locks.acquireAll({ locks: command.items, ...this.lease(command.lease), waitMs: command.waitMs }));
        if ('granted' in result) {
          this.seen.groupNow += 1;
          this.track(result.granted.grants);
          return;
        }
        const group = result.group;
        this.waiting.push(group);
        group.onSettle = (outcome) => {
          this.waiting.splice(this.waiting.indexOf(group), 1);
          if (outcome.ok) {
            this.seen.groupLater += 1;
            this.track(outcome.granted.grants);
          } else if (outcome.error.code === 'lock_held') {
            this.seen.groupTimeout += 1;
          }
        };
        return;
      }
      case 'release': {
        const hold = this.holds[command.hold % Math.max(1, this.holds.length)];
        if (hold === undefined) return;
        if (hold.group !== null) hold.group.split = true;
        machine.run((m) => m.locks.release(hold.name, hold.token));
        return;
      }
      case 'releaseAll': {
        const group = this.granted[command.group % Math.max(1, this.granted.length)];
        if (group === undefined) return;
        machine.run((m) => m.locks.releaseAll(group.holds));
        return;
      }
      case 'cancel': {
        const group = this.waiting[command.group % Math.max(1, this.waiting.length)];
        if (group === undefined) return;
        this.waiting.splice(this.waiting.indexOf(group), 1);
        machine.run((m) => m.locks.cancelAll(group));
        return;
      }
      case 'revoke': {
        const id = this.leaseIds[command.lease % Math.max(1, this.leaseIds.length)];
        if (id !== undefined) machine.run((m) => m.leases.revoke(id));
        return;
      }
      case 'advance':
        this.h.clock.advance(command.ms);
        machine.tick();
        return;
    }
  }

  private track(grants: readonly { name: string; token: number }[]): void {
    const group: GrantedGroup = { holds: grants.map((g) => ({ name: g.name, token: g.token })), split: false };
    this.granted.push(group);
    for (const hold of group.holds) this.holds.push({ ...hold, group });
  }

  private held(name: string, token: number): boolean {
    return this.h.machine.locks.holderOf(name, token) !== undefined;
  }

  check(): void {
    const locks = this.h.machine.locks;
    for (const group of this.granted) {
      const held = group.holds.filter((hold) => this.held(hold.name, hold.token)).length;
      if (!group.split) assert.ok(held === 0 || held === group.holds.length, `a group holds ${held} of its ${group.holds.length} names`);
    }
    for (const group of this.waiting) {
      const queued = group.members.filter((member) => member.queued).length;
      assert.equal(queued, group.members.length, 'a waiting group is queued on every name');
    }
    let anyBusy = false;
    for (const name of locks.byName.keys()) {
      const entry = locks.byName.entry(name)!;
      // A lone hold: one write hold of a limit-1 name, nobody waiting.
      if (typeof entry === 'number') {
        anyBusy = true;
        continue;
      }
      const lock = entry;
      // Readers share a limit-1 name up to readersPerLockMax; writers take a permit each.
      if (lockReaders(lock) === 0) assert.ok(lock.holderCount <= lock.limit, `${lock.name}: ${lock.holderCount} holders over limit ${lock.limit}`);
      assert.ok(lockReaders(lock) === 0 || lockReaders(lock) === lock.holderCount, `${lock.name}: readers beside a writer`);
      assert.ok(lockReaders(lock) <= readersMax);
      if (lock.holderCount > 0 || lockDelay(lock) !== null) anyBusy = true;
      this.checkHeadWaits(lock);
    }
    assert.ok(locks.waiterCount <= this.h.machine.limits.waitersMax);
    if (!anyBusy) assert.equal(locks.waiterCount, 0, 'nothing is held or delayed, yet waiters are left waiting');
  }

  /** After every command, a queue's head could not be granted now (else flush would have). */
  private checkHeadWaits(lock: Lock): void {
    const head = lock.waiterHead;
    if (head === null) return;
    const fits = (l: Lock, mode: 'read' | 'write') =>
      lockDelay(l) === null && (mode === 'write' ? l.holderCount < l.limit : l.holderCount === lockReaders(l) && lockReaders(l) < readersMax);
    const members = head.group === null ? [head] : head.group.members;
    const ready = members.every((member) => member.lock.waiterHead === member && fits(member.lock, member.mode));
    assert.ok(!ready, `the head of ${lock.name} could be granted but waits`);
  }

  /** Frees everything, again and again: the queues must drain by grants alone. */
  drain(): void {
    const { machine } = this.h;
    for (let round = 0; round < 20 && machine.locks.waiterCount > 0; round++) {
      const busy = [...machine.locks.byName.keys()].some((name) => {
        const entry = machine.locks.byName.entry(name)!;
        return typeof entry !== 'number' && lockDelay(entry) !== null;
      });
      if (busy) {
        this.h.clock.advance(80);
        machine.tick();
      }
      for (const id of [...machine.leases.byId.keys()]) {
        if (machine.leases.byId.has(id)) machine.run((m) => m.leases.revoke(id));
      }
      this.check();
      this.seen.drained += 1;
    }
    assert.equal(machine.locks.waiterCount, 0, 'the queues drained');
  }
}

describe('multi-lock property', () => {
  test('random interleavings never leave a partial group, pass a limit, or deadlock', () => {
    const totals = { groupNow: 0, groupLater: 0, groupTimeout: 0, drained: 0 };
    fc.assert(
      fc.property(fc.array(commandArb, { minLength: 10, maxLength: 120, size: 'max' }), (commands) => {
        const sim = new Simulation();
        for (const command of commands) sim.apply(command);
        sim.drain();
        for (const key of Object.keys(totals) as (keyof typeof totals)[]) totals[key] += sim.seen[key];
      }),
      { numRuns: 500 },
    );
    // A generator too weak to reach these would make the property say nothing.
    for (const [key, count] of Object.entries(totals)) assert.ok(count > 20, `${key} happened only ${count} times`);
  });
});
