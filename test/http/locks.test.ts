import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, type Reply, expectError, expectInvalid, expectStatus, queuedWaiters, seg, settle, startApi } from '../helpers/http.js';

const acquire = (api: Api, name: string, body: Record<string, unknown>): Promise<Reply> =>
  api.call('POST', `/v1/locks/${seg(name)}/acquire`, body);

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('HTTP locks: acquire and release', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('acquire with ttlMs grants a fresh lease and answers every field', async () => {
    const body = expectStatus(await acquire(api, 'fresh', { ttlMs: 2_000, owner: 'worker-1' }), 200);
    assert.deepEqual(Object.keys(body).sort(), ['expiresAt', 'leaseId', 'limit', 'mode', 'name', 'owner', 'token', 'ttlMs']);
    assert.equal(body.name, 'fresh');
    assert.ok(Number.isSafeInteger(body.token) && body.token > 0);
    assert.equal(typeof body.leaseId, 'string');
    assert.equal(body.owner, 'worker-1');
    assert.equal(body.limit, 1);
    assert.equal(body.mode, 'write');
    assert.equal(body.ttlMs, 2_000);
    assert.equal(body.expiresAt, api.clock.wallMs() + 2_000);
    const lease = expectStatus(await api.call('GET', `/v1/leases/${body.leaseId}`), 200);
    assert.deepEqual(lease.locks, [{ name: 'fresh', token: body.token }]);

    // The hold's lease is renewed with the lease keepalive route.
    api.advance(1_500);
    expectStatus(await api.call('POST', `/v1/leases/${body.leaseId}/keepalive`, {}), 200);
    api.advance(1_500);
    const check = expectStatus(await api.call('POST', '/v1/locks/fresh/check', { token: body.token }), 200);
    assert.deepEqual(check, { name: 'fresh', token: body.token, held: true });

    // Releasing the hold revokes its lease.
    const released = expectStatus(await api.call('POST', '/v1/locks/fresh/release', { token: body.token }), 200);
    assert.deepEqual(released, { name: 'fresh', token: body.token, released: true });
    expectError(await api.call('GET', `/v1/leases/${body.leaseId}`), 404, 'lease_not_found');
    expectError(await api.call('GET', '/v1/locks/fresh'), 404, 'lock_not_found');
  });

  test('acquire with leaseId hangs the hold on that lease', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 3_000 }), 201);
    const body = expectStatus(await acquire(api, 'on-lease', { leaseId: lease.id }), 200);
    assert.equal(body.leaseId, lease.id);
    assert.equal(body.ttlMs, 3_000);
    assert.equal(body.expiresAt, lease.expiresAt);
    assert.equal(body.owner, '');
    // Releasing a hold does not end a lease the client brought.
    expectStatus(await api.call('POST', '/v1/locks/on-lease/release', { token: body.token }), 200);
    expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
  });

  test('exactly one of ttlMs and leaseId', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 3_000 }), 201);
    const both = expectInvalid(await acquire(api, 'one-of', { ttlMs: 1_000, leaseId: lease.id }), 'ttlMs');
    assert.match(both.message, /leaseId/);
    const neither = expectInvalid(await acquire(api, 'one-of', {}), 'ttlMs');
    assert.match(neither.message, /leaseId/);
    expectInvalid(await acquire(api, 'one-of', { owner: 'x', waitMs: 10 }), 'leaseId');
    expectError(await api.call('GET', '/v1/locks/one-of'), 404, 'lock_not_found');
  });

  test('an unknown or ended lease is 404 lease_not_found', async () => {
    expectError(await acquire(api, 'ghost', { leaseId: 'no-such-lease' }), 404, 'lease_not_found');
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 100 }), 201);
    api.clock.advance(100);
    expectError(await acquire(api, 'ghost', { leaseId: lease.id }), 404, 'lease_not_found');
    expectError(await api.call('GET', '/v1/locks/ghost'), 404, 'lock_not_found');
  });

  test('every field is range-checked and named', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ttlMs: 99 }, 'ttlMs'],
      [{ ttlMs: 86_400_001 }, 'ttlMs'],
      [{ ttlMs: 1_000, waitMs: -1 }, 'waitMs'],
      [{ ttlMs: 1_000, waitMs: 300_001 }, 'waitMs'],
      [{ ttlMs: 1_000, waitMs: 1.5 }, 'waitMs'],
      [{ ttlMs: 1_000, waitMs: '10' }, 'waitMs'],
      [{ ttlMs: 1_000, limit: 0 }, 'limit'],
      [{ ttlMs: 1_000, limit: 10_001 }, 'limit'],
      [{ ttlMs: 1_000, limit: 2.5 }, 'limit'],
      [{ ttlMs: 1_000, lockDelayMs: -1 }, 'lockDelayMs'],
      [{ ttlMs: 1_000, lockDelayMs: 60_001 }, 'lockDelayMs'],
      [{ ttlMs: 1_000, owner: 'x'.repeat(257) }, 'owner'],
      [{ ttlMs: 1_000, owner: 'é'.repeat(129) }, 'owner'],
      [{ ttlMs: 1_000, owner: 7 }, 'owner'],
      [{ ttlMs: 1_000, leaseId: 7 }, 'leaseId'],
      [{ leaseId: '' }, 'leaseId'],
      [{ ttlMs: 1_000, name: 'x' }, 'name'],
    ];
    for (const [body, field] of cases) expectInvalid(await acquire(api, 'ranges', body), field);
    expectError(await api.call('GET', '/v1/locks/ranges'), 404, 'lock_not_found');
  });

  test('the range edges are accepted', async () => {
    const grant = expectStatus(
      await acquire(api, 'edges', { ttlMs: 1_000, waitMs: 300_000, limit: 10_000, lockDelayMs: 60_000, owner: 'o'.repeat(256) }),
      200,
    );
    assert.equal(grant.limit, 10_000);
    assert.equal(grant.owner, 'o'.repeat(256));
    expectStatus(await acquire(api, 'edges2', { ttlMs: 1_000, waitMs: 0, limit: 1, lockDelayMs: 0, owner: 'é'.repeat(128) }), 200);
  });

  test('a try-lock on a held name is 409 lock_held with holders and limit', async () => {
    const first = expectStatus(await acquire(api, 'busy', { ttlMs: 2_000, owner: 'alpha' }), 200);
    const error = expectError(await acquire(api, 'busy', { ttlMs: 2_000, owner: 'beta' }), 409, 'lock_held');
    assert.equal(error.limit, 1);
    assert.deepEqual(error.holders, [{ token: first.token, owner: 'alpha', mode: 'write', expiresAt: first.expiresAt }]);
    const explicit = expectError(await acquire(api, 'busy', { ttlMs: 2_000, waitMs: 0 }), 409, 'lock_held');
    assert.equal(explicit.holders.length, 1);
    // The refused acquire granted no lease.
    assert.equal(api.lockring.machine.leases.byId.get(first.leaseId)?.holdCount, 1);
  });

  test('tokens are strictly increasing across names', async () => {
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const grant = expectStatus(await acquire(api, `tok-${i % 3}-${i}`, { ttlMs: 1_000 }), 200);
      assert.ok(grant.token > last, `token ${grant.token} above ${last}`);
      last = grant.token;
    }
  });

  test('release by token: released, and not_holder reasons', async () => {
    const a = expectStatus(await acquire(api, 'rel', { ttlMs: 1_000 }), 200);
    expectStatus(await api.call('POST', '/v1/locks/rel/release', { token: a.token }), 200);
    const again = expectError(await api.call('POST', '/v1/locks/rel/release', { token: a.token }), 409, 'not_holder');
    assert.equal(again.reason, 'released');

    const b = expectStatus(await acquire(api, 'rel', { ttlMs: 1_000 }), 200);
    api.advance(1_000);
    const expired = expectError(await api.call('POST', '/v1/locks/rel/release', { token: b.token }), 409, 'not_holder');
    assert.equal(expired.reason, 'expired');

    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const c = expectStatus(await acquire(api, 'rel', { leaseId: lease.id }), 200);
    expectStatus(await api.call('DELETE', `/v1/leases/${lease.id}`), 200);
    const revoked = expectError(await api.call('POST', '/v1/locks/rel/release', { token: c.token }), 409, 'not_holder');
    assert.equal(revoked.reason, 'revoked');

    // A hold's own lease revoked through the lease route counts as revoked too.
    const d = expectStatus(await acquire(api, 'rel', { ttlMs: 1_000 }), 200);
    expectStatus(await api.call('DELETE', `/v1/leases/${d.leaseId}`), 200);
    const ownRevoked = expectError(await api.call('POST', '/v1/locks/rel/release', { token: d.token }), 409, 'not_holder');
    assert.equal(ownRevoked.reason, 'revoked');

    const unknown = expectError(await api.call('POST', '/v1/locks/rel/release', { token: 9_999_999 }), 409, 'not_holder');
    assert.equal(unknown.reason, 'unknown');
    // A live token of another name is not a holder of this one.
    const other = expectStatus(await acquire(api, 'rel-other', { ttlMs: 1_000 }), 200);
    const wrongName = expectError(await api.call('POST', '/v1/locks/rel/release', { token: other.token }), 409, 'not_holder');
    assert.equal(wrongName.reason, 'unknown');
    const stillHeld = expectStatus(await api.call('POST', '/v1/locks/rel-other/check', { token: other.token }), 200);
    assert.equal(stillHeld.held, true);
  });

  test('release and check validate the token', async () => {
    for (const route of ['release', 'check']) {
      expectInvalid(await api.call('POST', `/v1/locks/v/${route}`, {}), 'token');
      expectInvalid(await api.call('POST', `/v1/locks/v/${route}`, { token: '1' }), 'token');
      expectInvalid(await api.call('POST', `/v1/locks/v/${route}`, { token: 1.5 }), 'token');
      expectInvalid(await api.call('POST', `/v1/locks/v/${route}`, { token: 1, extra: 1 }), 'extra');
    }
  });

  test('check answers held true or false, also for unknown names and tokens', async () => {
    const grant = expectStatus(await acquire(api, 'chk', { ttlMs: 1_000 }), 200);
    assert.deepEqual(expectStatus(await api.call('POST', '/v1/locks/chk/check', { token: grant.token }), 200), {
      name: 'chk',
      token: grant.token,
      held: true,
    });
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/chk/check', { token: grant.token + 1_000 }), 200).held, false);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/never/check', { token: grant.token }), 200).held, false);
    // Past the deadline, before any expiry processing: no longer held.
    api.clock.advance(1_000);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/chk/check', { token: grant.token }), 200).held, false);
  });

  test('GET inspects holders with owner, leaseId, acquiredAt and expiresAt', async () => {
    const grant = expectStatus(await acquire(api, 'look', { ttlMs: 1_000, owner: 'me' }), 200);
    const view = expectStatus(await api.call('GET', '/v1/locks/look'), 200);
    assert.deepEqual(view, {
      name: 'look',
      limit: 1,
      holders: [{ token: grant.token, owner: 'me', mode: 'write', leaseId: grant.leaseId, acquiredAt: api.clock.wallMs(), expiresAt: grant.expiresAt, priority: 0 }],
      waiters: 0,
    });
    expectStatus(await api.call('POST', '/v1/locks/look/release', { token: grant.token }), 200);
    expectError(await api.call('GET', '/v1/locks/look'), 404, 'lock_not_found');
  });
});

