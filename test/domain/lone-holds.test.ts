// A lone hold (one write hold of a limit-1 name, nothing else) keeps no Lock object:
// its name's entry is the hold's row. Whatever a client sees must be the same as for a
// name with a Lock, and the name gets its Lock exactly when something else arrives.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acquire, advance, build, eventsOf, expectError, grantLease, grantOf, wait, type Harness } from '../helpers/machine.js';

/** True when `name` is kept as a lone hold (no Lock object). */
const isLone = (h: Harness, name: string): boolean => typeof h.machine.locks.byName.entry(name) === 'number';

describe('lone holds', () => {
  test('a write hold on a fresh limit-1 name is lone; a read, a semaphore or a multi-lock is not', () => {
    const h = build();
    acquire(h, { name: 'plain', ttlMs: 1_000 });
    acquire(h, { name: 'shared-lease', leaseId: grantLease(h, 1_000) });
    acquire(h, { name: 'read', ttlMs: 1_000, mode: 'read' });
    acquire(h, { name: 'sem', ttlMs: 1_000, limit: 2 });
    h.machine.run((m) => m.locks.acquireAll({ locks: [{ name: 'multi-a' }, { name: 'multi-b' }], ttlMs: 1_000 }));
    assert.deepEqual(
      ['plain', 'shared-lease', 'read', 'sem', 'multi-a', 'multi-b'].map((name) => isLone(h, name)),
      [true, true, false, false, false, false],
    );
  });

  test('reads show a lone hold as they show the same hold with its Lock, and make none', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 2_000, owner: 'w', maxHoldMs: 5_000, priority: 3 });
    const lone = { view: h.machine.locks.inspect('x'), page: h.machine.locks.list('', undefined, 10), queue: h.machine.locks.waiters('x', 0, 10) };
    const refused = expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000 })), 'lock_held');
    assert.equal(h.machine.locks.check('x', grant.token), true);
    assert.ok(isLone(h, 'x'), 'reads, a refused try-lock and a check leave it lone');
    // The same hold with its Lock: what the reads show must not change.
    h.machine.locks.byName.get('x');
    assert.equal(isLone(h, 'x'), false);
    assert.deepEqual(h.machine.locks.inspect('x'), lone.view);
    assert.deepEqual(h.machine.locks.list('', undefined, 10), lone.page);
    assert.deepEqual(h.machine.locks.waiters('x', 0, 10), lone.queue);
    const again = expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000 })), 'lock_held');
    assert.deepEqual(again.details, refused.details);
    assert.equal(refused.details['limit'], 1);
  });

  test('a lone name refuses another limit, and a read, as a Lock of limit 1 does', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 1_000 });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, limit: 2 })), 'limit_mismatch', { limit: 1 });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, mode: 'read' })), 'lock_held');
    assert.ok(isLone(h, 'x'));
  });

  test('a waiter gives the name its Lock; the queue then works as for any name', () => {
    const h = build();
    const first = acquire(h, { name: 'x', ttlMs: 1_000, owner: 'a' });
    const waiting = wait(h, { name: 'x', ttlMs: 1_000, owner: 'b', waitMs: 5_000 });
    assert.equal(isLone(h, 'x'), false);
    assert.equal(h.machine.locks.byName.get('x')!.waiterCount, 1);
    h.machine.run((m) => m.locks.release('x', first.token));
    const second = grantOf(waiting);
    assert.ok(second.token > first.token);
    // Granted through the queue, the name keeps its Lock until it is idle.
    assert.equal(isLone(h, 'x'), false);
    h.machine.run((m) => m.locks.release('x', second.token));
    assert.equal(h.machine.locks.byName.has('x'), false);
    acquire(h, { name: 'x', ttlMs: 1_000 });
    assert.ok(isLone(h, 'x'), 'idle, then taken again: lone again');
  });

  test('release and expiry of a lone hold leave no name behind; an expiry with a lock-delay leaves the delay', () => {
    const h = build();
    const released = acquire(h, { name: 'r', ttlMs: 1_000 });
    acquire(h, { name: 'e', ttlMs: 1_000 });
    acquire(h, { name: 'd', ttlMs: 1_000, lockDelayMs: 500 });
    h.machine.run((m) => m.locks.release('r', released.token));
    assert.equal(h.machine.locks.byName.has('r'), false);
    advance(h, 1_000);
    assert.equal(h.machine.locks.byName.has('e'), false);
    assert.equal(isLone(h, 'd'), false, 'the delay needs a Lock');
    assert.deepEqual(eventsOf(h, 'lock_delay_started').map((event) => [event.name, event.delayMs]), [['d', 500]]);
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'd', ttlMs: 1_000 })), 'lock_held', { retryAfterMs: 500 });
    advance(h, 500);
    assert.equal(h.machine.locks.byName.has('d'), false);
    assert.deepEqual(eventsOf(h, 'lock_released').map((event) => [event.name, event.reason]), [['r', 'released'], ['e', 'expired'], ['d', 'expired']]);
    assert.equal(h.machine.locks.orderedNameCount, 0, 'the ordered index lets go of them too');
  });

  test('locksMax counts lone names', () => {
    const h = build({ limits: { locksMax: 2 } });
    acquire(h, { name: 'a', ttlMs: 1_000 });
    acquire(h, { name: 'b', ttlMs: 1_000 });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'c', ttlMs: 1_000 })), 'limit_exceeded', { limit: 'locksMax' });
    assert.equal(h.machine.leases.byId.size, 2, 'the refused acquire made no lease');
  });
});
