import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { LockLostError, LockringClient, LockringClientError } from '../../src/index.js';
import { startServerProcess } from '../helpers/server-process.js';
import { BlackholeProxy, type TestServer, eventually, startServer, within } from '../ws/helpers.js';

const lostReason = (signal: AbortSignal): string => (signal.reason as LockLostError).reason;
const aborted = (signal: AbortSignal, ms = 5_000): Promise<number> =>
  within(
    new Promise<number>((resolve) => {
      if (signal.aborted) resolve(performance.now());
      else signal.addEventListener('abort', () => resolve(performance.now()), { once: true });
    }),
    ms,
    'the handle signal',
  );

describe('client: locks', () => {
  let server: TestServer;
  const clients: LockringClient[] = [];
  const client = (options: Partial<ConstructorParameters<typeof LockringClient>[0]> = {}): LockringClient => {
    const made = new LockringClient({ url: server.base, ...options });
    clients.push(made);
    return made;
  };
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  test('acquire returns a handle; release frees the name and fires the signal (released)', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/basic', { ttlMs: 2_000, owner: 'sdk' });
    assert.ok(lockring.connected, 'the first acquire opened the socket');
    assert.equal(handle.name, 'c/basic');
    assert.equal(handle.owner, 'sdk');
    assert.equal(handle.ttlMs, 2_000);
    assert.ok(handle.remainingMs() > 1_500 && handle.remainingMs() <= 2_000);
    assert.equal((await lockring.check('c/basic', handle.token)).held, true);
    await assert.rejects(lockring.acquire('c/basic', { ttlMs: 1_000 }), (e: LockringClientError) => e.code === 'lock_held' && e.status === 409);
    await handle.release();
    assert.equal(lostReason(handle.signal), 'released');
    assert.equal((await lockring.check('c/basic', handle.token)).held, false);
    await handle.release(); // idempotent
  });

  test('mode read: two handles share the lock, a writer is refused, check with a mode tells them apart', async () => {
    const lockring = client();
    const a = await lockring.acquire('c/rw', { ttlMs: 2_000, mode: 'read' });
    const b = await lockring.acquire('c/rw', { ttlMs: 2_000, mode: 'read' });
    assert.deepEqual([a.mode, b.mode], ['read', 'read']);
    await assert.rejects(lockring.acquire('c/rw', { ttlMs: 1_000 }), (e: LockringClientError) => e.code === 'lock_held');
    assert.equal((await lockring.check('c/rw', a.token, 'read')).held, true);
    assert.equal((await lockring.check('c/rw', a.token, 'write')).held, false);
    const overHttp = client({ websocket: false });
    assert.equal((await overHttp.check('c/rw', b.token, 'write')).held, false);
    assert.equal((await overHttp.check('c/rw', b.token, 'read')).held, true);
    await Promise.all([a.release(), b.release()]);
    const w = await lockring.acquire('c/rw', { ttlMs: 1_000 });
    assert.equal(w.mode, 'write');
    await w.release();
  });

  test('maxHoldMs: the handle\'s signal fires with max_hold, before the server ends the hold', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/bounded', { ttlMs: 2_000, maxHoldMs: 400, safetyMarginMs: 50 });
    assert.equal(handle.maxHoldMs, 400);
    assert.ok(handle.remainingMs() <= 350);
    await aborted(handle.signal);
    assert.equal(lostReason(handle.signal), 'max_hold');
    // Pushed or released by the handle: the server no longer counts it.
    const lockringHttp = client({ websocket: false });
    for (let i = 0; i < 100 && (await lockringHttp.check('c/bounded', handle.token)).held; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await lockringHttp.check('c/bounded', handle.token)).held, false);
  });

  test('priority: onYieldRequested tells the holder; released in time, the waiter gets the lock', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/yield', { ttlMs: 5_000 });
    const notices: { graceMs: number; yieldBy: number }[] = [];
    handle.onYieldRequested((notice) => {
      notices.push(notice);
      void handle.release();
    });
    const other = client();
    const urgent = await other.acquire('c/yield', { ttlMs: 5_000, waitMs: 5_000, priority: 10, yieldGraceMs: 3_000 });
    assert.equal(urgent.priority, 10);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.graceMs, 3_000);
    assert.deepEqual(handle.yieldRequest, notices[0]);
    assert.equal(lostReason(handle.signal), 'released');
    const late: unknown[] = [];
    urgent.onYieldRequested((notice) => late.push(notice));
    assert.deepEqual(late, [], 'no request was made to the new holder');
    await urgent.release();
  });

  test('priority: a holder that does not yield loses the lock with reason preempted', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/preempt', { ttlMs: 5_000, safetyMarginMs: 50 });
    const other = client();
    const urgent = other.acquire('c/preempt', { ttlMs: 5_000, waitMs: 5_000, priority: 1, yieldGraceMs: 300 });
    await aborted(handle.signal);
    assert.equal(lostReason(handle.signal), 'preempted');
    assert.notEqual(handle.yieldRequest, null);
    const called: unknown[] = [];
    handle.onYieldRequested((notice) => called.push(notice));
    assert.equal(called.length, 1, 'a listener added after the request is called at once');
    assert.ok((await urgent).token > handle.token);
  });

  test('keepalives hold the lock well past its TTL', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/keep', { ttlMs: 900 });
    const other = client({ websocket: false });
    // This waiter would be granted at ~900 ms if keepalives stopped; it times out instead.
    await assert.rejects(other.acquire('c/keep', { ttlMs: 1_000, waitMs: 2_000 }), (e: LockringClientError) => e.code === 'lock_held');
    assert.equal(handle.signal.aborted, false);
    assert.equal((await lockring.check('c/keep', handle.token)).held, true);
    await handle.release();
  });

  test('withLock releases after fn, also when fn throws', async () => {
    const lockring = client();
    const value = await lockring.withLock('c/with', async (signal, token) => {
      assert.equal(signal.aborted, false);
      assert.equal((await lockring.check('c/with', token)).held, true);
      return 42;
    }, { ttlMs: 1_000 });
    assert.equal(value, 42);
    let seenToken = 0;
    await assert.rejects(
      lockring.withLock('c/with', (_signal, token) => {
        seenToken = token;
        throw new Error('boom');
      }, { ttlMs: 1_000 }),
      /boom/,
    );
    assert.equal((await lockring.check('c/with', seenToken)).held, false);
    assert.equal((await server.http('GET', '/v1/locks/c%2Fwith')).status, 404);
  });

  test('over HTTP only, the same calls work', async () => {
    const lockring = client({ websocket: false });
    const lease = await lockring.grantLease(1_000);
    assert.equal(typeof lease.leaseId, 'string');
    assert.equal((await lockring.keepalive(lease.leaseId, 2_000)).ttlMs, 2_000);
    const handle = await lockring.acquire('c/http', { ttlMs: 900 });
    assert.equal(lockring.connected, false);
    const first = (await lockring.getLease(handle.leaseId)).expiresAt!;
    await eventually(async () => (await lockring.getLease(handle.leaseId)).expiresAt! > first, 'a keepalive over HTTP');
    assert.equal(handle.signal.aborted, false);
    await handle.release();
    assert.deepEqual((await lockring.revokeLease(lease.leaseId)).released, []);
    await assert.rejects(lockring.watchLock({ name: 'x' }, () => {}), (e: LockringClientError) => e.code === 'closed');
  });

  test('aborting a waiting acquire takes it out of the queue', async () => {
    const holder = client();
    const held = await holder.acquire('c/abort', { ttlMs: 5_000 });
    for (const websocket of [true, false]) {
      const lockring = client({ websocket });
      const controller = new AbortController();
      const waiting = lockring.acquire('c/abort', { ttlMs: 1_000, waitMs: 10_000, signal: controller.signal });
      await eventually(async () => (await server.http('GET', '/v1/locks/c%2Fabort')).body.waiters === 1, 'the waiter to queue');
      controller.abort(new Error('no longer needed'));
      await assert.rejects(waiting, /no longer needed/);
      await eventually(async () => (await server.http('GET', '/v1/locks/c%2Fabort')).body.waiters === 0, 'the waiter to leave');
    }
    await held.release();
  });

  test('a waiting acquire granted after longer than its TTL comes back held, and is kept alive', async () => {
    // Its lease began at the grant, not when the acquire was sent: the handle must not
    // count its deadline from the send (it would be long gone).
    for (const websocket of [true, false]) {
      const name = `c/late-${websocket}`;
      const holder = await client({ websocket: false }).acquire(name, { ttlMs: 5_000 });
      const lockring = client({ websocket });
      setTimeout(() => void holder.release(), 1_100);
      const handle = await lockring.acquire(name, { ttlMs: 800, waitMs: 5_000 });
      assert.equal(handle.signal.aborted, false, `websocket: ${websocket}`);
      assert.ok(handle.remainingMs() > 0);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      assert.equal(handle.signal.aborted, false, 'kept alive past its TTL');
      assert.equal((await lockring.check(name, handle.token)).held, true);
      await handle.release();
    }
  });

  test('getLockWaiters pages the queue of a lock with positions', async () => {
    const lockring = client({ websocket: false });
    const held = await lockring.acquire('c/queue', { ttlMs: 5_000 });
    const waiting = [lockring.acquire('c/queue', { ttlMs: 5_000, waitMs: 5_000, owner: 'q1' }), lockring.acquire('c/queue', { ttlMs: 5_000, waitMs: 5_000, owner: 'q2' })];
    let page = await lockring.getLockWaiters('c/queue');
    for (let i = 0; i < 200 && page.total < 2; i++) page = await lockring.getLockWaiters('c/queue');
    assert.deepEqual(page.waiters.map((w) => [w.position, w.owner]), [[1, 'q1'], [2, 'q2']]);
    const first = await lockring.getLockWaiters('c/queue', { limit: 1 });
    assert.equal(first.next, 1);
    assert.deepEqual((await lockring.getLockWaiters('c/queue', { after: 1 })).waiters.map((w) => w.owner), ['q2']);
    await held.release();
    const q1 = await waiting[0]!;
    await q1.release();
    await (await waiting[1]!).release();
  });

  test('onPosition hears a waiting acquire\'s place over the WebSocket, never after it returns; over HTTP the acquire still works', async () => {
    const lockring = client();
    const held = await lockring.acquire('c/positions', { ttlMs: 5_000 });
    const ahead = lockring.acquire('c/positions', { ttlMs: 5_000, waitMs: 5_000, owner: 'ahead' });
    await eventually(() => (server.lockring.machine.locks.byName.get('c/positions')?.waiterCount ?? 0) === 1, 'the first waiter');
    const seen: [number, number][] = [];
    const moved = (count: number): Promise<void> => eventually(() => seen.length === count, `${count} positions`);
    const waiting = lockring.acquire('c/positions', { ttlMs: 5_000, waitMs: 5_000, owner: 'me', onPosition: (position, total) => seen.push([position, total]) });
    await moved(1);
    assert.deepEqual(seen, [[2, 2]]);
    await held.release();
    const first = await ahead;
    await moved(2);
    assert.deepEqual(seen, [[2, 2], [1, 1]]);
    await first.release();
    const mine = await waiting;
    assert.equal(mine.owner, 'me');
    const count = seen.length;
    await lockring.check('c/positions', mine.token);
    assert.equal(seen.length, count, 'nothing after the acquire returned');
    await mine.release();

    // Without a socket the option cannot be honoured: the acquire goes over HTTP without it.
    const overHttp = client({ websocket: false });
    const holder = await overHttp.acquire('c/positions', { ttlMs: 5_000 });
    const calls: number[] = [];
    const queued = overHttp.acquire('c/positions', { ttlMs: 5_000, waitMs: 5_000, onPosition: (position) => calls.push(position) });
    await eventually(() => (server.lockring.machine.locks.byName.get('c/positions')?.waiterCount ?? 0) === 1, 'the HTTP waiter');
    await holder.release();
    await (await queued).release();
    assert.deepEqual(calls, []);
  });

  test('a server that cannot be reached is named in the error, with the reason', async () => {
    const gone = await startServer();
    await gone.close();
    const lockring = client({ url: gone.base, websocket: false });
    await assert.rejects(lockring.getLock('x'), (e: LockringClientError) =>
      e.code === 'disconnected' && e.transport && e.message === `cannot reach lockring at ${gone.base}: ECONNREFUSED` && e.cause instanceof Error);
    assert.equal(client({ url: `${server.base}//` }).url, server.base);
  });

  test('the signal fires on the server notice when the lease is revoked', async () => {
    const lockring = client();
    const handle = await lockring.acquire('c/revoked', { ttlMs: 5_000 });
    const notices: string[] = [];
    lockring.on('lease_expired', (push) => notices.push(push.reason));
    const revokedAt = performance.now();
    await server.http('DELETE', `/v1/leases/${handle.leaseId}`);
    const firedAt = await aborted(handle.signal);
    assert.equal(lostReason(handle.signal), 'revoked');
    assert.ok(firedAt - revokedAt < 1_000);
    assert.deepEqual(notices, ['revoked']);
    assert.equal(handle.remainingMs(), 0);
    await handle.release(); // not_holder is swallowed: the lock is gone either way
  });

  test('the signal fires when a keepalive is refused (no notices over HTTP)', async () => {
    const lockring = client({ websocket: false });
    const handle = await lockring.acquire('c/refused', { ttlMs: 600 });
    await server.http('DELETE', `/v1/leases/${handle.leaseId}`);
    await aborted(handle.signal);
    assert.equal(lostReason(handle.signal), 'keepalive_failed');
    const cause = (handle.signal.reason as LockLostError).cause;
    assert.ok(cause instanceof LockringClientError && cause.code === 'lease_not_found', 'the refusal is the cause');
  });

  test('closing the client fires the signals of its holds', async () => {
    const lockring = new LockringClient({ url: server.base });
    const handle = await lockring.acquire('c/closing', { ttlMs: 1_000 });
    await lockring.close();
    assert.equal(lostReason(handle.signal), 'client_closed');
    await assert.rejects(lockring.check('c/closing', handle.token), (e: LockringClientError) => e.code === 'closed');
  });
});

