import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, type Reply, expectError, expectInvalid, expectStatus, queuedWaiters, seg, startApi } from '../helpers/http.js';

const acquire = (api: Api, name: string, body: Record<string, unknown>): Promise<Reply> =>
  api.call('POST', `/v1/locks/${seg(name)}/acquire`, body);

describe('HTTP read-write locks', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ limits: { readersPerLockMax: 3 } });
  });
  after(() => api.close());

  test('readers share a lock; GET shows each holder\'s mode; a writer is refused', async () => {
    const a = expectStatus(await acquire(api, 'shared', { ttlMs: 5_000, mode: 'read', owner: 'a' }), 200);
    const b = expectStatus(await acquire(api, 'shared', { ttlMs: 5_000, mode: 'read', owner: 'b' }), 200);
    assert.equal(a.mode, 'read');
    assert.ok(b.token > a.token);
    const view = expectStatus(await api.call('GET', '/v1/locks/shared'), 200);
    assert.deepEqual(view.holders.map((h: { mode: string }) => h.mode), ['read', 'read']);
    assert.equal(view.limit, 1);
    const refused = expectError(await acquire(api, 'shared', { ttlMs: 5_000 }), 409, 'lock_held');
    assert.deepEqual(refused.holders.map((h: { mode: string }) => h.mode), ['read', 'read']);
  });

  test('check with mode: a reader\'s token is not held in write mode', async () => {
    const r = expectStatus(await acquire(api, 'checked', { ttlMs: 5_000, mode: 'read' }), 200);
    const asRead = expectStatus(await api.call('POST', '/v1/locks/checked/check', { token: r.token, mode: 'read' }), 200);
    const asWrite = expectStatus(await api.call('POST', '/v1/locks/checked/check', { token: r.token, mode: 'write' }), 200);
    const any = expectStatus(await api.call('POST', '/v1/locks/checked/check', { token: r.token }), 200);
    assert.deepEqual([asRead.held, asWrite.held, any.held], [true, false, true]);
    expectInvalid(await api.call('POST', '/v1/locks/checked/check', { token: r.token, mode: 'both' }), 'mode');
    // Release keeps its body exactly: no mode there.
    expectInvalid(await api.call('POST', '/v1/locks/checked/release', { token: r.token, mode: 'read' }), 'mode');
  });

  test('bad modes: unknown value, read with a limit above 1, read on a semaphore', async () => {
    expectInvalid(await acquire(api, 'bad', { ttlMs: 1_000, mode: 'exclusive' }), 'mode');
    expectInvalid(await acquire(api, 'bad', { ttlMs: 1_000, mode: 'read', limit: 2 }), 'mode');
    expectStatus(await acquire(api, 'pool', { ttlMs: 5_000, limit: 4 }), 200);
    const mismatch = expectError(await acquire(api, 'pool', { ttlMs: 5_000, mode: 'read' }), 409, 'mode_mismatch');
    assert.equal(mismatch.limit, 4);
    assert.equal(mismatch.mode, 'read');
    expectError(await api.call('GET', '/v1/locks/bad'), 404, 'lock_not_found');
  });

  test('a reader behind a waiting writer waits for it; readers at the head go together', async () => {
    const r1 = expectStatus(await acquire(api, 'fifo', { ttlMs: 5_000, mode: 'read' }), 200);
    const writer = acquire(api, 'fifo', { ttlMs: 5_000, waitMs: 10_000, owner: 'w' });
    await queuedWaiters(api, 'fifo', 1);
    const r2 = acquire(api, 'fifo', { ttlMs: 5_000, waitMs: 10_000, mode: 'read', owner: 'r2' });
    const r3 = acquire(api, 'fifo', { ttlMs: 5_000, waitMs: 10_000, mode: 'read', owner: 'r3' });
    await queuedWaiters(api, 'fifo', 3);
    expectStatus(await api.call('POST', '/v1/locks/fifo/release', { token: r1.token }), 200);
    const w = expectStatus(await writer, 200);
    assert.equal(w.mode, 'write');
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/fifo'), 200).waiters, 2);
    expectStatus(await api.call('POST', '/v1/locks/fifo/release', { token: w.token }), 200);
    const [g2, g3] = [expectStatus(await r2, 200), expectStatus(await r3, 200)];
    assert.deepEqual([g2.mode, g3.mode], ['read', 'read']);
    assert.ok(g2.token > w.token && g3.token > g2.token, 'tokens in grant order');
  });

  test('readersPerLockMax bounds the readers; the next try-lock reader is lock_held', async () => {
    for (let i = 0; i < 3; i++) expectStatus(await acquire(api, 'bounded', { ttlMs: 5_000, mode: 'read' }), 200);
    expectError(await acquire(api, 'bounded', { ttlMs: 5_000, mode: 'read' }), 409, 'lock_held');
  });
});
