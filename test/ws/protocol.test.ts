import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, eventually, refusedUpgrade, startServer, within } from './helpers.js';

describe('websocket protocol: requests and replies', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('every op answers in the shapes of the contract', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const lease = await socket.call('lease.grant', { ttlMs: 5_000 });
    assert.equal(lease['ok'], true);
    assert.equal(typeof lease['leaseId'], 'string');
    assert.equal(lease['ttlMs'], 5_000);
    assert.equal(typeof lease['expiresAt'], 'number');

    const kept = await socket.call('lease.keepalive', { leaseId: lease['leaseId'], ttlMs: 6_000 });
    assert.deepEqual(Object.keys(kept).sort(), ['expiresAt', 'id', 'leaseId', 'ok', 'ttlMs']);
    assert.equal(kept['ttlMs'], 6_000);

    const grant = await socket.call('lock.acquire', { name: 'ops/a', leaseId: lease['leaseId'], owner: 'me' });
    assert.equal(grant['name'], 'ops/a');
    assert.equal(grant['leaseId'], lease['leaseId']);
    assert.equal(grant['owner'], 'me');
    assert.equal(grant['limit'], 1);
    assert.ok(Number.isInteger(grant['token']));

    assert.equal((await socket.call('lock.check', { name: 'ops/a', token: grant['token'] }))['held'], true);
    const held = await socket.request('lock.acquire', { name: 'ops/a', ttlMs: 1_000 });
    assert.equal(held['ok'], false);
    assert.equal(held['error'].code, 'lock_held');
    assert.equal(held['error'].holders[0].token, grant['token']);

    const revoked = await socket.call('lease.revoke', { leaseId: lease['leaseId'] });
    assert.deepEqual(revoked['released'], [{ name: 'ops/a', token: grant['token'] }]);
    assert.deepEqual(revoked['removed'], []);
    const gone = await socket.request('lease.keepalive', { leaseId: lease['leaseId'] });
    assert.equal(gone['error'].code, 'lease_not_found');

    const own = await socket.call('lock.acquire', { name: 'ops/b', ttlMs: 2_000 });
    assert.equal(own['ttlMs'], 2_000);
    const released = await socket.call('lock.release', { name: 'ops/b', token: own['token'] });
    assert.deepEqual({ ...released, id: undefined }, { id: undefined, ok: true, name: 'ops/b', token: own['token'], released: true });
    const again = await socket.request('lock.release', { name: 'ops/b', token: own['token'] });
    assert.equal(again['error'].code, 'not_holder');
    assert.equal(again['error'].reason, 'released');
    await socket.close();
  });

  test('ring.lookup answers one key like GET and many keys like POST', async () => {
    for (const [node, weight] of [['alpha', 1], ['beta', 1], ['gamma', 2]] as const) {
      assert.equal((await server.http('PUT', `/v1/rings/lk/nodes/${node}`, { weight })).status, 201);
    }
    const socket = await TestSocket.open(server.wsUrl);
    const one = await socket.call('ring.lookup', { ring: 'lk', key: 'user:1', n: 2 });
    assert.deepEqual(one['nodes'], ['gamma', 'alpha']);
    assert.equal(one['key'], 'user:1');
    assert.equal(one['version'], (await server.http('GET', '/v1/rings/lk')).body.version);
    const many = await socket.call('ring.lookup', { ring: 'lk', keys: ['user:2', 'user:3', 'order/9', 'ключ'], n: 2 });
    assert.deepEqual(many['nodes'], [['beta', 'gamma'], ['gamma', 'beta'], ['gamma', 'alpha'], ['beta', 'alpha']]);
    const stale = await socket.request('ring.lookup', { ring: 'lk', key: 'x', version: 2 });
    assert.equal(stale['error'].code, 'stale_ring');
    const both = await socket.request('ring.lookup', { ring: 'lk', key: 'x', keys: ['y'] });
    assert.equal(both['error'].code, 'invalid_request');
    const missing = await socket.request('ring.lookup', { ring: 'nope', key: 'x' });
    assert.equal(missing['error'].code, 'ring_not_found');
    await socket.close();
  });

  test('many requests in flight; a waiting acquire blocks none of them', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const grant = await holder.call('lock.acquire', { name: 'busy', ttlMs: 10_000 });
    const socket = await TestSocket.open(server.wsUrl);
    const waiting = socket.request('lock.acquire', { name: 'busy', ttlMs: 10_000, waitMs: 10_000 }, 'the-waiter');
    // 500 more requests, sent back to back without waiting for any reply.
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => socket.request('lock.check', { name: 'busy', token: grant['token'] }, i % 2 === 0 ? i + 1_000 : `s${i}`)),
    );
    replies.forEach((reply, i) => {
      assert.equal(reply['id'], i % 2 === 0 ? i + 1_000 : `s${i}`);
      assert.equal(reply['held'], true);
    });
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false, 'the waiter is still waiting');
    await holder.call('lock.release', { name: 'busy', token: grant['token'] });
    const granted = await waiting;
    assert.equal(granted['ok'], true);
    assert.equal(granted['id'], 'the-waiter');
    assert.ok(granted['token'] > grant['token']);
    await Promise.all([holder.close(), socket.close()]);
  });

  test('GET /v1/ws without an upgrade is invalid_request', async () => {
    const res = await server.http('GET', '/v1/ws');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
  });

  test('hundreds of bad frames are each answered and the socket stays open', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const frames = 300;
    for (let i = 0; i < frames; i++) socket.send(i % 3 === 0 ? 'nonsense' : i % 3 === 1 ? `{"id": "b${i}", "op": "lease.steal"}` : `{"id": "b${i}", "op": "lease.grant", "ttlMs": 1}`);
    await eventually(() => socket.log.length === frames, 'every bad frame answered');
    assert.ok(socket.log.every((m) => m['ok'] === false && m['error'].code === 'invalid_request'));
    assert.equal((await socket.call('lease.grant', { ttlMs: 1_000 }))['ok'], true, 'still open and serving');
    await socket.close();
  });
});