describe('client: the signal fires before anyone else can be granted', () => {
  test('keepalives stop (server unreachable): the holder stops before the waiter is granted', async () => {
    const server = await startServer();
    const proxy = await BlackholeProxy.start(Number(new URL(server.base).port));
    const holderClient = new LockringClient({ url: `http://127.0.0.1:${proxy.port}`, heartbeatMs: 200, requestTimeoutMs: 2_000 });
    const waiterClient = new LockringClient({ url: server.base });
    try {
      const handle = await holderClient.acquire('fenced', { ttlMs: 600 });
      const waiting = waiterClient.acquire('fenced', { ttlMs: 5_000, waitMs: 10_000 });
      await eventually(async () => (await server.http('GET', '/v1/locks/fenced')).body.waiters === 1, 'the waiter to queue');
      proxy.blocked = true;
      const cutAt = performance.now();
      const [abortedAt, granted] = await Promise.all([
        aborted(handle.signal, 5_000),
        waiting.then((grant) => ({ grant, at: performance.now() })),
      ]);
      assert.equal(lostReason(handle.signal), 'deadline');
      assert.ok(abortedAt < granted.at, `holder stopped at +${(abortedAt - cutAt).toFixed(0)} ms, waiter granted at +${(granted.at - cutAt).toFixed(0)} ms`);
      assert.ok(abortedAt - cutAt < 1_000, 'the holder stopped about one TTL after its last keepalive');
      assert.ok(granted.grant.token > handle.token);
      await granted.grant.release();
    } finally {
      await Promise.all([holderClient.close(), waiterClient.close()]);
      await proxy.close();
      await server.close();
    }
  });
});

