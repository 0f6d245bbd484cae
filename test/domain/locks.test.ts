import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EndedHolds } from '../../src/domain/ended-holds.js';
import {
  acquire,
  advance,
  build,
  byteCompare,
  errorOf,
  eventsOf,
  expectError,
  grantLease,
  grantOf,
  wait,
  type Harness,
} from '../helpers/machine.js';

const release = (h: Harness, name: string, token: number) => h.machine.run((m) => m.locks.release(name, token));
const tryLock = (h: Harness, name: string, extra: { limit?: number; owner?: string } = {}) =>
  h.machine.run((m) => m.locks.acquire({ name, ttlMs: 10_000, ...extra }));

describe('try-lock', () => {
  test('a free name is granted with the documented fields', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 2_000, owner: 'worker-1' });
    assert.deepEqual(grant, {
      name: 'x', token: 1, leaseId: grant.leaseId, owner: 'worker-1', limit: 1, mode: 'write', ttlMs: 2_000,
      expiresAt: h.clock.wallMs() + 2_000,
    });
    const view = h.machine.locks.inspect('x');
    assert.deepEqual(view, {
      name: 'x', limit: 1, waiters: 0,
      holders: [{ token: 1, owner: 'worker-1', mode: 'write', leaseId: grant.leaseId, acquiredAt: h.clock.wallMs(), expiresAt: h.clock.wallMs() + 2_000, priority: 0 }],
    });
  });

  test('a held name is lock_held with holders and limit, and nothing changes', () => {
    const h = build();
    const first = acquire(h, { name: 'x', ttlMs: 2_000, owner: 'a' });
    const leasesBefore = h.machine.leases.byId.size;
    const error = expectError(() => tryLock(h, 'x'), 'lock_held', {
      name: 'x',
      limit: 1,
      holders: [{ token: first.token, owner: 'a', mode: 'write', expiresAt: h.clock.wallMs() + 2_000 }],
    });
    assert.equal('retryAfterMs' in error.details, false);
    assert.equal(h.machine.leases.byId.size, leasesBefore, 'a refused try-lock leaves no lease behind');
    assert.equal(h.machine.lastToken, first.token, 'a refused try-lock takes no token');
  });

  test('waitMs 0 is a try-lock', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 2_000 });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 2_000, waitMs: 0 })), 'lock_held');
  });

  test('the same lease may hold several names', () => {
    const h = build();
    const id = grantLease(h);
    acquire(h, { name: 'x', leaseId: id });
    acquire(h, { name: 'y', leaseId: id });
    assert.equal(h.machine.leases.live(id).holdCount, 2);
  });

  test('exactly one of ttlMs and leaseId', () => {
    const h = build();
    const id = grantLease(h);
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x' })), 'invalid_request');
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, leaseId: id })), 'invalid_request');
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('an unknown or dead lease is lease_not_found', () => {
    const h = build();
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', leaseId: 'nope' })), 'lease_not_found');
    const id = grantLease(h, 1_000);
    h.clock.advance(1_000);
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', leaseId: id })), 'lease_not_found');
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('a holder whose lease deadline passed is not in the way, even before tick', () => {
    const h = build();
    const first = acquire(h, { name: 'x', ttlMs: 1_000 });
    h.clock.advance(1_000);
    const second = acquire(h, { name: 'x', ttlMs: 1_000 });
    assert.ok(second.token > first.token);
    assert.deepEqual(h.machine.locks.inspect('x').holders.map((x) => x.token), [second.token]);
  });
});