describe('websocket protocol: malformed frames', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ wsBadFramesPerSocketMax: 20, wsFrameBytesMax: 4_096 });
  });
  after(() => server.close());

  const bad = async (socket: TestSocket, frame: string, field: string, id: unknown = null): Promise<string> => {
    const reply = socket.next((m) => 'ok' in m, `reply to ${frame}`);
    socket.send(frame);
    const message = await reply;
    assert.equal(message['ok'], false, frame);
    assert.equal(message['id'], id, frame);
    assert.equal(message['error'].code, 'invalid_request', frame);
    assert.equal(message['error'].field, field, `${frame}: ${message['error'].message}`);
    return message['error'].message as string;
  };

  test('each gets invalid_request naming the field, and the socket stays open', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    assert.match(await bad(socket, '{"op": "lease.grant", "ttlMs": ', 'frame'), /not valid JSON/);
    await bad(socket, '[1, 2]', 'frame');
    await bad(socket, '"text"', 'frame');
    assert.match(await bad(socket, '{"id": {"x": 1}, "op": "lease.grant", "ttlMs": 1000}', 'id'), /id must be/);
    await bad(socket, '{"id": 1.5, "op": "lease.grant", "ttlMs": 1000}', 'id');
    assert.match(await bad(socket, '{"id": 7, "ttlMs": 1000}', 'op', 7), /op is required/);
    assert.match(await bad(socket, '{"id": "q", "op": "lease.steal"}', 'op', 'q'), /unknown op "lease.steal"/);
    assert.match(await bad(socket, '{"id": 8, "op": "lease.grant"}', 'ttlMs', 8), /ttlMs is required/);
    assert.match(await bad(socket, '{"id": 9, "op": "lease.grant", "ttlMs": "1000"}', 'ttlMs', 9), /ttlMs must be an integer from 100 to 86400000/);
    await bad(socket, '{"id": 10, "op": "lease.grant", "ttlMs": 99}', 'ttlMs', 10);
    await bad(socket, '{"id": 11, "op": "lease.grant", "ttlMs": 1000.5}', 'ttlMs', 11);
    assert.match(await bad(socket, '{"id": 12, "op": "lease.grant", "ttlMs": 1000, "extra": 1}', 'extra', 12), /unknown field extra/);
    await bad(socket, '{"id": 13, "op": "lock.acquire", "name": "a\\u0001b", "ttlMs": 1000}', 'name', 13);
    await bad(socket, '{"id": 14, "op": "lock.acquire", "name": "x", "ttlMs": 1000, "waitMs": 300001}', 'waitMs', 14);
    await bad(socket, '{"id": 15, "op": "watch", "topic": "queue", "name": "x"}', 'topic', 15);
    await bad(socket, '{"id": 16, "op": "watch", "topic": "lock", "name": "x", "prefix": "y"}', 'name', 16);
    await bad(socket, '{"id": 17, "op": "unwatch", "watchId": 99}', 'watchId', 17);
    const binary = socket.next((m) => 'ok' in m, 'reply to a binary frame');
    socket.send(Buffer.from('{"op":"lease.grant","ttlMs":1000}'), true);
    assert.equal((await binary)['error'].field, 'frame');
    const binaryWithId = socket.next((m) => 'ok' in m, 'reply to a binary frame with an id');
    socket.send(Buffer.from('{"id":18,"op":"lease.grant","ttlMs":1000}'), true);
    assert.deepEqual([(await binaryWithId)['id'], (await binaryWithId)['error'].field], [18, 'frame'], 'refused, under its id');
    // Still open and serving.
    assert.equal((await socket.call('lease.grant', { ttlMs: 1_000 }))['ok'], true);
    await socket.close();
  });

  test('with wsBadFramesPerSocketMax set, a socket that floods bad frames is closed (1008)', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    for (let i = 0; i < 25; i++) socket.send('nonsense');
    const { code } = await within(socket.closed, 5_000, 'flood close');
    assert.equal(code, 1008);
    const errors = socket.messages.filter((m) => m['ok'] === false);
    assert.equal(errors.length, 21, 'wsBadFramesPerSocketMax answered, then closed on the next');
  });

  test('a frame over wsFrameBytesMax closes the socket (1009)', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    socket.send(JSON.stringify({ op: 'lease.grant', ttlMs: 1_000, pad: 'x'.repeat(5_000) }));
    const { code } = await within(socket.closed, 5_000, 'oversize close');
    assert.equal(code, 1009);
  });
});