describe('HTTP locks: semaphores', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('limit > 1 grants that many permits, then lock_held', async () => {
    const grants = [];
    for (let i = 0; i < 3; i++) grants.push(expectStatus(await acquire(api, 'sem', { ttlMs: 1_000, limit: 3, owner: `w${i}` }), 200));
    assert.deepEqual(grants.map((g) => g.limit), [3, 3, 3]);
    assert.ok(grants[0].token < grants[1].token && grants[1].token < grants[2].token);
    const error = expectError(await acquire(api, 'sem', { ttlMs: 1_000 }), 409, 'lock_held');
    assert.equal(error.limit, 3);
    assert.deepEqual(
      error.holders.map((h: any) => h.owner).sort(),
      ['w0', 'w1', 'w2'],
    );
    const view = expectStatus(await api.call('GET', '/v1/locks/sem'), 200);
    assert.equal(view.holders.length, 3);
    assert.equal(view.limit, 3);
    expectStatus(await api.call('POST', '/v1/locks/sem/release', { token: grants[1].token }), 200);
    // limit omitted takes the name's limit.
    const fourth = expectStatus(await acquire(api, 'sem', { ttlMs: 1_000 }), 200);
    assert.equal(fourth.limit, 3);
  });

  test('limit_mismatch is checked before lock_held', async () => {
    expectStatus(await acquire(api, 'mm', { ttlMs: 1_000, limit: 2 }), 200);
    expectStatus(await acquire(api, 'mm', { ttlMs: 1_000, limit: 2 }), 200);
    const full = expectError(await acquire(api, 'mm', { ttlMs: 1_000, limit: 5 }), 409, 'limit_mismatch');
    assert.equal(full.limit, 2);
    expectError(await acquire(api, 'mm', { ttlMs: 1_000, limit: 1 }), 409, 'limit_mismatch');
    expectError(await acquire(api, 'mm', { ttlMs: 1_000, limit: 2 }), 409, 'lock_held');
    // A plain lock is limit 1: an explicit limit 2 mismatches even while it is free to queue.
    expectStatus(await acquire(api, 'mm-lock', { ttlMs: 1_000 }), 200);
    expectError(await acquire(api, 'mm-lock', { ttlMs: 1_000, limit: 2, waitMs: 1_000 }), 409, 'limit_mismatch');
  });

  test('an idle name forgets its limit', async () => {
    const a = expectStatus(await acquire(api, 'forget', { ttlMs: 1_000, limit: 4 }), 200);
    expectStatus(await api.call('POST', '/v1/locks/forget/release', { token: a.token }), 200);
    const b = expectStatus(await acquire(api, 'forget', { ttlMs: 1_000 }), 200);
    assert.equal(b.limit, 1);
  });
});