describe('request validation', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['limit 0', { limit: 0 }],
    ['limit 10001', { limit: 10_001 }],
    ['limit 1.5', { limit: 1.5 }],
    ['waitMs -1', { waitMs: -1 }],
    ['waitMs 300001', { waitMs: 300_001 }],
    ['waitMs NaN', { waitMs: Number.NaN }],
    ['waitMs 0.5', { waitMs: 0.5 }],
    ['lockDelayMs -1', { lockDelayMs: -1 }],
    ['lockDelayMs 60001', { lockDelayMs: 60_001 }],
    ['owner of 257 bytes', { owner: 'o'.repeat(257) }],
    ['owner with a control character', { owner: 'a\u0007' }],
    ['empty name', { name: '' }],
    ['name of 257 bytes', { name: 'é'.repeat(128) + 'x' }],
    ['name with a newline', { name: 'a\nb' }],
    ['name with a lone surrogate', { name: 'a\ud800' }],
  ];
  for (const [label, fields] of cases) {
    test(`${label} is invalid_request and changes nothing`, () => {
      const h = build();
      const id = grantLease(h);
      const eventsBefore = h.events.length;
      const error = expectError(
        () => h.machine.run((m) => m.locks.acquire({ name: 'x', leaseId: id, ...fields })),
        'invalid_request',
      );
      assert.equal(typeof error.details['field'], 'string');
      assert.equal(h.events.length, eventsBefore);
      assert.equal(h.machine.locks.byName.size, 0);
    });
  }

  test('the edges of every range are accepted', () => {
    const h = build();
    const id = grantLease(h);
    acquire(h, { name: 'a'.repeat(256), leaseId: id, limit: 10_000, waitMs: 300_000, lockDelayMs: 60_000, owner: 'o'.repeat(256) });
    acquire(h, { name: '\u{1F512}', leaseId: id, limit: 1, waitMs: 0, lockDelayMs: 0, owner: '' });
    acquire(h, { name: 'a/b c%2F', leaseId: id });
  });
});

describe('FIFO waiters', () => {
  test('waiters are granted in arrival order, one per release', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000 });
    const waiting = ['w1', 'w2', 'w3'].map((owner) => wait(h, { name: 'x', ttlMs: 10_000, owner, waitMs: 60_000 }));
    assert.equal(h.machine.locks.inspect('x').waiters, 3);
    let token = holder.token;
    for (let i = 0; i < 3; i++) {
      release(h, 'x', token);
      const grant = grantOf(waiting[i]!);
      assert.equal(grant.owner, `w${i + 1}`);
      assert.ok(grant.token > token);
      for (const later of waiting.slice(i + 1)) assert.equal(later.outcomes.length, 0);
      assert.equal(h.machine.locks.inspect('x').waiters, 2 - i);
      token = grant.token;
    }
  });

  test('a waiter granted with ttlMs gets a fresh lease counted from the grant', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000 });
    const waiting = wait(h, { name: 'x', ttlMs: 1_000, waitMs: 60_000 });
    const leasesBefore = h.machine.leases.byId.size;
    advance(h, 5_000);
    release(h, 'x', holder.token);
    const grant = grantOf(waiting);
    assert.equal(h.machine.leases.byId.size, leasesBefore, 'one hold lease ended, one began');
    assert.equal(grant.expiresAt, h.clock.wallMs() + 1_000);
    assert.equal(h.machine.leases.live(grant.leaseId).kind, 'hold');
    assert.equal(eventsOf(h, 'lock_acquired').at(-1)!.waitedMs, 5_000);
    advance(h, 999);
    assert.equal(h.machine.locks.check('x', grant.token), true);
    advance(h, 1);
    assert.equal(h.machine.locks.check('x', grant.token), false);
  });

  test('a new try-lock does not jump the queue', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', limit: 2, ttlMs: 10_000 });
    acquire(h, { name: 'x', ttlMs: 10_000 });
    const waiting = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    release(h, 'x', holder.token);
    grantOf(waiting);
    expectError(() => tryLock(h, 'x'), 'lock_held', { limit: 2 });
  });

  test('a waiter times out with lock_held at exactly waitMs, and leaves the queue', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000, owner: 'h' });
    const waiting = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 500 });
    advance(h, 499);
    assert.equal(waiting.outcomes.length, 0);
    advance(h, 1);
    const error = errorOf(waiting);
    assert.equal(error.code, 'lock_held');
    assert.deepEqual(error.details['holders'], [{ token: holder.token, owner: 'h', mode: 'write', expiresAt: h.clock.wallMs() + 9_500 }]);
    assert.equal(error.details['limit'], 1);
    assert.equal(waiting.waiter.queued, false);
    assert.equal(h.machine.locks.inspect('x').waiters, 0);
    assert.deepEqual(eventsOf(h, 'waiter_left').map((e) => e.reason), ['timeout']);
    release(h, 'x', holder.token);
    assert.equal(waiting.outcomes.length, 1, 'a timed-out waiter is never granted later');
  });

  test('a waiter whose lease expires gets lease_not_found and the next waiter moves up', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000 });
    const short = grantLease(h, 200);
    const first = wait(h, { name: 'x', leaseId: short, waitMs: 60_000 });
    const second = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    advance(h, 200);
    assert.equal(errorOf(first).code, 'lease_not_found');
    assert.equal(first.waiter.queued, false);
    assert.equal(h.machine.locks.inspect('x').waiters, 1);
    release(h, 'x', holder.token);
    grantOf(second);
  });

  test('a head waiter whose lease died unnoticed is skipped at grant time', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000 });
    const short = grantLease(h, 200);
    const first = wait(h, { name: 'x', leaseId: short, waitMs: 60_000 });
    const second = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    h.clock.advance(300);
    release(h, 'x', holder.token);
    assert.equal(errorOf(first).code, 'lease_not_found');
    grantOf(second);
  });

  test('cancel removes a waiter without settling it; the next one is granted', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 10_000 });
    const first = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    const second = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    h.machine.run((m) => m.locks.cancel(first.waiter));
    assert.equal(first.waiter.queued, false);
    assert.equal(h.machine.locks.inspect('x').waiters, 1);
    h.machine.run((m) => m.locks.cancel(first.waiter));
    assert.equal(h.machine.locks.inspect('x').waiters, 1, 'a second cancel is a no-op');
    release(h, 'x', holder.token);
    assert.equal(first.outcomes.length, 0);
    grantOf(second);
    assert.deepEqual(eventsOf(h, 'waiter_left').map((e) => e.reason), ['cancelled']);
    advance(h, 60_000);
    assert.equal(first.outcomes.length, 0, 'its timeout never fires');
  });

  test('cancelling the only waiter of a name whose holder is gone makes the name disappear', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    acquire(h, { name: 'x', leaseId: id, lockDelayMs: 1_000 });
    const waiting = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000 });
    advance(h, 1_000);
    h.machine.run((m) => m.locks.cancel(waiting.waiter));
    advance(h, 1_000);
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('waiting when the name is free is an immediate grant', () => {
    const h = build();
    const result = h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, waitMs: 5_000 }));
    assert.ok('granted' in result);
    assert.equal(h.machine.nextDeadlineMs(), h.clock.monoMs() + 1_000, 'no wait deadline was queued');
  });
});

