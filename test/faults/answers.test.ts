// Every state change is in the log before the client sees its reply, also
// when the reply is not a success. A keepalive, release, check or inspect that finds a
// lease past its deadline expires it on the way; its answer ("lease_not_found",
// "not_holder: expired", "held: false") must not leave before that expiry is durable,
// or a crash right after it would restore the lease with a full TTL: a second life
// for a lease whose holder was told it is gone. Likewise a keepalive's new ttlMs
// is durable before the keepalive is acknowledged, or a crash would bring the lease
// back with its old, shorter TTL and hand the lock on while the holder trusts the
// new one. The server runs in process on a manual clock over a real data directory;
// `abandonStore` stops the log as kill -9 would, right after the reply.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { makeConfig } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { type OpenedStore, openStore } from '../../src/store/index.js';
import { abandonStore } from '../../src/store/store.js';
import { type Reply, expectError, expectStatus, settle } from '../helpers/http.js';
import { removeDir, tempDataDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

interface Durable {
  readonly lockring: Lockring;
  readonly store: OpenedStore;
  call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<Reply>;
  /** Stops the log as a crash would: what is not durable yet is lost. */
  crash(): Promise<void>;
}

async function open(dir: string, clock: ManualClock): Promise<Durable> {
  const logger = pino({ level: 'silent' });
  let store: OpenedStore | null = null;
  const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: dir }), {
    clock,
    logger,
    openDurability: async (machine, log) => (store = await openStore({ dataDir: dir, machine, log })),
  });
  await lockring.start();
  return {
    lockring,
    store: store!,
    async call(method, url, body) {
      const res = await lockring.app.inject({ method, url, ...(body === undefined ? {} : { payload: body as object }) });
      return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body), text: res.body, headers: res.headers };
    },
    async crash() {
      await abandonStore(store!);
      // The app goes too; its log is already stopped, so closing it reports that.
      await lockring.close().catch(() => {});
    },
  };
}

async function fresh(): Promise<{ dir: string; clock: ManualClock }> {
  const dir = await tempDataDir();
  dirs.push(dir);
  return { dir, clock: new ManualClock() };
}

