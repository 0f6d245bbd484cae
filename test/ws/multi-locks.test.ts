import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { type TestServer, TestSocket, eventually, startServer } from './helpers.js';

const refs = (reply: Record<string, any>) => reply['grants'].map((g: { name: string; token: number }) => ({ name: g.name, token: g.token }));

describe('websocket multi-locks', () => {
  let server: TestServer;
  const clock = new ManualClock();
  const advance = (ms: number) => {
    clock.advance(ms);
    server.lockring.machine.tick();
  };
  before(async () => {
    server = await startServer({}, { clock });
  });
  after(() => server.close());

  test('multilock.acquire grants every name on one lease; multilock.release gives them back together', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const granted = await socket.call('multilock.acquire', { locks: [{ name: 'ws-m/a' }, { name: 'ws-m/b', limit: 2 }], ttlMs: 5_000, owner: 'c' });
    assert.deepEqual(granted['grants'].map((g: { name: string; leaseId: string }) => [g.name, g.leaseId]), [['ws-m/a', granted['leaseId']], ['ws-m/b', granted['leaseId']]]);
    const refused = await socket.request('multilock.release', { holds: [...refs(granted), { name: 'ws-m/z', token: 1 }] });
    assert.equal(refused['error']['code'], 'not_holder');
    assert.equal(refused['error']['name'], 'ws-m/z');
    const released = await socket.call('multilock.release', { holds: refs(granted) });
    assert.deepEqual(released['released'], refs(granted));
    assert.equal(server.lockring.machine.locks.byName.size, 0);
    await socket.close();
  });

  test('a waiting multilock.acquire is answered when the last name frees; cancel takes it out of every queue', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const waiter = await TestSocket.open(server.wsUrl);
    const b = await holder.call('lock.acquire', { name: 'ws-w/b', ttlMs: 50_000 });
    const cancelled = waiter.request('multilock.acquire', { locks: [{ name: 'ws-w/a' }, { name: 'ws-w/b' }], ttlMs: 5_000, waitMs: 30_000 }, 'first');
    await eventually(() => server.lockring.machine.locks.waiterCount === 2, 'two entries queued');
    await waiter.call('cancel', { requestId: 'first' });
    const reply = await cancelled;
    assert.equal(reply['error']['code'], 'invalid_request');
    assert.equal(server.lockring.machine.locks.waiterCount, 0);

    const waiting = waiter.request('multilock.acquire', { locks: [{ name: 'ws-w/a' }, { name: 'ws-w/b' }], ttlMs: 5_000, waitMs: 30_000 }, 'second');
    await eventually(() => server.lockring.machine.locks.waiterCount === 2, 'two entries queued again');
    await holder.call('lock.release', { name: 'ws-w/b', token: b['token'] });
    const granted = await waiting;
    assert.equal(granted['ok'], true);
    assert.deepEqual(granted['grants'].map((g: { name: string }) => g.name), ['ws-w/a', 'ws-w/b']);
    await waiter.call('multilock.release', { holds: refs(granted) });
    await Promise.all([holder.close(), waiter.close()]);
  });

  test('the socket hears of the group lease\'s end with every hold on it, and of a bounded hold\'s own end', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const granted = await socket.call('multilock.acquire', { locks: [{ name: 'ws-e/a' }, { name: 'ws-e/b' }], ttlMs: 1_000 });
    advance(1_000);
    const expired = await socket.push('lease_expired');
    assert.deepEqual(expired, { event: 'lease_expired', leaseId: granted['leaseId'], reason: 'expired', released: refs(granted) });

    const bounded = await socket.call('multilock.acquire', { locks: [{ name: 'ws-e/c' }, { name: 'ws-e/d' }], ttlMs: 10_000, maxHoldMs: 200 });
    await socket.call('lock.release', { name: 'ws-e/c', token: bounded['grants'][0]['token'] });
    advance(200);
    const ended = await socket.push('hold_ended');
    assert.deepEqual(ended, { event: 'hold_ended', leaseId: bounded['leaseId'], name: 'ws-e/d', token: bounded['grants'][1]['token'], reason: 'max_hold' });
    await socket.close();
  });
});
