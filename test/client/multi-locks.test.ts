import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LockLostError, LockringClient, type LockringClientError } from '../../src/index.js';
import { type TestServer, eventually, startServer, within } from '../ws/helpers.js';

const lostReason = (signal: AbortSignal): string => (signal.reason as LockLostError).reason;

describe('client: acquireAll', () => {
  let server: TestServer;
  const clients: LockringClient[] = [];
  const client = (options: Partial<ConstructorParameters<typeof LockringClient>[0]> = {}): LockringClient => {
    const made = new LockringClient({ url: server.base, ...options });
    clients.push(made);
    return made;
  };
  const held = (name: string): number[] => {
    const lock = server.lockring.machine.locks.byName.get(name);
    return lock === undefined ? [] : server.lockring.machine.locks.holdersOf(lock).map((hold) => hold.token);
  };
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  for (const websocket of [true, false]) {
    test(`${websocket ? 'over the socket' : 'over HTTP'}: a handle per name on one lease; release() gives them all back`, async () => {
      const lockring = client({ websocket });
      const prefix = websocket ? 'ws' : 'http';
      const handle = await lockring.acquireAll([`${prefix}/a`, { name: `${prefix}/b`, mode: 'read' }], { ttlMs: 2_000, owner: 'sdk' });
      assert.deepEqual(handle.holds.map((h) => [h.name, h.mode, h.leaseId]), [[`${prefix}/a`, 'write', handle.leaseId], [`${prefix}/b`, 'read', handle.leaseId]]);
      assert.ok(handle.holds[0]!.token < handle.holds[1]!.token);
      assert.ok(handle.remainingMs() > 1_500);
      await assert.rejects(lockring.acquireAll([`${prefix}/c`, `${prefix}/a`], { ttlMs: 1_000 }),
        (e: LockringClientError) => e.code === 'lock_held' && (e.details['names'] as string[])[0] === `${prefix}/a`);
      assert.deepEqual(held(`${prefix}/c`), []);
      await handle.release();
      assert.equal(lostReason(handle.signal), 'released');
      assert.deepEqual(held(`${prefix}/a`), []);
      assert.deepEqual(held(`${prefix}/b`), []);
      await handle.release(); // idempotent
    });
  }

  for (const websocket of [true, false]) {
    test(`onPosition of a waiting acquireAll: a place per name ${websocket ? 'over the socket' : 'is not called over HTTP, and the wait still works'}`, async () => {
      const lockring = client({ websocket });
      const prefix = websocket ? 'ws-pos' : 'http-pos';
      const holder = await client().acquire(`${prefix}/b`, { ttlMs: 5_000 });
      const seen: [string, number, number][] = [];
      const waiting = lockring.acquireAll([`${prefix}/a`, `${prefix}/b`], {
        ttlMs: 5_000, waitMs: 5_000, onPosition: (name, position, total) => seen.push([name, position, total]),
      });
      await eventually(() => (server.lockring.machine.locks.byName.get(`${prefix}/b`)?.waiterCount ?? 0) === 1, 'queued');
      if (websocket) await eventually(() => seen.length === 2, 'a position per name');
      await holder.release();
      const handle = await waiting;
      const count = seen.length;
      await handle.release();
      assert.deepEqual(seen.sort(), websocket ? [[`${prefix}/a`, 1, 1], [`${prefix}/b`, 1, 1]] : []);
      assert.equal(seen.length, count, 'never after it returned');
    });
  }

  test('one hold released on its own: the others stay held; release() gives back the rest', async () => {
    const lockring = client();
    const handle = await lockring.acquireAll(['one/a', 'one/b', 'one/c'], { ttlMs: 2_000 });
    await handle.holds[1]!.release();
    assert.equal(lostReason(handle.signal), 'released', 'the group signal fires with the first hold that goes');
    assert.deepEqual(held('one/a'), [handle.holds[0]!.token]);
    assert.deepEqual(held('one/b'), []);
    await handle.release();
    assert.deepEqual(held('one/a'), []);
    assert.deepEqual(held('one/c'), []);
  });

  test('the holds of a group keep their one lease alive', async () => {
    const lockring = client();
    const handle = await lockring.acquireAll(['beat/a', 'beat/b', 'beat/c'], { ttlMs: 300 });
    const lease = server.lockring.machine.leases.byId.get(handle.leaseId)!;
    const machine = server.lockring.machine;
    const deadline = machine.deadlineOf(lease);
    await eventually(() => machine.deadlineOf(lease) > deadline, 'a keepalive renewed the lease');
    assert.equal(handle.signal.aborted, false);
    await handle.release();
  });

  test('a waiting acquireAll is granted when the last name frees; the server ending the lease fires the signal', async () => {
    const lockring = client();
    const other = client();
    const blocker = await other.acquire('wait/b', { ttlMs: 5_000 });
    const waiting = lockring.acquireAll(['wait/a', 'wait/b'], { ttlMs: 5_000, waitMs: 5_000 });
    await eventually(() => server.lockring.machine.locks.waiterCount === 2, 'the group queued on both names');
    await blocker.release();
    const handle = await within(waiting, 5_000, 'the grant');
    await lockring.revokeLease(handle.leaseId);
    await eventually(() => handle.signal.aborted, 'the signal fired');
    assert.equal(lostReason(handle.signal), 'revoked');
    assert.ok(handle.holds.every((h) => h.signal.aborted));
  });
});