describe('answers that tell of a change leave once it is durable', () => {
  test('a late keepalive: lease_not_found, and the lease stays gone after a crash', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    const held = expectStatus(await first.call('POST', '/v1/locks/a/acquire', { ttlMs: 300 }), 200);
    clock.advance(301);
    expectError(await first.call('POST', `/v1/leases/${held.leaseId}/keepalive`, {}), 404, 'lease_not_found');
    await first.crash();

    const second = await open(dir, clock);
    expectError(await second.call('POST', `/v1/leases/${held.leaseId}/keepalive`, {}), 404, 'lease_not_found');
    assert.equal(expectStatus(await second.call('POST', '/v1/locks/a/check', { token: held.token }), 200).held, false);
    await second.lockring.close();
  });

  test('a late release, check or inspect: the hold stays ended after a crash', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    const a = expectStatus(await first.call('POST', '/v1/locks/a/acquire', { ttlMs: 300 }), 200);
    const b = expectStatus(await first.call('POST', '/v1/locks/b/acquire', { ttlMs: 300 }), 200);
    const c = expectStatus(await first.call('POST', '/v1/leases', { ttlMs: 300 }), 201);
    const d = expectStatus(await first.call('POST', '/v1/locks/d/acquire', { ttlMs: 300 }), 200);
    clock.advance(301);
    assert.equal(expectError(await first.call('POST', '/v1/locks/a/release', { token: a.token }), 409, 'not_holder').reason, 'expired');
    assert.equal(expectStatus(await first.call('POST', '/v1/locks/b/check', { token: b.token }), 200).held, false);
    expectError(await first.call('GET', `/v1/leases/${c.id}`), 404, 'lease_not_found');
    expectError(await first.call('GET', '/v1/locks/d'), 404, 'lock_not_found');
    await first.crash();

    const second = await open(dir, clock);
    assert.equal(second.store.recovery.leases, 0, 'no lease came back');
    for (const [name, token] of [['a', a.token], ['b', b.token], ['d', d.token]] as const) {
      assert.equal(expectStatus(await second.call('POST', `/v1/locks/${name}/check`, { token }), 200).held, false, name);
    }
    expectError(await second.call('GET', `/v1/leases/${c.id}`), 404, 'lease_not_found');
    await second.lockring.close();
  });

  test('a waiter whose lease expired hears lease_not_found once that is durable', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    expectStatus(await first.call('POST', '/v1/locks/w/acquire', { ttlMs: 60_000 }), 200);
    const lease = expectStatus(await first.call('POST', '/v1/leases', { ttlMs: 300 }), 201);
    const waiting = first.call('POST', '/v1/locks/w/acquire', { leaseId: lease.id, waitMs: 60_000 });
    for (let i = 0; i < 100 && expectStatus(await first.call('GET', '/v1/locks/w'), 200).waiters === 0; i++) await settle();
    assert.equal(expectStatus(await first.call('GET', '/v1/locks/w'), 200).waiters, 1);
    clock.advance(301);
    first.lockring.machine.tick();
    expectError(await waiting, 404, 'lease_not_found');
    await first.crash();

    const second = await open(dir, clock);
    expectError(await second.call('GET', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
    await second.lockring.close();
  });

  test('a lease the expiry loop has just ended: lease_not_found waits for the log', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    const a = expectStatus(await first.call('POST', '/v1/leases', { ttlMs: 300 }), 201);
    const b = expectStatus(await first.call('POST', '/v1/leases', { ttlMs: 300 }), 201);
    const { machine, service } = first.lockring;
    clock.advance(301);
    assert.equal(machine.tick().processed, 2);
    // The ends are logged but not on disk yet: the refusals wait for them.
    const kept = service.keepalive(a.id);
    const acquired = service.acquire({ name: 'x', leaseId: b.id });
    assert.ok(kept instanceof Promise && acquired instanceof Promise, 'the answers wait for the log');
    await assert.rejects(kept, (error: Error & { code?: string }) => error.code === 'lease_not_found');
    await assert.rejects(acquired, (error: Error & { code?: string }) => error.code === 'lease_not_found');
    await first.crash();

    const second = await open(dir, clock);
    assert.equal(second.store.recovery.leases, 0, 'no lease came back');
    await second.lockring.close();
  });

  test('a keepalive that changes ttlMs is durable before it is acknowledged', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    const held = expectStatus(await first.call('POST', '/v1/locks/t/acquire', { ttlMs: 300 }), 200);
    assert.equal(expectStatus(await first.call('POST', `/v1/leases/${held.leaseId}/keepalive`, { ttlMs: 60_000 }), 200).ttlMs, 60_000);
    await first.crash();

    const second = await open(dir, clock);
    const lease = expectStatus(await second.call('GET', `/v1/leases/${held.leaseId}`), 200);
    assert.equal(lease.ttlMs, 60_000, 'the holder was told 60 s; a restored lease of 300 ms would lose its lock early');
    clock.advance(59_999);
    second.lockring.machine.tick();
    assert.equal(expectStatus(await second.call('POST', '/v1/locks/t/check', { token: held.token }), 200).held, true);
    await second.lockring.close();
  });
});

describe('session.resume of a session past its deadline', () => {
  test('lease_not_found leaves once the expiry is durable; the session stays gone after a crash', async () => {
    const { dir, clock } = await fresh();
    const first = await open(dir, clock);
    const service = first.lockring.service;
    const session = await service.openSession(300);
    service.detachSession(session.id);
    await first.store.settled();
    clock.advance(301);
    // Returned as a promise: the refusal waits for the expiry's record.
    await assert.rejects(async () => service.attachSession(session.id), { code: 'lease_not_found' });
    await first.crash();

    const second = await open(dir, clock);
    await assert.rejects(async () => second.lockring.service.attachSession(session.id), { code: 'lease_not_found' });
    expectError(await second.call('GET', `/v1/leases/${session.id}`), 404, 'lease_not_found');
    await second.lockring.close();
  });
});
