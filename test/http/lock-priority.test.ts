import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, expectError, expectInvalid, expectStatus, queuedWaiters, startApi } from '../helpers/http.js';

describe('HTTP lock priority and yield requests', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ limits: { priorityMax: 100, yieldGraceMsMax: 10_000 } });
  });
  after(() => api.close());

  test('the waiters page is in priority order and shows each priority; the grant and holders show theirs', async () => {
    const holder = expectStatus(await api.call('POST', '/v1/locks/order/acquire', { ttlMs: 60_000, priority: 3 }), 200);
    assert.equal(holder.priority, 3);
    const low = api.call('POST', '/v1/locks/order/acquire', { ttlMs: 60_000, waitMs: 60_000, owner: 'low' });
    await queuedWaiters(api, 'order', 1);
    const high = api.call('POST', '/v1/locks/order/acquire', { ttlMs: 60_000, waitMs: 60_000, owner: 'high', priority: 9 });
    await queuedWaiters(api, 'order', 2);
    const page = expectStatus(await api.call('GET', '/v1/locks/order/waiters'), 200);
    assert.deepEqual(page.waiters.map((w: { owner: string; priority: number }) => [w.owner, w.priority]), [['high', 9], ['low', 0]]);
    const view = expectStatus(await api.call('GET', '/v1/locks/order'), 200);
    assert.equal(view.holders[0].priority, 3);
    assert.equal('yieldBy' in view.holders[0], false, 'no yield request was made: the waiters gave no yieldGraceMs');
    expectStatus(await api.call('POST', '/v1/locks/order/release', { token: holder.token }), 200);
    const granted = expectStatus(await high, 200);
    assert.equal(granted.owner, 'high');
    expectStatus(await api.call('POST', '/v1/locks/order/release', { token: granted.token }), 200);
    expectStatus(await low, 200);
  });

  test('a yield request shows in check and inspect as yieldBy; at the grace the hold ends, reason preempted', async () => {
    const low = expectStatus(await api.call('POST', '/v1/locks/yield/acquire', { ttlMs: 60_000 }), 200);
    const askedAt = api.clock.wallMs();
    const high = api.call('POST', '/v1/locks/yield/acquire', { ttlMs: 60_000, waitMs: 60_000, priority: 1, yieldGraceMs: 2_000 });
    await queuedWaiters(api, 'yield', 1);
    const checked = expectStatus(await api.call('POST', '/v1/locks/yield/check', { token: low.token }), 200);
    assert.deepEqual(checked, { name: 'yield', token: low.token, held: true, yieldBy: askedAt + 2_000 });
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/yield'), 200).holders[0].yieldBy, askedAt + 2_000);
    api.advance(1_999);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/yield/check', { token: low.token }), 200).held, true);
    api.advance(1);
    const after = expectStatus(await api.call('POST', '/v1/locks/yield/check', { token: low.token }), 200);
    assert.deepEqual(after, { name: 'yield', token: low.token, held: false });
    assert.equal(expectError(await api.call('POST', '/v1/locks/yield/release', { token: low.token }), 409, 'not_holder').reason, 'preempted');
    assert.ok(expectStatus(await high, 200).token > low.token);
  });

  test('bad priority and yieldGraceMs are invalid_request naming the field', async () => {
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, priority: 101 }), 'priority');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, priority: -1 }), 'priority');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, priority: '1' }), 'priority');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, priority: 1, waitMs: 10, yieldGraceMs: 10_001 }), 'yieldGraceMs');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, waitMs: 10, yieldGraceMs: 10 }), 'yieldGraceMs');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, priority: 1, yieldGraceMs: 10 }), 'yieldGraceMs');
    expectError(await api.call('GET', '/v1/locks/bad'), 404, 'lock_not_found');
  });
});
