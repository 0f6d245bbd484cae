import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, startServer } from './helpers.js';

describe('websocket locks and watches', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const disconnected = (): Promise<unknown> => server.disconnected();

  test('a waiter is granted by its delayed reply when the holder releases', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const waiter = await TestSocket.open(server.wsUrl);
    const held = await holder.call('lock.acquire', { name: 'handoff', ttlMs: 10_000, owner: 'first' });
    const watch = await waiter.call('watch', { topic: 'lock', name: 'handoff' });
    const waiting = waiter.request('lock.acquire', { name: 'handoff', ttlMs: 10_000, waitMs: 10_000, owner: 'second' });
    assert.equal((await server.http('GET', '/v1/locks/handoff')).body.waiters, 1);
    await holder.call('lock.release', { name: 'handoff', token: held['token'] });
    const granted = await waiting;
    assert.equal(granted['ok'], true);
    assert.equal(granted['owner'], 'second');
    assert.ok(granted['token'] > held['token']);
    const [released, acquired] = [await waiter.push('lock'), await waiter.push('lock')];
    assert.deepEqual(released, { event: 'lock', watchId: watch['watchId'], type: 'released', name: 'handoff', token: held['token'], owner: 'first' });
    assert.deepEqual(acquired, { event: 'lock', watchId: watch['watchId'], type: 'acquired', name: 'handoff', token: granted['token'], owner: 'second' });
    await Promise.all([holder.close(), waiter.close()]);
  });

  test('lock watches by name and by prefix see acquired, released, expired and revoked', async () => {
    const watcher = await TestSocket.open(server.wsUrl);
    const actor = await TestSocket.open(server.wsUrl);
    const byName = (await watcher.call('watch', { topic: 'lock', name: 'jobs/1' }))['watchId'];
    const byPrefix = (await watcher.call('watch', { topic: 'lock', prefix: 'jobs/' }))['watchId'];
    const everything = (await watcher.call('watch', { topic: 'lock', prefix: '' }))['watchId'];
    await watcher.call('watch', { topic: 'lock', prefix: 'other/' });

    const a = await actor.call('lock.acquire', { name: 'jobs/1', ttlMs: 5_000, owner: 'o' });
    const b = await actor.call('lock.acquire', { name: 'jobs/2', ttlMs: 150 });
    const lease = await actor.call('lease.grant', { ttlMs: 5_000 });
    const c = await actor.call('lock.acquire', { name: 'jobs', leaseId: lease['leaseId'] });
    await actor.call('lock.release', { name: 'jobs/1', token: a['token'] });
    await actor.call('lease.revoke', { leaseId: lease['leaseId'] });
    const expired = await watcher.push('lock', (m) => m['type'] === 'expired' && m['watchId'] === byPrefix);

    const seen = watcher.messages.concat([expired]).filter((m) => m['event'] === 'lock');
    const of = (watchId: number): string[] => seen.filter((m) => m['watchId'] === watchId).map((m) => `${m['type']} ${m['name']} ${m['token']}`);
    assert.deepEqual(of(byName), [`acquired jobs/1 ${a['token']}`, `released jobs/1 ${a['token']}`]);
    assert.deepEqual(of(byPrefix).sort(), [
      `acquired jobs/1 ${a['token']}`, `acquired jobs/2 ${b['token']}`, `expired jobs/2 ${b['token']}`, `released jobs/1 ${a['token']}`,
    ].sort());
    await watcher.push('lock', (m) => m['watchId'] === everything && m['type'] === 'expired');
    const all = watcher.messages.concat([expired]).filter((m) => m['watchId'] === everything).map((m) => `${m['type']} ${m['name']}`);
    assert.ok(all.includes('acquired jobs') && all.includes('revoked jobs'), all.join(', '));
    assert.ok(!seen.some((m) => m['name'] === 'jobs' && m['watchId'] === byPrefix), '"jobs" does not start with "jobs/"');
    assert.equal(c['name'], 'jobs');
    await Promise.all([watcher.close(), actor.close()]);
  });

  test('unwatch stops the pushes', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const watchId = (await socket.call('watch', { topic: 'lock', name: 'quiet' }))['watchId'];
    assert.deepEqual(Object.keys(await socket.call('unwatch', { watchId })).sort(), ['id', 'ok']);
    await socket.call('lock.acquire', { name: 'quiet', ttlMs: 1_000 });
    await socket.call('lease.grant', { ttlMs: 1_000 });
    assert.deepEqual(socket.pushesOf('lock'), []);
    await socket.close();
  });

  test('cancel withdraws a waiting acquire; a closed socket takes its waiters out at once', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    await holder.call('lock.acquire', { name: 'queue', ttlMs: 10_000 });
    const socket = await TestSocket.open(server.wsUrl);
    const waiting = socket.request('lock.acquire', { name: 'queue', ttlMs: 1_000, waitMs: 10_000 }, 'w1');
    // Never answered: its socket is killed below.
    socket.request('lock.acquire', { name: 'queue', ttlMs: 1_000, waitMs: 10_000 }, 'w2').catch(() => {});
    assert.equal((await socket.call('cancel', { requestId: 'w1' }))['cancelled'], true);
    const cancelled = await waiting;
    assert.equal(cancelled['error'].code, 'invalid_request');
    assert.match(cancelled['error'].message, /cancelled/);
    assert.equal((await socket.call('cancel', { requestId: 'w1' }))['cancelled'], false);
    assert.equal((await server.http('GET', '/v1/locks/queue')).body.waiters, 1);
    const gone = disconnected();
    await socket.kill();
    await gone;
    assert.equal((await server.http('GET', '/v1/locks/queue')).body.waiters, 0);
    await holder.close();
  });

  test('ring watches push each change with version and members, then the deletion', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const watchId = (await socket.call('watch', { topic: 'ring', ring: 'cache' }))['watchId'];
    await server.http('PUT', '/v1/rings/cache', { vnodes: 8 });
    await server.http('PUT', '/v1/rings/cache/nodes/b', { weight: 2 });
    await server.http('PUT', '/v1/rings/cache/nodes/a', { meta: { zone: 1 } });
    await server.http('DELETE', '/v1/rings/cache/nodes/b');
    await server.http('DELETE', '/v1/rings/cache');
    const pushes = [];
    for (let i = 0; i < 5; i++) pushes.push(await socket.push('ring'));
    assert.deepEqual(pushes, [
      { event: 'ring', watchId, ring: 'cache', type: 'changed', version: 1, nodes: [] },
      { event: 'ring', watchId, ring: 'cache', type: 'changed', version: 2, nodes: [{ id: 'b', weight: 2 }] },
      { event: 'ring', watchId, ring: 'cache', type: 'changed', version: 3, nodes: [{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }] },
      { event: 'ring', watchId, ring: 'cache', type: 'changed', version: 4, nodes: [{ id: 'a', weight: 1 }] },
      { event: 'ring', watchId, ring: 'cache', type: 'deleted', version: 4, nodes: [] },
    ]);
    await socket.close();
  });

  test('1,000 watchers on 1,000 sockets all receive one event', async () => {
    const sockets = await Promise.all(Array.from({ length: 1_000 }, () => TestSocket.open(server.wsUrl, {}, 30_000)));
    await Promise.all(
      sockets.map((socket, i) => socket.call('watch', i % 2 === 0 ? { topic: 'lock', name: 'hot/key' } : { topic: 'lock', prefix: 'hot/' })),
    );
    const actor = await TestSocket.open(server.wsUrl);
    const grant = await actor.call('lock.acquire', { name: 'hot/key', ttlMs: 5_000, owner: 'x' });
    const pushes = await Promise.all(sockets.map((socket) => socket.push('lock', () => true, 10_000)));
    for (const push of pushes) {
      assert.equal(push['type'], 'acquired');
      assert.equal(push['token'], grant['token']);
    }
    await Promise.all([...sockets, actor].map((socket) => socket.kill()));
  });
});
