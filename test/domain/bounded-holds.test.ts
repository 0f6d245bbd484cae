import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquire, advance, build, eventsOf, expectError, grantLease, grantOf, wait } from '../helpers/machine.js';

describe('bounded holds (maxHoldMs)', () => {
  test('the hold ends at exactly maxHoldMs, whatever the keepalives, with reason max_hold', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 1_000, maxHoldMs: 2_500 });
    assert.equal(grant.maxHoldMs, 2_500);
    for (let i = 0; i < 4; i++) {
      advance(h, 600);
      h.machine.run((m) => m.leases.keepalive(grant.leaseId));
    }
    advance(h, 2_499 - 2_400);
    assert.equal(h.machine.locks.check('x', grant.token), true, 'held 1 ms before the bound');
    advance(h, 1);
    assert.equal(h.machine.locks.check('x', grant.token), false);
    const released = eventsOf(h, 'lock_released');
    assert.deepEqual(released.map((e) => [e.reason, e.heldMs]), [['max_hold', 2_500]]);
    expectError(() => h.machine.run((m) => m.locks.release('x', grant.token)), 'not_holder', { reason: 'max_hold' });
    // The hold's own lease goes with it.
    expectError(() => h.machine.run((m) => m.leases.keepalive(grant.leaseId)), 'lease_not_found');
  });

  test('found past its bound on access before the expiry loop ran: ended on the spot', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 10_000, maxHoldMs: 100 });
    h.clock.advance(100);
    const next = acquire(h, { name: 'x', ttlMs: 10_000 });
    assert.ok(next.token > grant.token);
    expectError(() => h.machine.run((m) => m.locks.release('x', grant.token)), 'not_holder', { reason: 'max_hold' });
  });

  test('a hold on a shared lease ends alone; the lease and its other holds stay', () => {
    const h = build();
    const id = grantLease(h, 10_000);
    const bounded = acquire(h, { name: 'a', leaseId: id, maxHoldMs: 300 });
    const other = acquire(h, { name: 'b', leaseId: id });
    advance(h, 300);
    assert.equal(h.machine.locks.check('a', bounded.token), false);
    assert.equal(h.machine.locks.check('b', other.token), true);
    assert.equal(h.machine.leases.live(id).holdCount, 1);
  });

  test('the next waiter gets the lock at the bound', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 10_000, maxHoldMs: 500 });
    const next = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, maxHoldMs: 200 });
    advance(h, 500);
    const granted = grantOf(next);
    assert.equal(granted.maxHoldMs, 200, 'a waiter keeps its own bound, counted from its grant');
    advance(h, 199);
    assert.equal(h.machine.locks.check('x', granted.token), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('x', granted.token), false);
  });

  test('a release before the bound takes the bound out of the deadline heap', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 10_000, maxHoldMs: 500 });
    const before = h.machine.nextDeadlineMs();
    h.machine.run((m) => m.locks.release('x', grant.token));
    assert.notEqual(h.machine.nextDeadlineMs(), before);
    assert.equal(h.machine.nextDeadlineMs(), undefined);
  });

  test('maxHoldMs out of range is invalid_request naming it; an unbounded grant has no maxHoldMs', () => {
    const h = build({ limits: { maxHoldMsMax: 1_000 } });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, maxHoldMs: 0 })), 'invalid_request', { field: 'maxHoldMs' });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, maxHoldMs: 1_001 })), 'invalid_request', { field: 'maxHoldMs' });
    assert.equal('maxHoldMs' in acquire(h, { name: 'x', ttlMs: 1_000 }), false);
    assert.equal('maxHoldMs' in eventsOf(h, 'lock_acquired')[0]!, false);
  });

  test('restore: what is left by the wall clock counts from the restart; none left ends at the first tick; never more than maxHoldMs', () => {
    const h = build();
    const r = h.machine.restorer();
    const lease = r.lease('L', 60_000, 'plain');
    const wall = h.clock.wallMs();
    r.hold({ name: 'left', mode: 'write', token: 1, owner: '', lease, acquiredAtWallMs: wall - 400, lockDelayMs: 0 }, 1, 1_000);
    r.hold({ name: 'gone', mode: 'read', token: 2, owner: '', lease, acquiredAtWallMs: wall - 5_000, lockDelayMs: 0 }, 1, 1_000);
    r.hold({ name: 'future', mode: 'write', token: 3, owner: '', lease, acquiredAtWallMs: wall + 9_000, lockDelayMs: 0 }, 1, 1_000);
    advance(h, 0);
    assert.equal(h.machine.locks.check('gone', 2), false, 'past its bound during the downtime: ended on recovery');
    advance(h, 599);
    assert.equal(h.machine.locks.check('left', 1), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('left', 1), false, 'ended at acquiredAt + maxHoldMs');
    advance(h, 399);
    assert.equal(h.machine.locks.check('future', 3), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('future', 3), false, 'a wall clock stepped back gives at most maxHoldMs');
  });
});