describe('HTTP locks: waiting', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('waiters are granted in arrival order as permits free up', async () => {
    const holder = expectStatus(await acquire(api, 'fifo', { ttlMs: 10_000, owner: 'holder' }), 200);
    const pending: Promise<Reply>[] = [];
    for (let i = 0; i < 5; i++) {
      pending.push(acquire(api, 'fifo', { ttlMs: 10_000, waitMs: 60_000, owner: `w${i}` }));
      await queuedWaiters(api, 'fifo', i + 1);
    }
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/fifo'), 200).waiters, 5);
    let last = holder.token;
    let current = holder;
    for (let i = 0; i < 5; i++) {
      expectStatus(await api.call('POST', '/v1/locks/fifo/release', { token: current.token }), 200);
      const granted = expectStatus(await pending[i]!, 200);
      assert.equal(granted.owner, `w${i}`, 'granted in arrival order');
      assert.ok(granted.token > last);
      assert.equal(granted.ttlMs, 10_000);
      last = granted.token;
      current = granted;
    }
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/fifo'), 200).waiters, 0);
  });

  test('a waiter gets lock_held when waitMs runs out', async () => {
    const holder = expectStatus(await acquire(api, 'timeout', { ttlMs: 10_000, owner: 'h' }), 200);
    const waiting = acquire(api, 'timeout', { ttlMs: 1_000, waitMs: 500 });
    await queuedWaiters(api, 'timeout', 1);
    api.advance(499);
    await settle();
    assert.equal(api.lockring.machine.locks.byName.get('timeout')!.waiterCount, 1);
    api.advance(1);
    const error = expectError(await waiting, 409, 'lock_held');
    assert.deepEqual(error.holders, [{ token: holder.token, owner: 'h', mode: 'write', expiresAt: holder.expiresAt }]);
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/timeout'), 200).waiters, 0);
  });

  test('a waiter on a semaphore gets the next free permit', async () => {
    const a = expectStatus(await acquire(api, 'semwait', { ttlMs: 10_000, limit: 2 }), 200);
    expectStatus(await acquire(api, 'semwait', { ttlMs: 10_000 }), 200);
    const waiting = acquire(api, 'semwait', { ttlMs: 10_000, waitMs: 5_000 });
    await queuedWaiters(api, 'semwait', 1);
    expectStatus(await api.call('POST', '/v1/locks/semwait/release', { token: a.token }), 200);
    const granted = expectStatus(await waiting, 200);
    assert.equal(granted.limit, 2);
  });

  test('a try-lock does not jump the queue', async () => {
    const holder = expectStatus(await acquire(api, 'nojump', { ttlMs: 10_000, limit: 2 }), 200);
    expectStatus(await acquire(api, 'nojump', { ttlMs: 10_000 }), 200);
    const waiting = acquire(api, 'nojump', { ttlMs: 10_000, waitMs: 5_000, owner: 'queued' });
    await queuedWaiters(api, 'nojump', 1);
    expectStatus(await api.call('POST', '/v1/locks/nojump/release', { token: holder.token }), 200);
    expectError(await acquire(api, 'nojump', { ttlMs: 10_000, owner: 'late' }), 409, 'lock_held');
    assert.equal(expectStatus(await waiting, 200).owner, 'queued');
  });

  test('a waiter whose lease dies leaves with 404 lease_not_found', async () => {
    expectStatus(await acquire(api, 'leasewait', { ttlMs: 10_000 }), 200);
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const waiting = acquire(api, 'leasewait', { leaseId: lease.id, waitMs: 5_000 });
    await queuedWaiters(api, 'leasewait', 1);
    api.advance(1_000);
    expectError(await waiting, 404, 'lease_not_found');
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/leasewait'), 200).waiters, 0);

    const lease2 = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const waiting2 = acquire(api, 'leasewait', { leaseId: lease2.id, waitMs: 5_000 });
    await queuedWaiters(api, 'leasewait', 1);
    expectStatus(await api.call('DELETE', `/v1/leases/${lease2.id}`), 200);
    expectError(await waiting2, 404, 'lease_not_found');
  });

  test('the holder expiring hands the lock to the waiter', async () => {
    const holder = expectStatus(await acquire(api, 'handoff', { ttlMs: 1_000 }), 200);
    const waiting = acquire(api, 'handoff', { ttlMs: 1_000, waitMs: 5_000 });
    await queuedWaiters(api, 'handoff', 1);
    api.advance(1_000);
    const granted = expectStatus(await waiting, 200);
    assert.ok(granted.token > holder.token);
  });

  test('waiters per lock are limited: 429 limit_exceeded', async () => {
    const small = await startApi({ limits: { waitersPerLockMax: 2 } });
    try {
      expectStatus(await acquire(small, 'crowd', { ttlMs: 10_000 }), 200);
      const queued = [acquire(small, 'crowd', { ttlMs: 10_000, waitMs: 1_000 })];
      await queuedWaiters(small, 'crowd', 1);
      queued.push(acquire(small, 'crowd', { ttlMs: 10_000, waitMs: 1_000 }));
      await queuedWaiters(small, 'crowd', 2);
      const error = expectError(await acquire(small, 'crowd', { ttlMs: 10_000, waitMs: 1_000 }), 429, 'limit_exceeded');
      assert.equal(error.limit, 'waitersPerLockMax');
      assert.match(error.message, /waitersPerLockMax/);
      small.advance(1_000);
      for (const reply of await Promise.all(queued)) expectError(reply, 409, 'lock_held');
    } finally {
      await small.close();
    }
  });
});

