import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AcquireRequest } from '../../src/domain/locks.js';
import { acquire, advance, build, errorOf, eventsOf, expectError, grantLease, grantOf, wait, type Harness, type Waiting } from '../helpers/machine.js';

/** Owners of the queue of `name`, in grant order. */
function queue(h: Harness, name: string): string[] {
  return h.machine.run((m) => m.locks.waiters(name, 0, 100)).waiters.map((waiter) => waiter.owner);
}

const waitFor = (h: Harness, owner: string, more: Partial<AcquireRequest> = {}): Waiting =>
  wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000, owner, ...more });

describe('lock priority: queue order', () => {
  test('higher priorities queue first, FIFO within one priority; the waiters page shows each priority', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 10_000 });
    waitFor(h, 'a0');
    waitFor(h, 'b5', { priority: 5 });
    waitFor(h, 'c0');
    waitFor(h, 'd9', { priority: 9 });
    waitFor(h, 'e5', { priority: 5 });
    waitFor(h, 'f0', { priority: 0 });
    assert.deepEqual(queue(h, 'x'), ['d9', 'b5', 'e5', 'a0', 'c0', 'f0']);
    const page = h.machine.run((m) => m.locks.waiters('x', 0, 100));
    assert.deepEqual(page.waiters.map((waiter) => [waiter.position, waiter.priority]), [[1, 9], [2, 5], [3, 5], [4, 0], [5, 0], [6, 0]]);
  });

  test('waiters are granted in that order as permits free up, and each hold keeps its priority', () => {
    const h = build();
    const first = acquire(h, { name: 'x', ttlMs: 10_000 });
    const low = waitFor(h, 'low', { priority: 1 });
    const high = waitFor(h, 'high', { priority: 2 });
    h.machine.run((m) => m.locks.release('x', first.token));
    assert.equal(low.outcomes.length, 0);
    const granted = grantOf(high);
    assert.equal(granted.priority, 2);
    assert.deepEqual(h.machine.run((m) => m.locks.inspect('x')).holders.map((holder) => holder.priority), [2]);
    h.machine.run((m) => m.locks.release('x', granted.token));
    assert.equal(grantOf(low).priority, 1);
    assert.equal(eventsOf(h, 'lock_acquired').at(-1)!.priority, 1);
  });

  test('an acquire that would stand first and fits is granted at once, even with lower waiters queued', () => {
    const h = build();
    acquire(h, { name: 'rw', ttlMs: 10_000, mode: 'read' });
    const writer = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, owner: 'writer' });
    // A plain reader waits behind the writer (FIFO across modes) ...
    const reader = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, mode: 'read', owner: 'reader' });
    // ... a reader of higher priority stands before it, and fits beside the readers.
    const urgent = acquire(h, { name: 'rw', ttlMs: 10_000, mode: 'read', priority: 3 });
    assert.equal(urgent.mode, 'read');
    assert.deepEqual(queue(h, 'rw'), ['writer', 'reader']);
    assert.equal(writer.outcomes.length + reader.outcomes.length, 0);
    // A try-lock of equal priority to the head does not overtake it.
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'rw', ttlMs: 10_000, mode: 'read' })), 'lock_held');
  });

  test('readers and writers keep FIFO within the priority order', () => {
    const h = build();
    const holder = acquire(h, { name: 'rw', ttlMs: 10_000 });
    const r1 = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, mode: 'read', owner: 'r1', priority: 4 });
    const w = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, owner: 'w', priority: 4 });
    const r2 = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, mode: 'read', owner: 'r2', priority: 4 });
    const r0 = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, mode: 'read', owner: 'r0' });
    const r9 = wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, mode: 'read', owner: 'r9', priority: 9 });
    assert.deepEqual(queue(h, 'rw'), ['r9', 'r1', 'w', 'r2', 'r0']);
    h.machine.run((m) => m.locks.release('rw', holder.token));
    // The two readers at the head share it; the writer stops the readers behind it.
    assert.equal(grantOf(r9).mode, 'read');
    assert.equal(grantOf(r1).mode, 'read');
    assert.equal(w.outcomes.length + r2.outcomes.length + r0.outcomes.length, 0);
  });

  test('priority out of range is invalid_request naming it and changes nothing', () => {
    const h = build({ limits: { priorityMax: 10 } });
    for (const priority of [-1, 11, 1.5]) {
      expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, priority })), 'invalid_request', { field: 'priority' });
    }
    assert.equal(h.machine.locks.byName.size, 0);
    assert.equal(acquire(h, { name: 'x', ttlMs: 1_000, priority: 10 }).priority, 10);
    assert.equal('priority' in acquire(h, { name: 'y', ttlMs: 1_000 }), false, 'priority 0 adds no field');
  });
});

