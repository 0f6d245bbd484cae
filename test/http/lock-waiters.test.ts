// GET /v1/locks/{name}/waiters: the queue of a name, in grant order, a page at a time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, type Reply, expectError, expectStatus, queuedWaiters, seg, startApi } from '../helpers/http.js';

const acquire = (api: Api, name: string, body: Record<string, unknown>): Promise<Reply> =>
  api.call('POST', `/v1/locks/${seg(name)}/acquire`, body);

interface WaiterRow {
  position: number;
  owner: string;
  mode: string;
  leaseId: string | null;
  waitedMs: number;
  timesOutInMs: number;
}

describe('HTTP lock queue', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('waiters are listed in grant order with positions, a page at a time, and move up as the queue moves', async () => {
    const name = 'jobs/queue';
    const held = expectStatus(await acquire(api, name, { ttlMs: 60_000, owner: 'holder' }), 200);
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 60_000 }), 201);
    const first = acquire(api, name, { ttlMs: 60_000, waitMs: 60_000, owner: 'w1' });
    await queuedWaiters(api, name, 1);
    const second = acquire(api, name, { leaseId: lease.id, waitMs: 30_000, owner: 'w2', mode: 'read' });
    await queuedWaiters(api, name, 2);
    const third = acquire(api, name, { ttlMs: 60_000, waitMs: 60_000, owner: 'w3' });
    await queuedWaiters(api, name, 3);
    api.advance(1_000);

    const all = expectStatus(await api.call('GET', `/v1/locks/${seg(name)}/waiters`), 200);
    assert.equal(all.name, name);
    assert.equal(all.total, 3);
    assert.equal(all.next, undefined);
    const rows = all.waiters as WaiterRow[];
    assert.deepEqual(rows.map((w) => [w.position, w.owner, w.mode]), [[1, 'w1', 'write'], [2, 'w2', 'read'], [3, 'w3', 'write']]);
    assert.equal(rows[0]!.leaseId, null);
    assert.equal(rows[1]!.leaseId, lease.id);
    // On the manual clock, to the millisecond.
    assert.deepEqual(rows.map((w) => [w.waitedMs, w.timesOutInMs]), [[1_000, 59_000], [1_000, 29_000], [1_000, 59_000]]);
    // The inspect keeps `waiters` a count.
    assert.equal(expectStatus(await api.call('GET', `/v1/locks/${seg(name)}`), 200).waiters, 3);

    const page = expectStatus(await api.call('GET', `/v1/locks/${seg(name)}/waiters?limit=2`), 200);
    assert.deepEqual((page.waiters as WaiterRow[]).map((w) => w.owner), ['w1', 'w2']);
    assert.equal(page.next, 2);
    const rest = expectStatus(await api.call('GET', `/v1/locks/${seg(name)}/waiters?limit=2&after=${page.next}`), 200);
    assert.deepEqual((rest.waiters as WaiterRow[]).map((w) => [w.position, w.owner]), [[3, 'w3']]);
    assert.equal(rest.next, undefined);

    // The holder lets go: w1 is granted, the others move up one place.
    expectStatus(await api.call('POST', `/v1/locks/${seg(name)}/release`, { token: held.token }), 200);
    const granted = expectStatus(await first, 200);
    const moved = expectStatus(await api.call('GET', `/v1/locks/${seg(name)}/waiters`), 200);
    assert.deepEqual((moved.waiters as WaiterRow[]).map((w) => [w.position, w.owner]), [[1, 'w2'], [2, 'w3']]);
    assert.equal(moved.total, 2);

    expectStatus(await api.call('POST', `/v1/locks/${seg(name)}/release`, { token: granted.token }), 200);
    const reader = expectStatus(await second, 200);
    expectStatus(await api.call('POST', `/v1/locks/${seg(name)}/release`, { token: reader.token }), 200);
    const last = expectStatus(await third, 200);
    expectStatus(await api.call('POST', `/v1/locks/${seg(name)}/release`, { token: last.token }), 200);
  });

  test('a held name with nobody waiting has an empty queue; an idle name is 404; bad paging is 400 and changes nothing', async () => {
    const held = expectStatus(await acquire(api, 'quiet', { ttlMs: 60_000 }), 200);
    const empty = expectStatus(await api.call('GET', '/v1/locks/quiet/waiters'), 200);
    assert.deepEqual(empty, { name: 'quiet', total: 0, waiters: [] });
    expectError(await api.call('GET', '/v1/locks/nobody-here/waiters'), 404, 'lock_not_found');
    for (const query of ['limit=0', 'limit=1001', 'after=-1', 'after=x', 'other=1']) {
      const refused = await api.call('GET', `/v1/locks/quiet/waiters?${query}`);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error.code, 'invalid_request', query);
    }
    assert.equal(expectStatus(await api.call('GET', '/v1/locks/quiet'), 200).holders[0].token, held.token);
  });
});
