import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, TestSocket, eventually, startServer, within } from './helpers.js';

describe('websocket sessions and lost-lock notices', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const disconnected = (): Promise<unknown> => server.disconnected();
  const lease = (id: string): Promise<{ status: number; body: any }> => server.http('GET', `/v1/leases/${id}`);

  test('a session lease is kept by its socket, counts down once it closes, and resumes elsewhere', async () => {
    const a = await TestSocket.open(server.wsUrl);
    const opened = await a.call('session.open', { ttlMs: 400 });
    assert.equal(opened['expiresAt'], null);
    assert.equal(opened['ttlMs'], 400);
    const id = opened['leaseId'] as string;
    assert.equal((await a.request('session.open', { ttlMs: 400 }))['error'].code, 'invalid_request', 'one session per socket');
    assert.equal((await lease(id)).body.expiresAt, null);

    const gone = disconnected();
    await a.close();
    await gone;
    assert.equal(typeof (await lease(id)).body.expiresAt, 'number', 'detached: counting down');

    const b = await TestSocket.open(server.wsUrl);
    const resumed = await b.call('session.resume', { leaseId: id });
    assert.deepEqual({ ...resumed, id: 0 }, { id: 0, ok: true, leaseId: id, ttlMs: 400, expiresAt: null });
    assert.equal((await lease(id)).body.expiresAt, null);

    // A third socket takes it over from a live one.
    const c = await TestSocket.open(server.wsUrl);
    await c.call('session.resume', { leaseId: id });
    const bGone = disconnected();
    await b.close();
    await bGone;
    assert.equal((await lease(id)).body.expiresAt, null, 'b no longer owned it: closing b detached nothing');

    const plain = await c.call('lease.grant', { ttlMs: 1_000 });
    const wrong = await (await TestSocket.open(server.wsUrl)).request('session.resume', { leaseId: plain['leaseId'] });
    assert.equal(wrong['error'].code, 'invalid_request');
    assert.equal(wrong['error'].field, 'leaseId');
    await c.close();
  });

  test('the holder socket killed mid-hold: the session expires after its TTL, the waiter is granted, a resuming socket learns what it lost', async () => {
    const holder = await TestSocket.open(server.wsUrl);
    const session = (await holder.call('session.open', { ttlMs: 300 }))['leaseId'] as string;
    const held = await holder.call('lock.acquire', { name: 'mid-hold', leaseId: session });
    const waiter = await TestSocket.open(server.wsUrl);
    const waiting = waiter.request('lock.acquire', { name: 'mid-hold', ttlMs: 5_000, waitMs: 5_000 });
    await eventually(async () => (await server.http('GET', '/v1/locks/mid-hold')).body.waiters === 1, 'the waiter to queue');

    const killedAt = performance.now();
    await holder.kill();
    const granted = await waiting;
    const waitedMs = performance.now() - killedAt;
    assert.equal(granted['ok'], true);
    assert.ok(waitedMs >= 280, `granted ${waitedMs.toFixed(0)} ms after the kill, before the session TTL`);
    assert.ok(waitedMs < 2_000, `granted ${waitedMs.toFixed(0)} ms after the kill`);

    const late = await TestSocket.open(server.wsUrl);
    const reply = await late.request('session.resume', { leaseId: session });
    assert.equal(reply['error'].code, 'lease_not_found');
    assert.deepEqual(late.log, [
      { event: 'lease_expired', leaseId: session, reason: 'expired', released: [{ name: 'mid-hold', token: held['token'] }] },
      reply,
    ], 'the notice comes just before the reply');
    await Promise.all([waiter.close(), late.close()]);
  });

  test('notices that come while a session has no socket are delivered on resume', async () => {
    const a = await TestSocket.open(server.wsUrl);
    const session = (await a.call('session.open', { ttlMs: 5_000 }))['leaseId'] as string;
    const hold = await a.call('lock.acquire', { name: 'short-hold', ttlMs: 150 });
    const watcher = await TestSocket.open(server.wsUrl);
    await watcher.call('watch', { topic: 'lock', name: 'short-hold' });
    await a.kill();
    await watcher.push('lock', (m) => m['type'] === 'expired');

    const b = await TestSocket.open(server.wsUrl);
    const notice = b.push('lease_expired');
    await b.call('session.resume', { leaseId: session });
    assert.deepEqual(await notice, {
      event: 'lease_expired', leaseId: hold['leaseId'], reason: 'expired', released: [{ name: 'short-hold', token: hold['token'] }],
    });
    await Promise.all([b.close(), watcher.close()]);
  });

  test('a session taken by another socket: the socket that opened it still hears when its leases end', async () => {
    const opener = await TestSocket.open(server.wsUrl);
    const session = (await opener.call('session.open', { ttlMs: 500 }))['leaseId'] as string;
    const onSession = await opener.call('lock.acquire', { name: 'taken-session', leaseId: session });
    const own = await opener.call('lock.acquire', { name: 'taken-own', ttlMs: 5_000 });
    const taker = await TestSocket.open(server.wsUrl);
    await taker.call('session.resume', { leaseId: session });

    // A lease the session listened to (the opener's own hold lease) ends: both hear it.
    assert.equal((await server.http('DELETE', `/v1/leases/${own['leaseId']}`)).status, 200);
    const ownEnded = { event: 'lease_expired', leaseId: own['leaseId'], reason: 'revoked', released: [{ name: 'taken-own', token: own['token'] }] };
    for (const socket of [opener, taker]) assert.deepEqual(await socket.push('lease_expired', (m) => m['leaseId'] === own['leaseId']), ownEnded);

    // The session lease itself expires once its new socket is gone: the opener, still
    // connected, learns that it lost the lock it took on it.
    const gone = disconnected();
    await taker.close();
    await gone;
    assert.deepEqual(await opener.push('lease_expired', (m) => m['leaseId'] === session), {
      event: 'lease_expired', leaseId: session, reason: 'expired', released: [{ name: 'taken-session', token: onSession['token'] }],
    });
    assert.equal((await opener.call('lease.grant', { ttlMs: 1_000 }))['ok'], true, 'the opener carries on without a session');
    await opener.close();
  });

  test('lease_expired goes to every socket that granted, kept alive or acquired on the lease, at expiry', async () => {
    const granter = await TestSocket.open(server.wsUrl);
    const keeper = await TestSocket.open(server.wsUrl);
    const holder = await TestSocket.open(server.wsUrl);
    const bystander = await TestSocket.open(server.wsUrl);
    const id = (await granter.call('lease.grant', { ttlMs: 200 }))['leaseId'] as string;
    const hold = await holder.call('lock.acquire', { name: 'shared-lease', leaseId: id });
    const keptAt = performance.now();
    await keeper.call('lease.keepalive', { leaseId: id });
    const expected = { event: 'lease_expired', leaseId: id, reason: 'expired', released: [{ name: 'shared-lease', token: hold['token'] }] };
    for (const socket of [granter, keeper, holder]) assert.deepEqual(await socket.push('lease_expired'), expected);
    const lateMs = performance.now() - keptAt - 200;
    assert.ok(lateMs > -5 && lateMs < 400, `notice ${lateMs.toFixed(1)} ms after the deadline`);
    await bystander.call('lease.grant', { ttlMs: 100 });
    assert.deepEqual(bystander.pushesOf('lease_expired'), []);

    // A revoke notifies with reason revoked; a release of a hold's own lease notifies nobody.
    const own = await holder.call('lock.acquire', { name: 'own', ttlMs: 5_000 });
    await holder.call('lock.release', { name: 'own', token: own['token'] });
    const revokeMe = (await keeper.call('lease.grant', { ttlMs: 5_000 }))['leaseId'];
    await granter.call('lease.revoke', { leaseId: revokeMe });
    assert.equal((await keeper.push('lease_expired'))['reason'], 'revoked');
    assert.deepEqual(holder.pushesOf('lease_expired'), []);
    await Promise.all([granter, keeper, holder, bystander].map((socket) => socket.close()));
  });

  test('a socket that stops answering pings is terminated; its session then runs out its TTL', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    // A 300 ms session is pinged every 150 ms.
    const id = (await socket.call('session.open', { ttlMs: 300 }))['leaseId'] as string;
    const gone = disconnected();
    const pausedAt = performance.now();
    socket.ws.pause();
    await gone;
    const detectedMs = performance.now() - pausedAt;
    assert.ok(detectedMs < 2_000, `terminated ${detectedMs.toFixed(0)} ms after it went silent`);
    assert.equal(typeof (await lease(id)).body.expiresAt, 'number');
    await eventually(async () => (await lease(id)).status === 404, 'the session lease to expire');
    socket.ws.resume();
    await within(socket.closed, 5_000, 'client to see the close');
  });
});
