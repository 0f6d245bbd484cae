import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Api, expectError, expectStatus, startApi } from '../helpers/http.js';

let api: Api;
after(() => api?.close());

describe('GET /v1/rings/{ring}/shares', () => {
  test('shares add up to the whole hash space and match where keys actually go', async () => {
    api = await startApi();
    for (const [node, weight] of [['alpha', 1], ['beta', 1], ['gamma', 2], ['idle', 0]] as const) {
      await api.call('PUT', `/v1/rings/cache/nodes/${node}`, { weight });
    }
    const body = expectStatus(await api.call('GET', '/v1/rings/cache/shares'), 200);
    assert.equal(body.ring, 'cache');
    assert.equal(body.version, 5);
    assert.deepEqual(body.nodes.map((n: { id: string }) => n.id), ['alpha', 'beta', 'gamma', 'idle']);
    const share = Object.fromEntries(body.nodes.map((n: { id: string; share: number }) => [n.id, n.share]));
    const total = Object.values<number>(share).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-12, `total ${total}`);
    assert.equal(share['idle'], 0);
    // Where 4,000 keys really land (the ring's own lookup) agrees with the drawn shares.
    const keys = Array.from({ length: 4000 }, (_, i) => `key:${i}`);
    const owners = expectStatus(await api.call('POST', '/v1/rings/cache/lookup', { keys }), 200).nodes as string[][];
    for (const id of ['alpha', 'beta', 'gamma']) {
      const seen = owners.filter((nodes) => nodes[0] === id).length / keys.length;
      assert.ok(Math.abs(seen - share[id]) < 0.04, `${id}: share ${share[id]}, keys ${seen}`);
    }
  });

  test('a lone member owns everything; a missing ring is 404; query parameters are refused', async () => {
    await api.call('PUT', '/v1/rings/solo/nodes/only', { weight: 1 });
    assert.equal(expectStatus(await api.call('GET', '/v1/rings/solo/shares'), 200).nodes[0].share, 1);
    expectError(await api.call('GET', '/v1/rings/nope/shares'), 404, 'ring_not_found');
    expectError(await api.call('GET', '/v1/rings/solo/shares?x=1'), 400, 'invalid_request');
  });
});
