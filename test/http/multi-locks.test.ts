import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, expectError, expectInvalid, expectStatus, queuedWaiters, settle, startApi } from '../helpers/http.js';

const acquireAll = (api: Api, body: Record<string, unknown>) => api.call('POST', '/v1/multi-locks/acquire', body);
const releaseAll = (api: Api, holds: { name: string; token: number }[]) => api.call('POST', '/v1/multi-locks/release', { holds });
const refs = (body: { grants: { name: string; token: number }[] }) => body.grants.map((g) => ({ name: g.name, token: g.token }));
const holders = async (api: Api, name: string): Promise<number[]> => {
  const reply = await api.call('GET', `/v1/locks/${encodeURIComponent(name)}`);
  return reply.status === 404 ? [] : reply.body.holders.map((h: { token: number }) => h.token);
};

describe('HTTP multi-locks', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ limits: { namesPerAcquireMax: 4 } });
  });
  after(() => api.close());

  test('acquire grants every name on one lease with a token per name, in request order, each as the single grant body', async () => {
    const body = expectStatus(await acquireAll(api, { locks: [{ name: 'h/b' }, { name: 'h/a', mode: 'read' }, { name: 'h/s', limit: 2 }], ttlMs: 2_000, owner: 'coord' }), 200);
    assert.deepEqual(Object.keys(body).sort(), ['grants', 'leaseId']);
    assert.deepEqual(body.grants.map((g: { name: string }) => g.name), ['h/b', 'h/a', 'h/s']);
    for (const grant of body.grants) {
      assert.deepEqual(Object.keys(grant).sort(), ['expiresAt', 'leaseId', 'limit', 'mode', 'name', 'owner', 'token', 'ttlMs']);
      assert.equal(grant.leaseId, body.leaseId);
      assert.equal(grant.owner, 'coord');
    }
    const tokens = body.grants.map((g: { token: number }) => g.token);
    assert.ok(tokens[0] < tokens[1] && tokens[1] < tokens[2]);
    const lease = expectStatus(await api.call('GET', `/v1/leases/${body.leaseId}`), 200);
    assert.equal(lease.locks.length, 3);
    expectStatus(await releaseAll(api, refs(body)), 200);
  });

  test('one held name: 409 lock_held naming it, and nothing is granted', async () => {
    const single = expectStatus(await api.call('POST', '/v1/locks/c%2Fb/acquire', { ttlMs: 2_000 }), 200);
    const error = expectError(await acquireAll(api, { locks: [{ name: 'c/a' }, { name: 'c/b' }], ttlMs: 2_000 }), 409, 'lock_held');
    assert.deepEqual(error.names, ['c/b']);
    assert.equal(error.locks[0].holders[0].token, single.token);
    assert.deepEqual(await holders(api, 'c/a'), []);
    expectStatus(await api.call('POST', '/v1/locks/c%2Fb/release', { token: single.token }), 200);
  });

  test('bad bodies are invalid_request naming the field', async () => {
    expectInvalid(await acquireAll(api, { locks: [], ttlMs: 2_000 }), 'locks');
    expectInvalid(await acquireAll(api, { locks: [1, 2, 3, 4, 5].map((i) => ({ name: `x${i}` })), ttlMs: 2_000 }), 'locks');
    expectInvalid(await acquireAll(api, { locks: [{ name: 'x' }, { name: 'x' }], ttlMs: 2_000 }), 'locks.1.name');
    expectInvalid(await acquireAll(api, { locks: [{ name: 'x', extra: 1 }], ttlMs: 2_000 }), 'extra');
    expectInvalid(await acquireAll(api, { locks: [{ name: 'x' }] }), 'ttlMs');
    expectInvalid(await releaseAll(api, []), 'holds');
    assert.equal(api.lockring.machine.locks.byName.has('x'), false);
  });

  test('a waiting multi-lock long-polls and is answered once every name is free', async () => {
    const a = expectStatus(await api.call('POST', '/v1/locks/w%2Fa/acquire', { ttlMs: 5_000 }), 200);
    const waiting = acquireAll(api, { locks: [{ name: 'w/a' }, { name: 'w/b' }], ttlMs: 2_000, waitMs: 5_000 });
    await queuedWaiters(api, 'w/b', 1);
    assert.deepEqual(await holders(api, 'w/b'), [], 'nothing held while waiting');
    expectStatus(await api.call('POST', '/v1/locks/w%2Fa/release', { token: a.token }), 200);
    const body = expectStatus(await waiting, 200);
    assert.deepEqual(body.grants.map((g: { name: string }) => g.name), ['w/a', 'w/b']);
    assert.ok(body.grants[0].token > a.token);
    expectStatus(await releaseAll(api, refs(body)), 200);
  });

  test('a waiting multi-lock times out with lock_held naming the names that blocked', async () => {
    const b = expectStatus(await api.call('POST', '/v1/locks/t%2Fb/acquire', { ttlMs: 50_000 }), 200);
    const waiting = acquireAll(api, { locks: [{ name: 't/a' }, { name: 't/b' }], ttlMs: 2_000, waitMs: 500 });
    await queuedWaiters(api, 't/a', 1);
    api.advance(500);
    const error = expectError(await waiting, 409, 'lock_held');
    assert.deepEqual(error.names, ['t/b']);
    assert.equal(api.lockring.machine.locks.byName.has('t/a'), false);
    expectStatus(await api.call('POST', '/v1/locks/t%2Fb/release', { token: b.token }), 200);
  });

  test('released one by one, the lease lives until its last hold; together, all or none', async () => {
    const body = expectStatus(await acquireAll(api, { locks: [{ name: 'r/a' }, { name: 'r/b' }, { name: 'r/c' }], ttlMs: 2_000 }), 200);
    const [a, b, c] = refs(body);
    expectStatus(await api.call('POST', '/v1/locks/r%2Fa/release', { token: a!.token }), 200);
    expectStatus(await api.call('GET', `/v1/leases/${body.leaseId}`), 200);
    const refused = expectError(await releaseAll(api, [b!, a!, c!]), 409, 'not_holder');
    assert.equal(refused.name, 'r/a');
    assert.deepEqual(await holders(api, 'r/b'), [b!.token], 'a refused release releases nothing');
    const released = expectStatus(await releaseAll(api, [b!, c!]), 200);
    assert.deepEqual(released, { released: [b, c] });
    expectError(await api.call('GET', `/v1/leases/${body.leaseId}`), 404, 'lease_not_found');
  });

  test('a release of a hold and of another taken on its own lease answers both, ends each once, and frees both names', async () => {
    const own = expectStatus(await api.call('POST', '/v1/locks/o%2Fa/acquire', { ttlMs: 5_000 }), 200);
    const onIt = expectStatus(await api.call('POST', '/v1/locks/o%2Fb/acquire', { leaseId: own.leaseId }), 200);
    const holdsBefore = api.lockring.machine.locks.holdCount;
    // Releasing o/a ends its own lease, and o/b with it: o/b must not be ended a second time.
    const released = expectStatus(await releaseAll(api, [{ name: 'o/a', token: own.token }, { name: 'o/b', token: onIt.token }]), 200);
    assert.deepEqual(released, { released: [{ name: 'o/a', token: own.token }, { name: 'o/b', token: onIt.token }] });
    assert.equal(api.lockring.machine.locks.holdCount, holdsBefore - 2);
    expectError(await api.call('GET', '/v1/locks/o%2Fb'), 404, 'lock_not_found');
    const again = expectStatus(await api.call('POST', '/v1/locks/o%2Fb/acquire', { ttlMs: 5_000 }), 200);
    const seen = expectStatus(await api.call('GET', '/v1/locks/o%2Fb'), 200);
    assert.deepEqual(seen.holders.map((h: { token: number }) => h.token), [again.token]);
    expectStatus(await api.call('POST', '/v1/locks/o%2Fb/release', { token: again.token }), 200);
  });
});

describe('HTTP multi-locks: a client that hangs up', () => {
  let api: Api;
  let base = '';
  before(async () => {
    api = await startApi();
    base = await api.lockring.app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(() => api.close());

  test('takes its group out of every queue at once', async () => {
    const b = expectStatus(await api.call('POST', '/v1/locks/q%2Fb/acquire', { ttlMs: 50_000 }), 200);
    const controller = new AbortController();
    const abandoned = fetch(`${base}/v1/multi-locks/acquire`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
      body: JSON.stringify({ locks: [{ name: 'q/a' }, { name: 'q/b' }], ttlMs: 2_000, waitMs: 60_000 }),
    });
    await queuedWaiters(api, 'q/a', 1);
    controller.abort();
    await assert.rejects(abandoned);
    await queuedWaiters(api, 'q/b', 0);
    await settle();
    assert.equal(api.lockring.machine.locks.byName.has('q/a'), false);
    assert.equal(api.lockring.machine.locks.waiterCount, 0);
    expectStatus(await api.call('POST', '/v1/locks/q%2Fb/release', { token: b.token }), 200);
  });
});
