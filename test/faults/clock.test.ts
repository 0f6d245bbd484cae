// Deadlines use the monotonic clock, so a wall-clock jump (NTP step,
// operator, VM resume) changes nothing: the whole server (buildServer, HTTP routes,
// state machine) on an injected ManualClock whose wall clock jumps forward and back.
// Only the displayed `expiresAt` moves with the wall clock. (test/domain/leases.test.ts
// covers the lease table alone; this is the same promise through the server.)
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type Api, expectError, expectStatus, seg, settle, startApi } from '../helpers/http.js';

const hour = 3_600_000;
const day = 24 * hour;

let api: Api | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

/** A pending HTTP call whose settling can be observed without awaiting it. */
function watch<T>(promise: Promise<T>): { readonly done: () => boolean; readonly result: Promise<T> } {
  let done = false;
  const result = promise.finally(() => {
    done = true;
  });
  return { done: () => done, result };
}

async function queued(a: Api, name: string, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const view = await a.call('GET', `/v1/locks/${seg(name)}`);
    if (view.body?.waiters === count) return;
    await settle();
  }
  assert.fail(`${name} never had ${count} waiters`);
}

describe('a wall-clock jump changes no deadline (server on a manual clock)', () => {
  for (const jump of [hour, -day]) {
    test(`holds, leases and lease-bound members expire at the same monotonic time after a ${jump > 0 ? 'forward' : 'backward'} jump`, async () => {
      api = await startApi();
      const { clock } = api;
      const wallAtGrant = clock.wallMs();
      const held = expectStatus(await api.call('POST', '/v1/locks/clock%2Fa/acquire', { ttlMs: 1_000, owner: 'A' }), 200);
      assert.equal(held.expiresAt, wallAtGrant + 1_000);
      const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
      expectStatus(await api.call('PUT', '/v1/rings/clock/nodes/n1', { leaseId: lease.id }), 201);
      const waiter = watch(api.call('POST', '/v1/locks/clock%2Fa/acquire', { ttlMs: 5_000, waitMs: 60_000, owner: 'B' }));
      await queued(api, 'clock/a', 1);

      clock.jumpWall(jump);
      api.advance(0);
      const view = expectStatus(await api.call('GET', '/v1/locks/clock%2Fa'), 200);
      assert.deepEqual(view.holders.map((h: { token: number }) => h.token), [held.token]);
      // Display only: the shown expiry follows the wall clock, the deadline does not.
      assert.equal(view.holders[0].expiresAt, wallAtGrant + jump + 1_000);
      assert.equal(view.holders[0].acquiredAt, wallAtGrant);

      api.advance(999);
      assert.equal(expectStatus(await api.call('POST', '/v1/locks/clock%2Fa/check', { token: held.token }), 200).held, true);
      assert.equal(expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200).expiresAt, clock.wallMs() + 1);
      assert.equal(expectStatus(await api.call('GET', '/v1/rings/clock'), 200).nodes.length, 1);
      await settle();
      assert.equal(waiter.done(), false, 'the waiter still waits');

      api.advance(1);
      assert.equal(expectStatus(await api.call('POST', '/v1/locks/clock%2Fa/check', { token: held.token }), 200).held, false);
      expectError(await api.call('GET', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
      expectError(await api.call('POST', `/v1/leases/${held.leaseId}/keepalive`, {}), 404, 'lease_not_found');
      assert.deepEqual(expectStatus(await api.call('GET', '/v1/rings/clock'), 200).nodes, []);
      const granted = expectStatus(await waiter.result, 200);
      assert.equal(granted.owner, 'B');
      assert.ok(granted.token > held.token);
      const released = expectError(await api.call('POST', '/v1/locks/clock%2Fa/release', { token: held.token }), 409, 'not_holder');
      assert.equal(released.reason, 'expired');
    });
  }

  test('a keepalive counts ttlMs from monotonic now, whatever the wall clock says', async () => {
    api = await startApi();
    const { clock } = api;
    const held = expectStatus(await api.call('POST', '/v1/locks/clock%2Fk/acquire', { ttlMs: 1_000 }), 200);
    api.advance(600);
    clock.jumpWall(-day);
    const kept = expectStatus(await api.call('POST', `/v1/leases/${held.leaseId}/keepalive`, {}), 200);
    assert.equal(kept.expiresAt, clock.wallMs() + 1_000);
    clock.jumpWall(2 * day);
    api.advance(999);
    expectStatus(await api.call('POST', `/v1/leases/${held.leaseId}/keepalive`, { ttlMs: 500 }), 200);
    clock.jumpWall(-hour);
    api.advance(499);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/clock%2Fk/check', { token: held.token }), 200).held, true);
    api.advance(1);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/clock%2Fk/check', { token: held.token }), 200).held, false);
  });

  test('queued acquires time out, and lock-delays end, at monotonic deadlines', async () => {
    api = await startApi();
    const { clock } = api;
    const held = expectStatus(await api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000, lockDelayMs: 400 }), 200);
    const waiter = watch(api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000, waitMs: 500 }));
    await queued(api, 'clock/d', 1);
    clock.jumpWall(hour);
    api.advance(499);
    await settle();
    assert.equal(waiter.done(), false, 'no timeout before 500 ms of monotonic time');
    clock.jumpWall(-day);
    api.advance(1);
    expectError(await waiter.result, 409, 'lock_held');

    api.advance(500);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/clock%2Fd/check', { token: held.token }), 200).held, false);
    const delayed = expectError(await api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000 }), 409, 'lock_held');
    assert.equal(delayed.retryAfterMs, 400);
    clock.jumpWall(day);
    assert.equal(expectError(await api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000 }), 409, 'lock_held').retryAfterMs, 400);
    api.advance(399);
    clock.jumpWall(-2 * day);
    assert.equal(expectError(await api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000 }), 409, 'lock_held').retryAfterMs, 1);
    api.advance(1);
    const next = expectStatus(await api.call('POST', '/v1/locks/clock%2Fd/acquire', { ttlMs: 1_000 }), 200);
    assert.ok(next.token > held.token);
  });
});