describe('HTTP locks: lock-delay', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('after an expiry the name refuses grants for lockDelayMs', async () => {
    const holder = expectStatus(await acquire(api, 'delay', { ttlMs: 1_000, lockDelayMs: 500 }), 200);
    api.advance(1_000);
    const view = expectStatus(await api.call('GET', '/v1/locks/delay'), 200);
    assert.deepEqual(view, { name: 'delay', limit: 1, holders: [], waiters: 0, retryAfterMs: 500 });
    api.advance(200);
    const refused = expectError(await acquire(api, 'delay', { ttlMs: 1_000 }), 409, 'lock_held');
    assert.equal(refused.retryAfterMs, 300);
    assert.deepEqual(refused.holders, []);
    assert.equal(refused.limit, 1);
    const listed = expectStatus(await api.call('GET', '/v1/locks?prefix=delay'), 200);
    assert.equal(listed.locks.length, 1);
    assert.equal(listed.locks[0].retryAfterMs, 300);
    const late = expectError(await api.call('POST', '/v1/locks/delay/release', { token: holder.token }), 409, 'not_holder');
    assert.equal(late.reason, 'expired');
    api.advance(300);
    expectError(await api.call('GET', '/v1/locks/delay'), 404, 'lock_not_found');
    expectStatus(await acquire(api, 'delay', { ttlMs: 1_000 }), 200);
  });

  test('the delay counts from when the expiry is processed', async () => {
    expectStatus(await acquire(api, 'delay-late', { ttlMs: 1_000, lockDelayMs: 500 }), 200);
    // Nothing processes the expiry until the GET finds it, 200 ms after the deadline.
    api.clock.advance(1_200);
    const view = expectStatus(await api.call('GET', '/v1/locks/delay-late'), 200);
    assert.equal(view.retryAfterMs, 500);
  });

  test('waiting acquires queue through the delay and are granted in order when it ends', async () => {
    expectStatus(await acquire(api, 'delay-q', { ttlMs: 1_000, lockDelayMs: 400 }), 200);
    api.advance(1_000);
    const first = acquire(api, 'delay-q', { ttlMs: 1_000, waitMs: 5_000, owner: 'first' });
    await queuedWaiters(api, 'delay-q', 1);
    const second = acquire(api, 'delay-q', { ttlMs: 1_000, waitMs: 5_000, owner: 'second' });
    await queuedWaiters(api, 'delay-q', 2);
    const view = expectStatus(await api.call('GET', '/v1/locks/delay-q'), 200);
    assert.deepEqual(view.holders, []);
    assert.equal(view.waiters, 2);
    assert.equal(view.retryAfterMs, 400);
    api.advance(399);
    await settle();
    assert.equal(api.lockring.machine.locks.byName.get('delay-q')!.waiterCount, 2);
    api.advance(1);
    const granted = expectStatus(await first, 200);
    assert.equal(granted.owner, 'first');
    expectStatus(await api.call('POST', '/v1/locks/delay-q/release', { token: granted.token }), 200);
    assert.equal(expectStatus(await second, 200).owner, 'second');
  });

  test('release and revoke start no delay', async () => {
    const a = expectStatus(await acquire(api, 'delay-none', { ttlMs: 1_000, lockDelayMs: 5_000 }), 200);
    expectStatus(await api.call('POST', '/v1/locks/delay-none/release', { token: a.token }), 200);
    expectError(await api.call('GET', '/v1/locks/delay-none'), 404, 'lock_not_found');
    const b = expectStatus(await acquire(api, 'delay-none', { ttlMs: 1_000, lockDelayMs: 5_000 }), 200);
    expectStatus(await api.call('DELETE', `/v1/leases/${b.leaseId}`), 200);
    expectError(await api.call('GET', '/v1/locks/delay-none'), 404, 'lock_not_found');
    expectStatus(await acquire(api, 'delay-none', { ttlMs: 1_000 }), 200);
  });
});