describe('semaphores', () => {
  test('limit > 1 admits that many holders, then queues', () => {
    const h = build();
    const grants = [1, 2, 3].map((i) => acquire(h, { name: 's', ttlMs: 10_000, limit: 3, owner: `o${i}` }));
    assert.deepEqual(grants.map((g) => g.limit), [3, 3, 3]);
    const error = expectError(() => tryLock(h, 's'), 'lock_held', { limit: 3 });
    assert.deepEqual((error.details['holders'] as { token: number }[]).map((x) => x.token), grants.map((g) => g.token));
    const waiting = wait(h, { name: 's', ttlMs: 10_000, waitMs: 1_000 });
    release(h, 's', grants[1]!.token);
    assert.equal(grantOf(waiting).limit, 3);
    assert.equal(h.machine.locks.inspect('s').holders.length, 3);
  });

  test('limit omitted joins whatever the name has', () => {
    const h = build();
    acquire(h, { name: 's', ttlMs: 10_000, limit: 2 });
    assert.equal(acquire(h, { name: 's', ttlMs: 10_000 }).limit, 2);
  });

  test('limit_mismatch is checked before lock_held', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 10_000 });
    expectError(() => tryLock(h, 'x', { limit: 2 }), 'limit_mismatch', { name: 'x', limit: 1 });
    acquire(h, { name: 's', ttlMs: 10_000, limit: 2 });
    expectError(() => tryLock(h, 's', { limit: 1 }), 'limit_mismatch', { limit: 2 });
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, limit: 3, waitMs: 1_000 })), 'limit_mismatch');
    assert.equal(h.machine.locks.inspect('x').waiters, 0);
  });

  test('an explicit equal limit is fine, and an idle name takes a new limit', () => {
    const h = build();
    const a = acquire(h, { name: 's', ttlMs: 10_000, limit: 2 });
    const b = acquire(h, { name: 's', ttlMs: 10_000, limit: 2 });
    release(h, 's', a.token);
    release(h, 's', b.token);
    assert.equal(acquire(h, { name: 's', ttlMs: 10_000, limit: 5 }).limit, 5);
  });

  test('one release admits one waiter even when several wait', () => {
    const h = build();
    const grants = [acquire(h, { name: 's', ttlMs: 10_000, limit: 2 }), acquire(h, { name: 's', ttlMs: 10_000 })];
    const waiting = [1, 2, 3].map(() => wait(h, { name: 's', ttlMs: 10_000, waitMs: 60_000 }));
    release(h, 's', grants[0]!.token);
    assert.deepEqual(waiting.map((w) => w.outcomes.length), [1, 0, 0]);
    release(h, 's', grants[1]!.token);
    assert.deepEqual(waiting.map((w) => w.outcomes.length), [1, 1, 0]);
  });

  test('a lease ending with two permits admits two waiters in order', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    acquire(h, { name: 's', leaseId: id, limit: 3 });
    acquire(h, { name: 's', leaseId: id });
    acquire(h, { name: 's', ttlMs: 10_000 });
    const waiting = [1, 2, 3].map(() => wait(h, { name: 's', ttlMs: 10_000, waitMs: 60_000 }));
    advance(h, 1_000);
    assert.deepEqual(waiting.map((w) => w.outcomes.length), [1, 1, 0]);
    assert.ok(grantOf(waiting[0]!).token < grantOf(waiting[1]!).token);
  });
});

