import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TestSocket, refusedUpgrade, startServer, within } from './helpers.js';

const metric = async (base: string, name: string): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
};

describe('websocket backpressure', () => {
  test('a reader that stops reading is closed with 1013 and counted; other sockets keep being served', async () => {
    const server = await startServer({ wsSendBufferBytesMax: 64 * 1024 });
    try {
      await server.http('PUT', '/v1/rings/bp/nodes/alpha', {});
      await server.http('PUT', '/v1/rings/bp/nodes/beta', {});
      await server.http('PUT', '/v1/rings/bp/nodes/gamma', {});
      const slowSide = new Promise((resolve) => server.hub.once('connection', resolve));
      const slow = await TestSocket.open(server.wsUrl);
      const slowConnection = await slowSide;
      const other = await TestSocket.open(server.wsUrl);
      assert.equal(await metric(server.base, 'lockring_ws_connections'), 2);
      const slowClosed = within(
        new Promise<void>((resolve) => server.hub.on('disconnection', (c) => c === slowConnection && resolve())),
        20_000,
        'the slow reader to be closed',
      );
      // The slow socket stops reading (its TCP window fills) but keeps asking for big replies.
      slow.ws.pause();
      const keys = Array.from({ length: 2_000 }, (_, i) => `key-${i}`);
      for (let i = 0; i < 300; i++) slow.send(JSON.stringify({ id: i, op: 'ring.lookup', ring: 'bp', keys, n: 3 }));
      // Meanwhile the other socket is answered as usual.
      const served = (async () => {
        for (let i = 0; i < 20; i++) assert.equal((await other.call('lease.grant', { ttlMs: 1_000 }))['ok'], true);
      })();
      await slowClosed;
      // Read again at once: the server cuts a socket that does not finish closing within 1 s.
      slow.ws.resume();
      await served;
      assert.equal(await metric(server.base, 'lockring_ws_slow_closed_total'), 1);
      assert.equal((await other.call('ring.lookup', { ring: 'bp', key: 'k' }))['ok'], true);
      const { code } = await within(slow.closed, 10_000, 'the slow reader to see the close');
      assert.equal(code, 1013);
      assert.equal(await metric(server.base, 'lockring_ws_connections'), 1);
      assert.ok((await metric(server.base, 'lockring_ws_messages_total{direction="out"}')) > 20);
      await other.close();
    } finally {
      await server.close();
    }
  });
});

describe('websocket upgrade goes through the fastify hooks', () => {
  test('an onRequest hook (auth) decides before any socket exists', async () => {
    const server = await startServer({}, {}, {
      beforeListen: (lockring) =>
        lockring.app.addHook('onRequest', async (request, reply) => {
          if (request.url.startsWith('/v1') && request.headers.authorization !== 'Bearer let-me-in') {
            return reply.code(401).send({ error: { code: 'unauthorized', message: 'no valid token' } });
          }
        }),
    });
    try {
      const refused = await refusedUpgrade(server.wsUrl);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'unauthorized');
      const socket = await TestSocket.open(server.wsUrl, { headers: { authorization: 'Bearer let-me-in' } });
      assert.equal((await socket.call('lease.grant', { ttlMs: 1_000 }))['ok'], true);
      await socket.close();
    } finally {
      await server.close();
    }
  });

  test('a server still recovering refuses the upgrade with 503 not_ready', async () => {
    const server = await startServer({}, {}, { start: false });
    try {
      const refused = await refusedUpgrade(server.wsUrl);
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, 'not_ready');
    } finally {
      await server.close();
    }
  });

  test('closing the server closes its sockets with 1001', async () => {
    const server = await startServer();
    const socket = await TestSocket.open(server.wsUrl);
    await socket.call('lock.acquire', { name: 'x', ttlMs: 5_000 });
    const waiting = socket.request('lock.acquire', { name: 'x', ttlMs: 1_000, waitMs: 100_000 });
    await socket.call('lock.check', { name: 'x', token: 1 });
    await server.close();
    assert.equal((await waiting)['error'].code, 'not_ready', 'a queued acquire is answered before the close');
    assert.equal((await within(socket.closed, 5_000, 'close'))['code'], 1001);
  });
});
