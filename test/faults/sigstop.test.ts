// A server paused (SIGSTOP) for longer than a lease's TTL. On resume
// (SIGCONT), a keepalive that arrives after the lease's deadline fails with 404
// lease_not_found even if the expiry loop has not run yet, the lock goes to the
// waiter that queued before the pause (with a higher token), and the lease gets no
// second life: not at once, and not after a crash either.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Api, expectError, expectStatus, settle, startApi } from '../helpers/http.js';
import { type ChildServer, call, killAll, path, removeDir, startServer, tempDataDir } from './helpers.js';

const dirs: string[] = [];
let api: Api | null = null;
after(async () => {
  await killAll();
  await api?.close();
  for (const dir of dirs) await removeDir(dir);
});

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await sleep(10);
  }
  assert.fail(`${what} did not happen within 2 s`);
}

function expectGone(reply: { status: number; body: any }, what: string): void {
  assert.equal(reply.status, 404, `${what}: ${JSON.stringify(reply.body)}`);
  assert.equal(reply.body.error.code, 'lease_not_found', what);
}

test('SIGSTOP longer than the TTL, then SIGCONT: late keepalives fail, the queued waiter gets the lock, no second life', { timeout: 60_000 }, async () => {
  const dir = await tempDataDir();
  dirs.push(dir);
  let server: ChildServer = await startServer(dir);
  let base = server.base();
  // Long enough that the set-up requests fit inside it on a loaded machine.
  const ttlMs = 1_000;

  const a = await call(base, 'POST', path.lock('pause/x', 'acquire'), { ttlMs, owner: 'A' });
  assert.equal(a.status, 200);
  const lease = await call(base, 'POST', '/v1/leases', { ttlMs });
  assert.equal(lease.status, 201);
  assert.equal((await call(base, 'PUT', path.node('pause', 'm1'), { leaseId: lease.body.id })).status, 201);
  const y = await call(base, 'POST', path.lock('pause/y', 'acquire'), { leaseId: lease.body.id });
  assert.equal(y.status, 200);
  // B queues on pause/x before the pause.
  const waiting = call(base, 'POST', path.lock('pause/x', 'acquire'), { ttlMs: 10_000, waitMs: 20_000, owner: 'B' }, 30_000);
  await until('B queued', async () => (await call(base, 'GET', path.lock('pause/x'))).body.waiters === 1);

  // Fresh deadlines just before the pause: each is at most ttlMs after its reply.
  assert.equal((await call(base, 'POST', path.lease(a.body.leaseId, 'keepalive'), {})).status, 200);
  const renewed = await call(base, 'POST', path.lease(lease.body.id, 'keepalive'), {});
  assert.equal(renewed.status, 200);
  const deadline = performance.now() + ttlMs;
  server.signal('SIGSTOP');
  const stoppedAt = performance.now();
  await sleep(2 * ttlMs + 100);
  // Sent while the server is stopped, after the deadlines: they wait in its socket
  // buffers and are the first thing it sees on resume, maybe before its expiry timer.
  assert.ok(performance.now() > deadline + ttlMs);
  const late = [
    call(base, 'POST', path.lease(a.body.leaseId, 'keepalive'), {}, 10_000),
    call(base, 'POST', path.lease(lease.body.id, 'keepalive'), { ttlMs: 60_000 }, 10_000),
    call(base, 'POST', path.lock('pause/x', 'check'), { token: a.body.token }, 10_000),
  ];
  await sleep(50);
  server.signal('SIGCONT');
  const pausedMs = performance.now() - stoppedAt;
  const [lateA, lateLease, lateCheck] = await Promise.all(late);
  expectGone(lateA!, 'keepalive of the hold lease after the pause');
  expectGone(lateLease!, 'keepalive of the plain lease after the pause');
  assert.equal(lateCheck!.body.held, false);

  const b = await waiting;
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.equal(b.body.owner, 'B');
  assert.ok(b.body.token > a.body.token && b.body.token > y.body.token, 'the waiter gets a higher token');

  // No second life: everything on both leases is gone, and stays gone.
  const check = async (target: string): Promise<void> => {
    expectGone(await call(target, 'POST', path.lease(a.body.leaseId, 'keepalive'), {}), 'keepalive again');
    expectGone(await call(target, 'POST', path.lease(lease.body.id, 'keepalive'), {}), 'keepalive again');
    expectGone(await call(target, 'GET', path.lease(lease.body.id)), 'inspect');
    assert.equal((await call(target, 'POST', path.lock('pause/x', 'check'), { token: a.body.token })).body.held, false);
    assert.equal((await call(target, 'POST', path.lock('pause/x', 'check'), { token: b.body.token })).body.held, true);
    const view = await call(target, 'GET', path.lock('pause/x'));
    assert.deepEqual(view.body.holders.map((h: { token: number }) => h.token), [b.body.token]);
    assert.equal((await call(target, 'GET', path.lock('pause/y'))).body.error.code, 'lock_not_found');
    assert.deepEqual((await call(target, 'GET', path.ring('pause'))).body.nodes, []);
  };
  await check(base);
  const released = await call(base, 'POST', path.lock('pause/x', 'release'), { token: a.body.token });
  assert.equal(released.status, 409);
  assert.equal(released.body.error.reason, 'expired');

  // Nor after a crash: every answer above that told of the expiry came once it was durable.
  await server.kill();
  server = await startServer(dir);
  base = server.base();
  await check(base);
  const fresh = await call(base, 'POST', path.lock('pause/z', 'acquire'), { ttlMs: 1_000 });
  assert.ok(fresh.body.token > b.body.token);
  await server.stop();
  assert.ok(pausedMs >= 2 * ttlMs, `paused ${Math.round(pausedMs)} ms`);
});

test('a keepalive after the deadline fails before the expiry loop has run (manual clock)', async () => {
  api = await startApi();
  const held = expectStatus(await api.call('POST', '/v1/locks/late/acquire', { ttlMs: 300, owner: 'A' }), 200);
  let waiterDone = false;
  const waiter = api.call('POST', '/v1/locks/late/acquire', { ttlMs: 5_000, waitMs: 60_000, owner: 'B' }).finally(() => {
    waiterDone = true;
  });
  await settle();
  api.clock.advance(301);
  // Past the deadline, but nothing has expired it: the lease is still in the table.
  const { machine, service } = api.lockring;
  assert.ok(machine.leases.byId.has(held.leaseId), 'the expiry has not run');
  assert.equal(waiterDone, false);
  assert.throws(() => service.keepalive(held.leaseId), (error: Error & { code?: string }) => error.code === 'lease_not_found');
  assert.equal(machine.leases.byId.has(held.leaseId), false, 'the keepalive expired it on the way');
  expectError(await api.call('POST', `/v1/leases/${held.leaseId}/keepalive`, {}), 404, 'lease_not_found');
  const granted = expectStatus(await waiter, 200);
  assert.equal(granted.owner, 'B');
  assert.ok(granted.token > held.token);
});