describe('release, check, not_holder', () => {
  test('release by token returns the hold and frees the name', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 10_000, owner: 'o' });
    const released = release(h, 'x', grant.token);
    assert.equal(released.token, grant.token);
    assert.equal(released.name, 'x');
    assert.equal(released.owner, 'o');
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
    assert.equal(h.machine.locks.list('', undefined, 10).locks.length, 0);
  });

  test('release of an acquire-with-ttlMs hold revokes its lease', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 10_000 });
    assert.equal(h.machine.leases.live(grant.leaseId).kind, 'hold');
    release(h, 'x', grant.token);
    expectError(() => h.machine.run((m) => m.leases.keepalive(grant.leaseId)), 'lease_not_found');
    assert.deepEqual(
      eventsOf(h, 'lease_ended').map((e) => [e.leaseId, e.reason, e.released]),
      [[grant.leaseId, 'released', []]],
    );
    assert.equal(h.machine.nextDeadlineMs(), undefined, 'its deadline left the queue');
  });

  test('release of a hold on a named lease keeps the lease and its other holds', () => {
    const h = build();
    const id = grantLease(h, 10_000);
    const a = acquire(h, { name: 'a', leaseId: id });
    const b = acquire(h, { name: 'b', leaseId: id });
    release(h, 'a', a.token);
    assert.equal(h.machine.locks.check('b', b.token), true);
    h.machine.leases.live(id);
  });

  test('not_holder reasons: released, expired (by tick and lazily), revoked, unknown', () => {
    const h = build();
    const released = acquire(h, { name: 'x', ttlMs: 10_000 });
    release(h, 'x', released.token);
    expectError(() => release(h, 'x', released.token), 'not_holder', { reason: 'released', name: 'x', token: released.token });

    const expired = acquire(h, { name: 'x', ttlMs: 1_000 });
    advance(h, 1_000);
    expectError(() => release(h, 'x', expired.token), 'not_holder', { reason: 'expired' });

    const lazy = acquire(h, { name: 'y', ttlMs: 1_000 });
    h.clock.advance(1_000);
    expectError(() => release(h, 'y', lazy.token), 'not_holder', { reason: 'expired' });
    assert.equal(h.machine.tick().processed, 0);

    const id = grantLease(h, 10_000);
    const revoked = acquire(h, { name: 'z', leaseId: id });
    h.machine.run((m) => m.leases.revoke(id));
    expectError(() => release(h, 'z', revoked.token), 'not_holder', { reason: 'revoked' });

    expectError(() => release(h, 'x', 999), 'not_holder', { reason: 'unknown' });
    const live = acquire(h, { name: 'w', ttlMs: 10_000 });
    expectError(() => release(h, 'other', live.token), 'not_holder', { reason: 'unknown' });
    expectError(() => release(h, 'y', released.token), 'not_holder', { reason: 'unknown' });
    assert.equal(h.machine.locks.check('w', live.token), true);
  });

  test('a released hold of an acquire-with-ttlMs is reported released, not revoked', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 10_000 });
    release(h, 'x', grant.token);
    assert.deepEqual(eventsOf(h, 'lock_released').map((e) => e.reason), ['released']);
  });

  test('check says whether a token is a current holder of that name', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 1_000 });
    assert.equal(h.machine.locks.check('x', grant.token), true);
    assert.equal(h.machine.locks.check('y', grant.token), false);
    assert.equal(h.machine.locks.check('x', grant.token + 1), false);
    h.clock.advance(999);
    assert.equal(h.machine.locks.check('x', grant.token), true);
    h.clock.advance(1);
    assert.equal(h.machine.locks.check('x', grant.token), false, 'dead at the deadline without a tick');
    assert.deepEqual(eventsOf(h, 'lock_released').map((e) => e.reason), ['expired']);
  });
});

