import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, startServer } from './helpers.js';

describe('websocket lock priority and yield requests', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('the holder\'s socket gets yield_requested, then hold_ended preempted; lock watchers see both', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const asker = await TestSocket.open(server.wsUrl);
    const watcher = await TestSocket.open(server.wsUrl);
    const { watchId } = await watcher.call('watch', { topic: 'lock', name: 'ws-yield' });
    const grant = await holder.call('lock.acquire', { name: 'ws-yield', ttlMs: 5_000, owner: 'h', priority: 1 });
    assert.equal(grant['priority'], 1);
    const waiting = asker.call('lock.acquire', { name: 'ws-yield', ttlMs: 5_000, waitMs: 5_000, priority: 2, yieldGraceMs: 200 });
    const asked = await holder.push('yield_requested');
    assert.deepEqual(Object.keys(asked).sort(), ['event', 'graceMs', 'leaseId', 'name', 'token', 'yieldBy']);
    assert.deepEqual([asked['leaseId'], asked['name'], asked['token'], asked['graceMs']], [grant['leaseId'], 'ws-yield', grant['token'], 200]);
    const watched = await watcher.push('lock', (m) => m['type'] === 'yield_requested');
    assert.deepEqual(watched, { event: 'lock', watchId, type: 'yield_requested', name: 'ws-yield', token: grant['token'], owner: 'h', yieldBy: asked['yieldBy'] });
    const checked = await holder.call('lock.check', { name: 'ws-yield', token: grant['token'] });
    assert.equal(checked['yieldBy'], asked['yieldBy']);
    const ended = await holder.push('hold_ended');
    assert.deepEqual(ended, { event: 'hold_ended', leaseId: grant['leaseId'], name: 'ws-yield', token: grant['token'], reason: 'preempted' });
    await watcher.push('lock', (m) => m['type'] === 'preempted' && m['token'] === grant['token']);
    assert.equal((await waiting)['priority'], 2);
    assert.equal(holder.pushesOf('lease_expired').length, 0, 'the hold\'s own lease went with it silently');
    await Promise.all([holder.close(), asker.close(), watcher.close()]);
  });

  test('released within the grace: no hold_ended follows and the waiter gets the lock at the release', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const asker = await TestSocket.open(server.wsUrl);
    const grant = await holder.call('lock.acquire', { name: 'ws-yield-2', ttlMs: 5_000 });
    const waiting = asker.call('lock.acquire', { name: 'ws-yield-2', ttlMs: 5_000, waitMs: 5_000, priority: 1, yieldGraceMs: 5_000 });
    await holder.push('yield_requested');
    await holder.call('lock.release', { name: 'ws-yield-2', token: grant['token'] });
    assert.ok((await waiting)['token'] > grant['token']);
    assert.equal(holder.pushesOf('hold_ended').length, 0);
    await Promise.all([holder.close(), asker.close()]);
  });
});
