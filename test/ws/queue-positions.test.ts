// `lock.acquire` with `positions: true`: a waiting acquire is pushed its place in the queue.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/domain/clock.js';
import { type TestServer, TestSocket, eventually, startServer } from './helpers.js';

describe('websocket queue positions', () => {
  const clock = new ManualClock();
  let server: TestServer;
  before(async () => {
    server = await startServer({}, { clock });
  });
  after(() => server.close());

  const queued = (name: string, count: number): Promise<void> =>
    eventually(() => (server.lockring.machine.locks.byName.get(name)?.waiterCount ?? 0) === count, `${name} to have ${count} waiters`);
  /** Moves the manual clock and runs every deadline now due, in one turn. */
  const advance = (ms: number): void => {
    clock.advance(ms);
    server.lockring.machine.tick();
  };
  const positionsOf = (socket: TestSocket, id: string): number[] =>
    socket.log.filter((m) => m['event'] === 'position' && m['id'] === id).map((m) => m['position'] as number);
  /** `name` held by `holder`; `others` queues behind it (with `lease` to end), `socket` asks for positions. */
  const heldQueue = async (name: string): Promise<Record<'holder' | 'others' | 'socket', TestSocket> & Record<'held' | 'lease', Record<string, any>>> => {
    const [holder, others, socket] = await Promise.all([1, 2, 3].map(() => TestSocket.open(server.wsUrl))) as [TestSocket, TestSocket, TestSocket];
    const held = await holder.call('lock.acquire', { name, ttlMs: 600_000 });
    const lease = await others.call('lease.grant', { ttlMs: 600_000 });
    return { holder, others, socket, held, lease };
  };
  /** A round trip on `socket`: every push computed before it has arrived once it answers. */
  const roundTrip = async (socket: TestSocket): Promise<void> => {
    await socket.call('lock.check', { name: 'nothing', token: 1 });
  };

  test('a waiter is told its place when queued and each time a waiter ahead leaves: granted, timed out, lease ended, cancelled', async () => {
    const name = 'positions/each-way';
    const { holder, others, socket, held, lease } = await heldQueue(name);
    const granted = others.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, owner: 'granted' }, 'g');
    await queued(name, 1);
    const timesOut = others.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 1_000, owner: 'times-out' }, 't');
    await queued(name, 2);
    const leaseEnds = others.request('lock.acquire', { name, leaseId: lease['leaseId'], waitMs: 60_000, owner: 'lease-ends' }, 'l');
    await queued(name, 3);
    const cancelled = others.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, owner: 'cancelled' }, 'c');
    await queued(name, 4);
    const waiting = socket.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, owner: 'me', positions: true }, 'w');

    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 5, total: 5 });
    await holder.call('lock.release', { name, token: held['token'] });
    const first = await granted;
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 4, total: 4 });
    advance(1_000);
    assert.equal((await timesOut)['error']['code'], 'lock_held');
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 3, total: 3 });
    await others.call('lease.revoke', { leaseId: lease['leaseId'] });
    assert.equal((await leaseEnds)['error']['code'], 'lease_not_found');
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 2, total: 2 });
    assert.equal((await others.call('cancel', { requestId: 'c' }))['cancelled'], true);
    assert.equal((await cancelled)['ok'], false);
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 1, total: 1 });

    await others.call('lock.release', { name, token: first['token'] });
    const mine = await waiting;
    assert.equal(mine['owner'], 'me');
    await roundTrip(socket);
    assert.deepEqual(positionsOf(socket, 'w'), [5, 4, 3, 2, 1], 'one push per change, none after the reply');
    const replyAt = socket.log.findIndex((m) => m['id'] === 'w' && 'ok' in m);
    assert.ok(socket.log.slice(replyAt).every((m) => m['event'] !== 'position'));
    // Only the asker is pushed positions.
    assert.deepEqual(others.pushesOf('position'), []);
    assert.equal(server.hub.positions.size, 0, 'nothing is kept for a lock after its last asker');
    await Promise.all([holder.close(), others.close(), socket.close()]);
  });

  test('waiters leaving together give one push with the latest place: in one command, and in one turn of several', async () => {
    const name = 'positions/burst';
    const { holder, others, socket, held, lease } = await heldQueue(name);
    const onLease = [1, 2, 3].map((i) => others.request('lock.acquire', { name, leaseId: lease['leaseId'], waitMs: 60_000 }, `lease-${i}`));
    await queued(name, 3);
    const shortWaits = [1, 2, 3].map((i) => others.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 2_000 }, `short-${i}`));
    await queued(name, 6);
    const waiting = socket.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, positions: true }, 7);
    assert.equal((await socket.push('position'))['position'], 7);

    // One command (the revoke) takes three waiters out of the queue.
    await others.call('lease.revoke', { leaseId: lease['leaseId'] });
    await Promise.all(onLease);
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 7, name, position: 4, total: 4 });
    // Three timeouts in one tick: three commands in one turn of the event loop.
    advance(2_000);
    for (const reply of await Promise.all(shortWaits)) assert.equal(reply['error']['code'], 'lock_held');
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 7, name, position: 1, total: 1 });
    await roundTrip(socket);
    assert.deepEqual(socket.log.filter((m) => m['event'] === 'position').map((m) => m['position']), [7, 4, 1]);

    await holder.call('lock.release', { name, token: held['token'] });
    assert.equal((await waiting)['ok'], true);
    await Promise.all([holder.close(), others.close(), socket.close()]);
  });

  test('a waiter that is granted or times out in the turn it moved gets its reply and no push for that move', async () => {
    const name = 'positions/no-late-push';
    const holder = await TestSocket.open(server.wsUrl);
    const socket = await TestSocket.open(server.wsUrl);
    const held = await holder.call('lock.acquire', { name, ttlMs: 600_000 });
    const ahead = holder.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000 }, 'ahead');
    await queued(name, 1);
    const first = socket.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 3_000, positions: true }, 'a');
    const second = socket.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, positions: true }, 'b');
    await queued(name, 3);
    await socket.push('position', (m) => m['id'] === 'b');
    await socket.push('position', (m) => m['id'] === 'a');
    // The one ahead is granted, and in the same turn `a` times out: only `b` hears of it.
    clock.advance(3_000);
    server.lockring.machine.run((m) => m.locks.release(name, held['token']));
    server.lockring.machine.tick();
    assert.equal((await first)['error']['code'], 'lock_held');
    assert.deepEqual(await socket.push('position', (m) => m['id'] === 'b'), { event: 'position', id: 'b', name, position: 1, total: 1 });
    await roundTrip(socket);
    assert.deepEqual(positionsOf(socket, 'a'), [2]);
    assert.deepEqual(positionsOf(socket, 'b'), [3, 1]);
    const granted = await ahead;
    await holder.call('lock.release', { name, token: granted['token'] });
    assert.equal((await second)['ok'], true);
    await Promise.all([holder.close(), socket.close()]);
  });

  test('a higher-priority waiter queued ahead moves a waiter back: it is pushed its new place', async () => {
    const name = 'positions/priority';
    const { holder, others, socket, held } = await heldQueue(name);
    const waiting = socket.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, positions: true }, 'w');
    assert.deepEqual(await socket.push('position'), { event: 'position', id: 'w', name, position: 1, total: 1 });
    const urgent = others.request('lock.acquire', { name, ttlMs: 600_000, waitMs: 60_000, priority: 5 }, 'u');
    assert.deepEqual(await socket.push('position', (m) => m['position'] === 2), { event: 'position', id: 'w', name, position: 2, total: 2 });
    await holder.call('lock.release', { name, token: held['token'] });
    const first = await urgent;
    assert.equal(first['ok'], true, 'the higher priority is granted first');
    assert.deepEqual(await socket.push('position', (m) => m['position'] === 1), { event: 'position', id: 'w', name, position: 1, total: 1 });
    await others.call('lock.release', { name, token: first['token'] });
    assert.equal((await waiting)['ok'], true);
    assert.deepEqual(positionsOf(socket, 'w'), [1, 2, 1]);
    await Promise.all([holder.close(), others.close(), socket.close()]);
  });

  test('a waiting multi-lock with positions is pushed its place in each of its queues', async () => {
    const [holder, socket] = await Promise.all([1, 2].map(() => TestSocket.open(server.wsUrl))) as [TestSocket, TestSocket];
    const a = await holder.call('lock.acquire', { name: 'positions/m-a', ttlMs: 600_000 });
    const b = await holder.call('lock.acquire', { name: 'positions/m-b', ttlMs: 600_000 });
    const ahead = holder.request('lock.acquire', { name: 'positions/m-b', ttlMs: 600_000, waitMs: 60_000 }, 'ahead');
    await queued('positions/m-b', 1);
    const locks = [{ name: 'positions/m-a' }, { name: 'positions/m-b' }];
    const waiting = socket.request('multilock.acquire', { locks, ttlMs: 600_000, waitMs: 60_000, positions: true }, 'm');
    await eventually(() => socket.pushesOf('position').length === 2, 'a push per name');
    const byName = (): Record<string, number> =>
      Object.fromEntries(socket.pushesOf('position').map((m) => [m['name'] as string, m['position'] as number]));
    assert.deepEqual(byName(), { 'positions/m-a': 1, 'positions/m-b': 2 });
    await holder.call('lock.release', { name: 'positions/m-b', token: b['token'] });
    const next = await ahead;
    await eventually(() => byName()['positions/m-b'] === 1, 'm-b moved up');
    await holder.call('lock.release', { name: 'positions/m-b', token: next['token'] });
    await holder.call('lock.release', { name: 'positions/m-a', token: a['token'] });
    const granted = await waiting;
    assert.equal(granted['ok'], true);
    const count = socket.pushesOf('position').length;
    await roundTrip(socket);
    assert.equal(socket.pushesOf('position').length, count, 'none after the reply');
    assert.equal(server.hub.positions.size, 0);
    await Promise.all([holder.close(), socket.close()]);
  });

  test('positions must be a boolean: anything else is invalid_request naming it and changes nothing', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    for (const positions of ['yes', 1, null, {}]) {
      const reply = await socket.request('lock.acquire', { name: 'positions/bad', ttlMs: 1_000, waitMs: 1_000, positions });
      assert.equal(reply['ok'], false, JSON.stringify(positions));
      assert.equal(reply['error']['code'], 'invalid_request');
      assert.match(reply['error']['message'], /positions/);
    }
    assert.equal(server.lockring.machine.locks.byName.has('positions/bad'), false);
    // A grant at once (or positions: false) is never pushed a position.
    const now = await socket.call('lock.acquire', { name: 'positions/free', ttlMs: 1_000, waitMs: 1_000, positions: true });
    await socket.call('lock.release', { name: 'positions/free', token: now['token'] });
    const holder = await socket.call('lock.acquire', { name: 'positions/free', ttlMs: 600_000 });
    const quiet = socket.request('lock.acquire', { name: 'positions/free', ttlMs: 1_000, waitMs: 60_000, positions: false }, 'quiet');
    await queued('positions/free', 1);
    await socket.call('lock.release', { name: 'positions/free', token: holder['token'] });
    assert.equal((await quiet)['ok'], true);
    assert.deepEqual(socket.pushesOf('position'), []);
    await socket.close();
  });
});