describe('lock-delay', () => {
  function delayed() {
    const h = build();
    const id = grantLease(h, 500);
    const hold = acquire(h, { name: 'x', leaseId: id, lockDelayMs: 1_000 });
    const first = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000, owner: 'first' });
    const second = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 60_000, owner: 'second' });
    return { h, id, hold, first, second };
  }

  test('after an expiry no grant is made for lockDelayMs; waiters go in order afterwards', () => {
    const { h, first, second } = delayed();
    advance(h, 500);
    assert.equal(first.outcomes.length, 0);
    const error = expectError(() => tryLock(h, 'x'), 'lock_held', { holders: [], limit: 1, retryAfterMs: 1_000 });
    assert.equal(error.details['retryAfterMs'], 1_000);
    assert.deepEqual(h.machine.locks.inspect('x'), { name: 'x', limit: 1, holders: [], waiters: 2, retryAfterMs: 1_000 });
    advance(h, 999);
    assert.equal(first.outcomes.length, 0);
    assert.equal(h.machine.locks.inspect('x').retryAfterMs, 1);
    advance(h, 1);
    assert.equal(grantOf(first).owner, 'first');
    assert.equal(second.outcomes.length, 0);
    assert.equal('retryAfterMs' in h.machine.locks.inspect('x'), false);
    release(h, 'x', grantOf(first).token);
    assert.equal(grantOf(second).owner, 'second');
    assert.deepEqual(eventsOf(h, 'lock_delay_started'), [{ type: 'lock_delay_started', name: 'x', limit: 1, delayMs: 1_000 }]);
    assert.equal(eventsOf(h, 'lock_delay_ended').length, 1);
  });

  test('the delay counts from when the expiry is processed', () => {
    const { h, first } = delayed();
    h.clock.advance(800);
    assert.equal(h.machine.locks.inspect('x').retryAfterMs, 1_000);
    advance(h, 999);
    assert.equal(first.outcomes.length, 0);
    advance(h, 1);
    grantOf(first);
  });

  test('an acquire that arrives during the delay queues and is granted when it ends', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 500, lockDelayMs: 300 });
    advance(h, 500);
    advance(h, 100);
    const late = wait(h, { name: 'x', ttlMs: 1_000, waitMs: 1_000, owner: 'late' });
    advance(h, 199);
    assert.equal(late.outcomes.length, 0);
    advance(h, 1);
    assert.equal(grantOf(late).owner, 'late');
  });

  test('a waiter whose waitMs ends inside the delay gets lock_held with retryAfterMs', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 500, lockDelayMs: 300 });
    advance(h, 500);
    const short = wait(h, { name: 'x', ttlMs: 1_000, waitMs: 100 });
    advance(h, 100);
    const error = errorOf(short);
    assert.equal(error.code, 'lock_held');
    assert.equal(error.details['retryAfterMs'], 200);
  });

  test('no delay after a release', () => {
    const { h, hold, first } = delayed();
    release(h, 'x', hold.token);
    grantOf(first);
    assert.equal(eventsOf(h, 'lock_delay_started').length, 0);
  });

  test('no delay after a revoke', () => {
    const { h, id, first } = delayed();
    h.machine.run((m) => m.leases.revoke(id));
    grantOf(first);
    assert.equal(eventsOf(h, 'lock_delay_started').length, 0);
  });

  test('a name in delay exists with holders [] and disappears when the delay ends', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 500, lockDelayMs: 300 });
    advance(h, 500);
    assert.deepEqual(h.machine.locks.inspect('x'), { name: 'x', limit: 1, holders: [], waiters: 0, retryAfterMs: 300 });
    assert.deepEqual(h.machine.locks.list('', undefined, 10).locks.map((l) => l.name), ['x']);
    advance(h, 300);
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('a try-lock right at the end of the delay is granted without a tick', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 500, lockDelayMs: 300 });
    advance(h, 500);
    h.clock.advance(299);
    expectError(() => tryLock(h, 'x'), 'lock_held', { retryAfterMs: 1 });
    h.clock.advance(1);
    acquire(h, { name: 'x', ttlMs: 500 });
    assert.equal(h.machine.tick().processed, 0, 'the delay deadline left the queue');
  });

  test('an inspect after the delay ended (no tick) finds no name', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 500, lockDelayMs: 300 });
    h.clock.advance(800);
    // The expiry is processed now, so the delay starts now.
    assert.equal(h.machine.locks.inspect('x').retryAfterMs, 300);
    h.clock.advance(300);
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('the delay keeps the limit of the name', () => {
    const h = build();
    acquire(h, { name: 's', ttlMs: 500, lockDelayMs: 300, limit: 2 });
    advance(h, 500);
    expectError(() => tryLock(h, 's', { limit: 1 }), 'limit_mismatch', { limit: 2 });
  });

  test('the longest running delay wins', () => {
    const h = build();
    const id = grantLease(h, 500);
    acquire(h, { name: 's', leaseId: id, lockDelayMs: 1_000, limit: 2 });
    acquire(h, { name: 's', leaseId: id, lockDelayMs: 200 });
    advance(h, 500);
    assert.equal(h.machine.locks.inspect('s').retryAfterMs, 1_000);
  });
});