describe('HTTP locks: listing', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('sorted by UTF-8 byte order, with prefix', async () => {
    // U+FFFD sorts before an astral character in UTF-8, after it in UTF-16.
    const names = ['b', 'a', 'a/b', 'Z', 'é', '\uFFFD', '😀', 'ab', 'a b'];
    for (const name of names) expectStatus(await acquire(api, name, { ttlMs: 10_000 }), 200);
    const all = expectStatus(await api.call('GET', '/v1/locks'), 200);
    assert.deepEqual(all.locks.map((l: any) => l.name), [...names].sort(byteOrder));
    assert.equal('next' in all, false, 'no next when nothing remains');
    const view = expectStatus(await api.call('GET', `/v1/locks/${seg('é')}`), 200);
    assert.deepEqual(all.locks.find((l: any) => l.name === 'é'), view);

    const prefixed = expectStatus(await api.call('GET', '/v1/locks?prefix=a'), 200);
    assert.deepEqual(prefixed.locks.map((l: any) => l.name), ['a', 'a b', 'a/b', 'ab']);
    const slash = expectStatus(await api.call(`GET`, `/v1/locks?prefix=${seg('a/')}`), 200);
    assert.deepEqual(slash.locks.map((l: any) => l.name), ['a/b']);
    const none = expectStatus(await api.call('GET', '/v1/locks?prefix=zzz'), 200);
    assert.deepEqual(none, { locks: [] });
  });

  test('pages: limit, next and after', async () => {
    const names = Array.from({ length: 7 }, (_, i) => `page/${i}`);
    for (const name of names) expectStatus(await acquire(api, name, { ttlMs: 10_000 }), 200);
    const seen: string[] = [];
    let after: string | undefined;
    for (let round = 0; round < 10; round++) {
      const query = `prefix=page%2F&limit=3${after === undefined ? '' : `&after=${seg(after)}`}`;
      const page = expectStatus(await api.call('GET', `/v1/locks?${query}`), 200);
      seen.push(...page.locks.map((l: any) => l.name));
      if (page.next === undefined) {
        assert.equal('next' in page, false);
        break;
      }
      assert.equal(page.next, page.locks[page.locks.length - 1].name);
      after = page.next;
    }
    assert.deepEqual(seen, names);
    // Exactly a full page with nothing after it: no next.
    const exact = expectStatus(await api.call('GET', '/v1/locks?prefix=page%2F&limit=7'), 200);
    assert.equal(exact.locks.length, 7);
    assert.equal('next' in exact, false);
  });

  test('limit defaults to 100 and is at most 1000', async () => {
    for (let i = 0; i < 1_001; i++) expectStatus(await acquire(api, `many/${String(i).padStart(4, '0')}`, { ttlMs: 10_000 }), 200);
    const first = expectStatus(await api.call('GET', '/v1/locks?prefix=many%2F'), 200);
    assert.equal(first.locks.length, 100);
    assert.equal(first.next, 'many/0099');
    const big = expectStatus(await api.call('GET', '/v1/locks?prefix=many%2F&limit=1000'), 200);
    assert.equal(big.locks.length, 1_000);
    assert.equal(big.next, 'many/0999');
    const rest = expectStatus(await api.call('GET', `/v1/locks?prefix=many%2F&limit=1000&after=${seg(big.next)}`), 200);
    assert.deepEqual(rest.locks.map((l: any) => l.name), ['many/1000']);
    assert.equal('next' in rest, false);
    for (const bad of ['0', '1001', '-1', '1.5', 'abc', '']) {
      expectInvalid(await api.call('GET', `/v1/locks?limit=${bad}`), 'limit');
    }
    expectInvalid(await api.call('GET', '/v1/locks?limit=5&limit=6'), 'limit');
    // An empty cursor starts from the beginning.
    const fromStart = expectStatus(await api.call('GET', '/v1/locks?prefix=many%2F&after=&limit=2'), 200);
    assert.deepEqual(fromStart.locks.map((l: any) => l.name), ['many/0000', 'many/0001']);
    expectInvalid(await api.call('GET', `/v1/locks?after=${'a'.repeat(257)}`), 'after');
    expectInvalid(await api.call('GET', '/v1/locks?prefix=%01'), 'prefix');
    expectInvalid(await api.call('GET', '/v1/locks?bogus=1'), 'bogus');
  });

  test('expired holds vanish from the listing and its next', async () => {
    const fresh = await startApi();
    try {
      // Long TTLs keep the real expiry timer out of the way: only the lazy path runs.
      expectStatus(await acquire(fresh, 'x/a', { ttlMs: 60_000 }), 200);
      expectStatus(await acquire(fresh, 'x/b', { ttlMs: 60_000 }), 200);
      expectStatus(await acquire(fresh, 'x/c', { ttlMs: 10_000 }), 200);
      fresh.clock.advance(20_000);
      const page = expectStatus(await fresh.call('GET', '/v1/locks?prefix=x%2F&limit=2'), 200);
      assert.deepEqual(page.locks.map((l: any) => l.name), ['x/a', 'x/b']);
      assert.equal('next' in page, false, 'the only name left after the page had expired');
    } finally {
      await fresh.close();
    }
  });
});
