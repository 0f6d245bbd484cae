import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, startServer } from './helpers.js';

describe('websocket ring.lookup with previous and ring.diff', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ ringHistoryVersionsMax: 10 });
    for (const node of ['a', 'b']) assert.equal((await server.http('PUT', `/v1/rings/hw/nodes/${node}`, {})).status, 201);
    assert.equal((await server.http('PUT', '/v1/rings/hw/nodes/c', {})).status, 201);
  });
  after(() => server.close());

  test('ring.lookup with previous answers as the HTTP lookup does, for one key and for many', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const one = await socket.call('ring.lookup', { ring: 'hw', key: 'user:7', n: 2, previous: 3 });
    const http = (await server.http('GET', '/v1/rings/hw/lookup?key=user:7&n=2&previous=3')).body;
    assert.deepEqual({ ...one, id: undefined, ok: undefined }, { ...http, id: undefined, ok: undefined });
    assert.ok(Array.isArray(one['previous'].nodes) && one['previous'].version === 3);
    const many = await socket.call('ring.lookup', { ring: 'hw', keys: ['p', 'q'], previous: 2 });
    assert.deepEqual(many['previous'], { version: 2, nodes: [['a'], ['a']] });
    const gone = await socket.request('ring.lookup', { ring: 'hw', key: 'p', previous: 99 });
    assert.equal(gone['error'].code, 'version_unavailable');
    assert.equal(gone['error'].current, 4);
    await socket.close();
  });

  test('ring.diff answers the same ranges as GET .../diff, and checks its arguments', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const diff = await socket.call('ring.diff', { ring: 'hw', from: 3, to: 4, n: 2 });
    const http = (await server.http('GET', '/v1/rings/hw/diff?from=3&to=4&n=2')).body;
    assert.deepEqual(diff['ranges'], http.ranges);
    assert.ok(diff['ranges'].length > 0);
    const page = await socket.call('ring.diff', { ring: 'hw', from: 3, to: 4, limit: 1 });
    assert.equal(page['ranges'].length, 1);
    assert.equal(typeof page['next'], 'number');
    for (const args of [{ ring: 'hw', from: 0, to: 1 }, { ring: 'hw', from: 1 }, { ring: 'hw', from: 1, to: 2, start: -1 }, { ring: 'hw', from: 1, to: 2, extra: 1 }]) {
      const bad = await socket.request('ring.diff', args);
      assert.equal(bad['error'].code, 'invalid_request', JSON.stringify(args));
    }
    const missing = await socket.request('ring.diff', { ring: 'nope', from: 1, to: 2 });
    assert.equal(missing['error'].code, 'ring_not_found');
    await socket.close();
  });
});