describe('idle names and listing', () => {
  const names = ['b', 'a', 'ab', 'a/b', 'é', '\uE000', '\uFFFD', '\u{1F600}', '\u{10FFFD}', 'z', 'A', 'a b', 'aa\u{1F600}', 'aa\uFFFF'];

  function withNames(list: string[]) {
    const h = build();
    const id = grantLease(h, 60_000);
    for (const name of list) acquire(h, { name, leaseId: id });
    return { h, id };
  }

  test('listing is sorted by UTF-8 bytes, including astral and private-use characters', () => {
    const { h } = withNames(names);
    const listed = h.machine.locks.list('', undefined, 1_000).locks.map((l) => l.name);
    assert.deepEqual(listed, [...names].sort(byteCompare));
    // The two orders really differ here: UTF-16 puts U+1F600 before U+E000.
    assert.notDeepEqual([...names].sort(), [...names].sort(byteCompare));
  });

  test('prefix filters, including a prefix that is itself a name', () => {
    const { h } = withNames(names);
    const listed = (prefix: string) => h.machine.locks.list(prefix, undefined, 1_000).locks.map((l) => l.name);
    assert.deepEqual(listed('a'), ['a', 'a b', 'a/b', 'aa\uFFFF', 'aa\u{1F600}', 'ab']);
    assert.deepEqual(listed('aa'), ['aa\uFFFF', 'aa\u{1F600}']);
    assert.deepEqual(listed('\u{1F600}'), ['\u{1F600}']);
    assert.deepEqual(listed('q'), []);
  });

  test('pages chain through next; next is absent exactly when nothing remains', () => {
    const { h } = withNames(names);
    const all = [...names].sort(byteCompare);
    for (const pageMax of [1, 2, 3, 7, 14, 15]) {
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = h.machine.locks.list('', after, pageMax);
        assert.ok(page.locks.length <= pageMax);
        seen.push(...page.locks.map((l) => l.name));
        if (page.next === undefined) break;
        assert.equal(page.next, page.locks.at(-1)!.name);
        assert.ok(seen.length < all.length, `next present with nothing left (pageMax ${pageMax})`);
        after = page.next;
      }
      assert.deepEqual(seen, all, `pageMax ${pageMax}`);
    }
  });

  test('names join the listing order late: made, released and listed around the index\'s batch size', () => {
    const h = build({ limits: { locksMax: 20_000, holdsMax: 20_000, holdsPerLeaseMax: 20_000 } });
    const id = h.machine.run((m) => m.leases.grant(60_000)).id;
    const alive = new Map<string, number>();
    const listed = (): string[] => {
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = h.machine.locks.list('n/', after, 1_000);
        seen.push(...page.locks.map((l) => l.name));
        if (page.next === undefined) return seen;
        after = page.next;
      }
      throw new Error('too many pages');
    };
    const expected = (): string[] => [...alive.keys()].sort(byteCompare);
    // 9,000 names in three rounds: each round releases every third name made so far, and
    // some rounds list in the middle, so names leave before and after they reach the index.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3_000; i++) {
        const name = `n/${(round * 3_000 + i).toString(36).padStart(4, '0')}`;
        alive.set(name, acquire(h, { name, leaseId: id }).token);
        if (round === 1 && i === 1_500) assert.deepEqual(listed(), expected());
      }
      let n = 0;
      for (const [name, token] of [...alive]) {
        if (n++ % 3 !== 0) continue;
        release(h, name, token);
        alive.delete(name);
      }
      assert.deepEqual(listed(), expected(), `round ${round}`);
    }
    assert.equal(h.machine.locks.byName.size, alive.size);
    assert.equal(h.machine.locks.orderedNameCount, alive.size, 'a released name left the order too');
  });

  test('after works with a prefix and with an after outside the prefix range', () => {
    const { h } = withNames(names);
    const page = h.machine.locks.list('a', 'a b', 2);
    assert.deepEqual(page.locks.map((l) => l.name), ['a/b', 'aa\uFFFF']);
    assert.equal(page.next, 'aa\uFFFF');
    assert.deepEqual(h.machine.locks.list('a', '0', 100).locks.length, 6, 'after below the prefix starts at the prefix');
    assert.deepEqual(h.machine.locks.list('a', 'b', 100).locks, [], 'after above the prefix range is empty');
    assert.deepEqual(h.machine.locks.list('', '\u{10FFFD}', 100), { locks: [] });
  });

  test('the last page does not promise more when the remaining names are dead', () => {
    const h = build();
    acquire(h, { name: 'a', ttlMs: 60_000 });
    acquire(h, { name: 'b', ttlMs: 1_000 });
    acquire(h, { name: 'c', ttlMs: 1_000 });
    h.clock.advance(1_000);
    assert.deepEqual(h.machine.locks.list('', undefined, 1).locks.map((l) => l.name), ['a']);
    assert.equal(h.machine.locks.list('', undefined, 1).next, undefined);
  });

  test('a page skips dead names and still fills up', () => {
    const h = build();
    acquire(h, { name: 'a', ttlMs: 1_000 });
    acquire(h, { name: 'b', ttlMs: 60_000 });
    acquire(h, { name: 'c', ttlMs: 60_000 });
    h.clock.advance(1_000);
    const page = h.machine.locks.list('', undefined, 1);
    assert.deepEqual(page.locks.map((l) => l.name), ['b']);
    assert.equal(page.next, 'b');
  });

  test('a listing shows holders whose lease is alive only', () => {
    const h = build();
    acquire(h, { name: 's', ttlMs: 1_000, limit: 2 });
    const alive = acquire(h, { name: 's', ttlMs: 60_000 });
    h.clock.advance(1_000);
    const [view] = h.machine.locks.list('', undefined, 10).locks;
    assert.deepEqual(view!.holders.map((x) => x.token), [alive.token]);
  });

  test('a page size outside 1..listPageMax is invalid_request', () => {
    const { h } = withNames(['a']);
    expectError(() => h.machine.locks.list('', undefined, 0), 'invalid_request', { field: 'limit' });
    expectError(() => h.machine.locks.list('', undefined, 1_001), 'invalid_request', { field: 'limit' });
    assert.equal(h.machine.locks.list('', undefined, 1_000).locks.length, 1);
  });

  test('an idle name does not exist', () => {
    const h = build();
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found', { name: 'x' });
    const grant = acquire(h, { name: 'x', ttlMs: 1_000 });
    release(h, 'x', grant.token);
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
    acquire(h, { name: 'y', ttlMs: 1_000 });
    advance(h, 1_000);
    expectError(() => h.machine.locks.inspect('y'), 'lock_not_found');
    assert.equal(h.machine.locks.byName.size, 0);
  });
});

