import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, startServer } from './helpers.js';

describe('websocket bounded holds', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  test('the holder\'s socket gets hold_ended, lock watchers a max_hold push; keepalives do not stretch it', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const watcher = await TestSocket.open(server.wsUrl);
    const { watchId } = await watcher.call('watch', { topic: 'lock', name: 'ws-bounded' });
    const sentAt = performance.now();
    const grant = await holder.call('lock.acquire', { name: 'ws-bounded', ttlMs: 5_000, maxHoldMs: 300, owner: 'h' });
    assert.equal(grant['maxHoldMs'], 300);
    await holder.call('lease.keepalive', { leaseId: grant['leaseId'] });
    const ended = await holder.push('hold_ended');
    assert.ok(performance.now() - sentAt >= 300, 'not before maxHoldMs');
    assert.deepEqual(ended, { event: 'hold_ended', leaseId: grant['leaseId'], name: 'ws-bounded', token: grant['token'], reason: 'max_hold' });
    const pushed = await watcher.push('lock', (m) => m['type'] === 'max_hold');
    assert.deepEqual(pushed, { event: 'lock', watchId, type: 'max_hold', name: 'ws-bounded', token: grant['token'], owner: 'h' });
    // The hold's own lease ended with it, silently: no lease_expired follows.
    const refused = await holder.request('lease.keepalive', { leaseId: grant['leaseId'] });
    assert.equal(refused['error']['code'], 'lease_not_found');
    assert.equal(holder.pushesOf('lease_expired').length, 0);
    await Promise.all([holder.close(), watcher.close()]);
  });
});