describe('websocket protocol: limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ wsSocketsMax: 3, wsInFlightPerSocketMax: 4, wsWatchesPerSocketMax: 3, wsWatchesMax: 5 });
  });
  after(() => server.close());

  test('in-flight requests per socket are bounded: limit_exceeded naming the limit', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    await holder.call('lock.acquire', { name: 'inflight', ttlMs: 10_000 });
    const socket = await TestSocket.open(server.wsUrl);
    const waits = Array.from({ length: 4 }, () => socket.request('lock.acquire', { name: 'inflight', ttlMs: 1_000, waitMs: 200 }));
    const refused = await socket.request('lock.acquire', { name: 'inflight', ttlMs: 1_000, waitMs: 200 });
    assert.equal(refused['error'].code, 'limit_exceeded');
    assert.equal(refused['error'].limit, 'wsInFlightPerSocketMax');
    for (const wait of await Promise.all(waits)) assert.equal(wait['error'].code, 'lock_held');
    assert.equal((await socket.call('lease.grant', { ttlMs: 1_000 }))['ok'], true, 'room again once they are answered');
    await Promise.all([holder.close(), socket.close()]);
  });

  test('watches per socket and in total are bounded', async () => {
    const a = await TestSocket.open(server.wsUrl);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await a.call('watch', { topic: 'lock', name: `w${i}` }))['watchId']);
    const perSocket = await a.request('watch', { topic: 'lock', name: 'w3' });
    assert.equal(perSocket['error'].limit, 'wsWatchesPerSocketMax');
    const b = await TestSocket.open(server.wsUrl);
    await b.call('watch', { topic: 'ring', ring: 'r' });
    await b.call('watch', { topic: 'lock', prefix: '' });
    const total = await b.request('watch', { topic: 'lock', prefix: 'p' });
    assert.equal(total['error'].code, 'limit_exceeded');
    assert.equal(total['error'].limit, 'wsWatchesMax');
    await a.call('unwatch', { watchId: ids[0] });
    assert.equal((await b.call('watch', { topic: 'lock', prefix: 'p' }))['ok'], true);
    const gone = server.disconnected();
    await a.close();
    await gone;
    assert.equal(server.hub.watches.size, 3, "a closed socket's watches go with it");
    await b.close();
  });

  test('sockets in total are bounded: the upgrade is refused with 429', async () => {
    await eventually(() => server.hub.connections.size === 0, 'earlier sockets to close');
    const open = await Promise.all([1, 2, 3].map(() => TestSocket.open(server.wsUrl)));
    const response = await refusedUpgrade(server.wsUrl);
    assert.equal(response.status, 429);
    assert.equal(response.body.error.code, 'limit_exceeded');
    assert.equal(response.body.error.limit, 'wsSocketsMax');
    await Promise.all(open.map((socket) => socket.close()));
  });
});