describe('collection limits', () => {
  test('waitersPerLockMax', () => {
    const h = build({ limits: { waitersPerLockMax: 2 } });
    acquire(h, { name: 'x', ttlMs: 10_000 });
    acquire(h, { name: 'y', ttlMs: 10_000 });
    wait(h, { name: 'x', ttlMs: 1_000, waitMs: 1_000 });
    wait(h, { name: 'x', ttlMs: 1_000, waitMs: 1_000 });
    const leases = h.machine.leases.byId.size;
    expectError(
      () => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000, waitMs: 1_000 })),
      'limit_exceeded',
      { limit: 'waitersPerLockMax', max: 2 },
    );
    assert.equal(h.machine.leases.byId.size, leases);
    assert.equal(h.machine.locks.inspect('x').waiters, 2);
    wait(h, { name: 'y', ttlMs: 1_000, waitMs: 1_000 });
  });

  test('waitersMax', () => {
    const h = build({ limits: { waitersPerLockMax: 2, waitersMax: 3 } });
    acquire(h, { name: 'x', ttlMs: 10_000 });
    acquire(h, { name: 'y', ttlMs: 10_000 });
    wait(h, { name: 'x', ttlMs: 1_000, waitMs: 1_000 });
    wait(h, { name: 'x', ttlMs: 1_000, waitMs: 1_000 });
    const third = wait(h, { name: 'y', ttlMs: 1_000, waitMs: 1_000 });
    expectError(
      () => h.machine.run((m) => m.locks.acquire({ name: 'y', ttlMs: 1_000, waitMs: 1_000 })),
      'limit_exceeded',
      { limit: 'waitersMax', max: 3 },
    );
    h.machine.run((m) => m.locks.cancel(third.waiter));
    wait(h, { name: 'y', ttlMs: 1_000, waitMs: 1_000 });
  });

  test('locksMax counts names, not holds; a freed name makes room', () => {
    const h = build({ limits: { locksMax: 2 } });
    const a = acquire(h, { name: 'a', ttlMs: 10_000, limit: 2 });
    acquire(h, { name: 'a', ttlMs: 10_000 });
    acquire(h, { name: 'b', ttlMs: 10_000 });
    const leases = h.machine.leases.byId.size;
    expectError(() => tryLock(h, 'c'), 'limit_exceeded', { limit: 'locksMax', max: 2 });
    assert.equal(h.machine.leases.byId.size, leases, 'no lease was made for the refused lock');
    release(h, 'a', a.token);
    expectError(() => tryLock(h, 'c'), 'limit_exceeded', { limit: 'locksMax' });
    const b = h.machine.locks.inspect('b').holders[0]!;
    release(h, 'b', b.token);
    acquire(h, { name: 'c', ttlMs: 10_000 });
  });

  test('holdsMax, also for a waiter granted later', () => {
    const h = build({ limits: { holdsMax: 2 } });
    const a = acquire(h, { name: 'a', ttlMs: 10_000 });
    acquire(h, { name: 'b', ttlMs: 10_000, limit: 3 });
    const leases = h.machine.leases.byId.size;
    expectError(() => tryLock(h, 'b'), 'limit_exceeded', { limit: 'holdsMax', max: 2 });
    expectError(() => tryLock(h, 'c'), 'limit_exceeded', { limit: 'holdsMax' });
    assert.equal(h.machine.leases.byId.size, leases);
    release(h, 'a', a.token);
    acquire(h, { name: 'b', ttlMs: 10_000 });
  });
});