describe('lock priority: yield requests', () => {
  test('a lower-priority holder is asked to yield and its hold ends at the exact millisecond, reason preempted', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000, owner: 'low' });
    const wall = h.clock.wallMs();
    const high = waitFor(h, 'high', { priority: 5, yieldGraceMs: 1_000 });
    const [asked] = eventsOf(h, 'yield_requested');
    assert.deepEqual(asked, {
      type: 'yield_requested', name: 'x', token: low.token, owner: 'low', leaseId: low.leaseId, graceMs: 1_000,
      requestedAtWallMs: wall, yieldByWallMs: wall + 1_000, priority: 0, askedBy: 5,
    });
    assert.equal(h.machine.locks.yieldBy('x', low.token), wall + 1_000);
    assert.equal(h.machine.run((m) => m.locks.inspect('x')).holders[0]!.yieldBy, wall + 1_000);
    advance(h, 999);
    assert.equal(h.machine.locks.check('x', low.token), true, 'held 1 ms before the grace ends');
    assert.equal(high.outcomes.length, 0);
    advance(h, 1);
    assert.equal(h.machine.locks.check('x', low.token), false);
    assert.equal(grantOf(high).owner, 'high');
    assert.deepEqual(eventsOf(h, 'lock_released').map((e) => e.reason), ['preempted']);
    expectError(() => h.machine.run((m) => m.locks.release('x', low.token)), 'not_holder', { reason: 'preempted' });
    // The hold's own lease went with it.
    expectError(() => h.machine.run((m) => m.leases.keepalive(low.leaseId)), 'lease_not_found');
  });

  test('grace 0: the hold ends at the first tick, without the clock moving', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000 });
    const high = waitFor(h, 'high', { priority: 1, yieldGraceMs: 0 });
    advance(h, 0);
    assert.equal(h.machine.locks.check('x', low.token), false);
    grantOf(high);
  });

  test('released before the grace ends: nothing more happens, and the waiter gets the lock at the release', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000 });
    const high = waitFor(h, 'high', { priority: 5, yieldGraceMs: 1_000 });
    advance(h, 400);
    h.machine.run((m) => m.locks.release('x', low.token));
    grantOf(high);
    assert.equal(h.machine.nextDeadlineMs(), h.clock.monoMs() + 10_000, 'only the new hold lease is left in the heap');
    advance(h, 5_000);
    assert.deepEqual(eventsOf(h, 'lock_released').map((e) => e.reason), ['released']);
  });

  test('a hold asked twice keeps the first deadline, and only one request is made', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000 });
    const wall = h.clock.wallMs();
    waitFor(h, 'slow', { priority: 2, yieldGraceMs: 5_000 });
    advance(h, 100);
    waitFor(h, 'fast', { priority: 3, yieldGraceMs: 10 });
    assert.equal(eventsOf(h, 'yield_requested').length, 1);
    assert.equal(h.machine.locks.yieldBy('x', low.token), wall + 5_000);
    advance(h, 4_899);
    assert.equal(h.machine.locks.check('x', low.token), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('x', low.token), false);
  });

  test('the request stands when the waiter that asked leaves: the hold still ends, the next waiter gets it', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000 });
    const asker = waitFor(h, 'asker', { priority: 5, yieldGraceMs: 1_000, waitMs: 300 });
    const patient = waitFor(h, 'patient');
    advance(h, 300);
    assert.equal(errorOf(asker).code, 'lock_held', 'the asker timed out');
    assert.equal(h.machine.locks.yieldBy('x', low.token) !== undefined, true, 'the request is still pending');
    advance(h, 700);
    assert.equal(h.machine.locks.check('x', low.token), false);
    assert.equal(grantOf(patient).owner, 'patient');
  });

  test('holds of equal or higher priority are never asked; nor are any when lower ones alone cannot make room', () => {
    const h = build();
    const id = grantLease(h, 60_000);
    acquire(h, { name: 's', leaseId: id, limit: 2, priority: 5 });
    acquire(h, { name: 's', leaseId: id, priority: 6 });
    wait(h, { name: 's', ttlMs: 10_000, waitMs: 60_000, priority: 5, yieldGraceMs: 100 });
    assert.equal(eventsOf(h, 'yield_requested').length, 0, 'a priority-5 waiter asks no priority-5 hold');
    acquire(h, { name: 'x', leaseId: id, priority: 3 });
    wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000, priority: 3, yieldGraceMs: 100 });
    assert.equal(eventsOf(h, 'yield_requested').length, 0);
    // A writer needs all three readers gone; one of them has its priority.
    for (const priority of [0, 1, 4]) acquire(h, { name: 'rw', leaseId: id, mode: 'read', priority });
    wait(h, { name: 'rw', ttlMs: 10_000, waitMs: 60_000, priority: 4, yieldGraceMs: 100 });
    assert.equal(eventsOf(h, 'yield_requested').length, 0);
  });

  test('the fewest holds that make room are asked: lowest priority first, newest first within one', () => {
    const h = build();
    const id = grantLease(h, 60_000);
    const a = acquire(h, { name: 's', leaseId: id, limit: 4, priority: 1 });
    const b = acquire(h, { name: 's', leaseId: id, priority: 0 });
    const c = acquire(h, { name: 's', leaseId: id, priority: 0 });
    const d = acquire(h, { name: 's', leaseId: id, priority: 2 });
    wait(h, { name: 's', ttlMs: 10_000, waitMs: 60_000, priority: 3, yieldGraceMs: 100 });
    assert.deepEqual(eventsOf(h, 'yield_requested').map((e) => e.token), [c.token]);
    advance(h, 100);
    const tokens = h.machine.run((m) => m.locks.inspect('s')).holders.map((holder) => holder.token);
    assert.deepEqual([a, b, d].map((hold) => tokens.includes(hold.token)), [true, true, true]);
    assert.equal(tokens.includes(c.token), false);
  });

  test('readers asked by a writer all yield; a writer asked by a reader yields', () => {
    const h = build();
    const readers = [acquire(h, { name: 'rw', ttlMs: 60_000, mode: 'read' }), acquire(h, { name: 'rw', ttlMs: 60_000, mode: 'read' })];
    const writer = wait(h, { name: 'rw', ttlMs: 60_000, waitMs: 60_000, priority: 1, yieldGraceMs: 50 });
    assert.deepEqual(eventsOf(h, 'yield_requested').map((e) => [e.token, e.mode]), readers.map((r) => [r.token, 'read']).reverse(), 'newest first');
    advance(h, 50);
    const held = grantOf(writer);
    const reader = wait(h, { name: 'rw', ttlMs: 60_000, waitMs: 60_000, mode: 'read', priority: 2, yieldGraceMs: 50 });
    assert.equal(eventsOf(h, 'yield_requested').at(-1)!.token, held.token);
    advance(h, 50);
    assert.equal(grantOf(reader).mode, 'read');
  });

  test('a hold on a shared lease ends alone when preempted; the lease lives on', () => {
    const h = build();
    const id = grantLease(h, 60_000);
    const low = acquire(h, { name: 'x', leaseId: id });
    const other = acquire(h, { name: 'y', leaseId: id });
    waitFor(h, 'high', { priority: 1, yieldGraceMs: 10 });
    advance(h, 10);
    assert.equal(h.machine.locks.check('x', low.token), false);
    assert.equal(h.machine.locks.check('y', other.token), true);
    assert.equal(h.machine.leases.live(id).holdCount, 1);
  });

  test('found past its yield deadline on access before the expiry loop ran: ended on the spot', () => {
    const h = build();
    const low = acquire(h, { name: 'x', ttlMs: 60_000 });
    waitFor(h, 'high', { priority: 1, yieldGraceMs: 10 });
    h.clock.advance(10);
    expectError(() => h.machine.run((m) => m.locks.release('x', low.token)), 'not_holder', { reason: 'preempted' });
  });

  test('yieldGraceMs: out of range, without a priority or without a wait is invalid_request naming it', () => {
    const h = build({ limits: { yieldGraceMsMax: 1_000 } });
    acquire(h, { name: 'x', ttlMs: 10_000 });
    const bad: Partial<AcquireRequest>[] = [
      { priority: 1, waitMs: 100, yieldGraceMs: 1_001 },
      { priority: 1, waitMs: 100, yieldGraceMs: -1 },
      { waitMs: 100, yieldGraceMs: 10 },
      { priority: 1, yieldGraceMs: 10 },
    ];
    for (const more of bad) {
      expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, ...more })), 'invalid_request', { field: 'yieldGraceMs' });
    }
    assert.equal(h.machine.locks.waiterCount, 0);
    assert.equal(eventsOf(h, 'yield_requested').length, 0);
  });

  test('restore: the grace left by the wall clock counts from the restart; none left ends at the first tick; never more than asked', () => {
    const h = build();
    const r = h.machine.restorer();
    const lease = r.lease('L', 600_000, 'plain');
    const wall = h.clock.wallMs();
    const hold = (name: string, token: number): void =>
      r.hold({ name, mode: 'write', token, owner: '', lease, acquiredAtWallMs: wall - 10_000, lockDelayMs: 0, priority: 2 }, 1);
    hold('left', 1);
    hold('gone', 2);
    hold('future', 3);
    r.yieldRequest('left', 1, 1_000, wall - 400);
    r.yieldRequest('gone', 2, 1_000, wall - 5_000);
    r.yieldRequest('future', 3, 1_000, wall + 9_000);
    r.yieldRequest('missing', 4, 1_000, wall);
    assert.equal(h.machine.run((m) => m.locks.inspect('left')).holders[0]!.priority, 2);
    advance(h, 0);
    assert.equal(h.machine.locks.check('gone', 2), false, 'past its deadline during the downtime: ended on recovery');
    advance(h, 599);
    assert.equal(h.machine.locks.check('left', 1), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('left', 1), false, 'ended at requestedAt + graceMs');
    advance(h, 399);
    assert.equal(h.machine.locks.check('future', 3), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('future', 3), false, 'a wall clock stepped back gives at most graceMs');
  });
});
