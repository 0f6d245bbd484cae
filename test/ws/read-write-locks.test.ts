import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, startServer } from './helpers.js';

describe('websocket read-write locks', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('lock.acquire with mode read shares; pushes about read holds say so, write pushes stay as they were', async () => {
    const watcher = await TestSocket.open(server.wsUrl);
    const actor = await TestSocket.open(server.wsUrl);
    const { watchId } = await watcher.call('watch', { topic: 'lock', name: 'rw' });
    const r1 = await actor.call('lock.acquire', { name: 'rw', ttlMs: 5_000, mode: 'read', owner: 'r1' });
    const r2 = await actor.call('lock.acquire', { name: 'rw', ttlMs: 5_000, mode: 'read', owner: 'r2' });
    assert.deepEqual([r1['mode'], r2['mode']], ['read', 'read']);
    const held = await actor.request('lock.acquire', { name: 'rw', ttlMs: 5_000 });
    assert.equal(held['ok'], false);
    assert.equal(held['error']['code'], 'lock_held');

    const checked = await actor.call('lock.check', { name: 'rw', token: r1['token'], mode: 'write' });
    assert.equal(checked['held'], false);
    const writer = actor.request('lock.acquire', { name: 'rw', ttlMs: 5_000, waitMs: 5_000, owner: 'w' });
    await actor.call('lock.release', { name: 'rw', token: r1['token'] });
    await actor.call('lock.release', { name: 'rw', token: r2['token'] });
    const w = await writer;
    assert.equal(w['mode'], 'write');

    const pushes = [];
    for (let i = 0; i < 5; i++) pushes.push(await watcher.push('lock'));
    assert.deepEqual(pushes, [
      { event: 'lock', watchId, type: 'acquired', name: 'rw', token: r1['token'], owner: 'r1', mode: 'read' },
      { event: 'lock', watchId, type: 'acquired', name: 'rw', token: r2['token'], owner: 'r2', mode: 'read' },
      { event: 'lock', watchId, type: 'released', name: 'rw', token: r1['token'], owner: 'r1', mode: 'read' },
      { event: 'lock', watchId, type: 'released', name: 'rw', token: r2['token'], owner: 'r2', mode: 'read' },
      { event: 'lock', watchId, type: 'acquired', name: 'rw', token: w['token'], owner: 'w' },
    ]);
    await Promise.all([watcher.close(), actor.close()]);
  });

  test('a bad mode is invalid_request naming the field; read on a semaphore is mode_mismatch', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const bad = await socket.request('lock.acquire', { name: 'm', ttlMs: 1_000, mode: 'upgrade' });
    assert.equal(bad['error']['code'], 'invalid_request');
    assert.equal(bad['error']['field'], 'mode');
    await socket.call('lock.acquire', { name: 'sem', ttlMs: 5_000, limit: 2 });
    const mismatch = await socket.request('lock.acquire', { name: 'sem', ttlMs: 5_000, mode: 'read' });
    assert.equal(mismatch['error']['code'], 'mode_mismatch');
    await socket.close();
  });
});