describe('client: the signal fires before anyone else can be granted (server paused)', () => {
  test('SIGSTOP the server: the holder stops during the pause, the waiter is granted after SIGCONT', async () => {
    const child = await startServerProcess({}, 30_000);
    const holderClient = new LockringClient({ url: child.base, heartbeatMs: 200, requestTimeoutMs: 2_000 });
    const waiterClient = new LockringClient({ url: child.base });
    try {
      const handle = await holderClient.acquire('paused', { ttlMs: 500 });
      const waiting = waiterClient.acquire('paused', { ttlMs: 5_000, waitMs: 20_000 });
      await eventually(async () => (await child.call('GET', '/v1/locks/paused')).body.waiters === 1, 'the waiter to queue');
      child.child.kill('SIGSTOP');
      const abortedAt = await aborted(handle.signal, 5_000);
      assert.equal(lostReason(handle.signal), 'deadline');
      child.child.kill('SIGCONT');
      const grant = await waiting;
      assert.ok(abortedAt < performance.now());
      assert.ok(grant.token > handle.token);
      await grant.release();
    } finally {
      child.child.kill('SIGCONT');
      await Promise.all([holderClient.close(), waiterClient.close()]);
      // Not a test of graceful shutdown (aborted fetches can hold that for undici's
      // 4 s keep-alive): kill it.
      const exited = once(child.child, 'exit');
      child.child.kill('SIGKILL');
      await exited;
    }
  });
});