describe('queries outside run()', () => {
  test('a check that finds a dead holder hands the permit to the next waiter at once', () => {
    const h = build();
    const holder = acquire(h, { name: 'x', ttlMs: 1_000 });
    const waiting = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000 });
    h.clock.advance(1_000);
    // A transport may answer /check without a command; the expiry it causes must not
    // strand the waiter until some later command (its own timeout would say lock_held).
    assert.equal(h.machine.locks.check('x', holder.token), false);
    assert.equal(grantOf(waiting).name, 'x');
    assert.equal(h.machine.locks.byName.get('x')!.holderCount, 1);
  });

  test('an inspect that finds a dead holder does the same', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 1_000 });
    const waiting = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000 });
    h.clock.advance(1_000);
    assert.equal(h.machine.locks.inspect('x').holders.length, 1);
    grantOf(waiting);
  });
});

describe('ended holds memory', () => {
  test('EndedHolds forgets the oldest beyond its capacity, and is per name', () => {
    const ended = new EndedHolds(2);
    ended.remember(1, 'a', 'released');
    ended.remember(2, 'a', 'expired');
    ended.remember(3, 'b', 'revoked');
    assert.equal(ended.size, 2);
    assert.equal(ended.reason(1, 'a'), undefined);
    assert.equal(ended.reason(2, 'a'), 'expired');
    assert.equal(ended.reason(3, 'b'), 'revoked');
    assert.equal(ended.reason(3, 'a'), undefined);
  });

  test('the machine remembers the last 100,000 ended holds', () => {
    const h = build();
    const id = grantLease(h, 86_400_000);
    const tokens: number[] = [];
    h.machine.run((m) => {
      for (let i = 0; i < 100_001; i++) {
        const result = m.locks.acquire({ name: 'x', leaseId: id });
        assert.ok('granted' in result);
        m.locks.release('x', result.granted.token);
        tokens.push(result.granted.token);
      }
    });
    expectError(() => release(h, 'x', tokens[0]!), 'not_holder', { reason: 'unknown' });
    expectError(() => release(h, 'x', tokens[1]!), 'not_holder', { reason: 'released' });
    expectError(() => release(h, 'x', tokens.at(-1)!), 'not_holder', { reason: 'released' });
  });
});