describe('client: reconnects', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const dropAll = (): void => {
    for (const connection of server.hub.connections) connection.closeWith(1012, 'test restart');
  };

  test('a dropped socket reconnects, resumes its session and its watches; holds keep their lock', async () => {
    const lockring = new LockringClient({ url: server.base, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    try {
      await lockring.connect();
      const session = lockring.sessionId;
      assert.equal(typeof session, 'string');
      const seen: string[] = [];
      await lockring.watchLock({ prefix: 'rc/' }, (push) => seen.push(`${push.type} ${push.name}`));
      const handle = await lockring.acquire('rc/held', { ttlMs: 1_500 });

      const reconnected = within(new Promise((resolve) => lockring.once('connected', resolve)), 5_000, 'reconnect');
      dropAll();
      const event = (await reconnected) as { sessionId: string; resumed: boolean };
      assert.deepEqual(event, { sessionId: session, resumed: true });
      assert.equal((await server.http('GET', `/v1/leases/${session}`)).body.expiresAt, null, 'attached again');

      const other = new LockringClient({ url: server.base, websocket: false });
      const grant = await other.acquire('rc/after', { ttlMs: 1_000 });
      await eventually(() => seen.includes('acquired rc/after'), 'the watch to see an event after the reconnect');
      await grant.release();
      await other.close();
      // The hold outlived the drop and is still renewed.
      const renewedFrom = (await lockring.getLease(handle.leaseId)).expiresAt!;
      await eventually(async () => (await lockring.getLease(handle.leaseId)).expiresAt! > renewedFrom, 'a keepalive after the reconnect');
      assert.equal(handle.signal.aborted, false);
      assert.equal((await lockring.check('rc/held', handle.token)).held, true);
      await handle.release();
    } finally {
      await lockring.close();
    }
  });

  test('a session that expired while disconnected is reported, with what it held, and replaced', async () => {
    const lockring = new LockringClient({ url: server.base, sessionTtlMs: 150, reconnect: { initialDelayMs: 600, maxDelayMs: 600 } });
    try {
      await lockring.connect();
      const session = lockring.sessionId!;
      // A member bound to the session leaves with it.
      await lockring.putNode('rc-ring', 'me', { leaseId: session });
      const lost = within(new Promise<{ leaseId: string }>((resolve) => lockring.once('session_lost', resolve)), 5_000, 'session_lost');
      const notice = within(new Promise((resolve) => lockring.once('lease_expired', resolve)), 5_000, 'lease_expired');
      const reconnected = within(new Promise((resolve) => lockring.once('connected', resolve)), 5_000, 'reconnect');
      dropAll();
      assert.deepEqual(await notice, { event: 'lease_expired', leaseId: session, reason: 'expired', released: [] });
      assert.deepEqual(await lost, { leaseId: session });
      const event = (await reconnected) as { sessionId: string; resumed: boolean };
      assert.equal(event.resumed, false);
      assert.notEqual(event.sessionId, session);
      assert.deepEqual((await lockring.getRing('rc-ring')).nodes, []);
    } finally {
      await lockring.close();
    }
  });
});
