/**
 * The real server, started as `node --import tsx src/main.ts` on a free port, driven
 * over real sockets: contention by many clients, hang-ups while waiting, expiry in
 * real time. Bounded loops only; the whole file runs in a few seconds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

/** Polls `probe` every few ms until it returns true; fails after `withinMs`. */
async function eventually(what: string, withinMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - started;
    if (performance.now() - started > withinMs) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await sleep(5);
  }
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `${series} present`);
  return Number(line.slice(series.length + 1));
}

/**
 * A lease shortened by keepalive while a waiter queues on its lock. Nobody touches
 * the lock afterwards: only the expiry loop can hand it on, ~200 ms later.
 */
async function shortenedLease(server: ServerProcess): Promise<void> {
  const lease = await server.call('POST', '/v1/leases', { ttlMs: 20_000 });
  const grant = await server.call('POST', '/v1/locks/shortened/acquire', { leaseId: lease.body.id });
  assert.equal(grant.status, 200);
  const started = performance.now();
  const waiting = server.call('POST', '/v1/locks/shortened/acquire', { ttlMs: 10_000, waitMs: 8_000 });
  await eventually('the waiter queued', 2_000, async () => (await server.call('GET', '/v1/locks/shortened')).body.waiters === 1);
  const kept = await server.call('POST', `/v1/leases/${lease.body.id}/keepalive`, { ttlMs: 200 });
  assert.equal(kept.body.ttlMs, 200);
  const granted = await waiting;
  const tookMs = performance.now() - started;
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.ok(granted.body.token > grant.body.token);
  assert.ok(tookMs < 2_000, `the waiter got the lock ${Math.round(tookMs)} ms later, not ~200 ms`);
  await server.call('POST', '/v1/locks/shortened/release', { token: granted.body.token });
}

describe('acceptance: the real server over real sockets', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess();
  });
  after(async () => {
    await server?.stop();
  });

  test('it logs where it listens and serves health, readiness and metrics', async () => {
    const port = Number(new URL(server.base).port);
    assert.ok(port > 0 && port !== 7420, 'port 0 picked a free port');
    assert.equal(new URL(server.base).hostname, '127.0.0.1');
    const listening = server.lines.filter((line) => line.includes('lockring listening on'));
    assert.equal(listening.length, 1);
    assert.doesNotThrow(() => JSON.parse(listening[0]!), 'the log line is JSON');
    assert.equal((await server.call('GET', '/healthz')).status, 200);
    assert.equal((await server.call('GET', '/readyz')).status, 200);
    const metrics = await fetch(`${server.base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /lockring_fencing_token_last/);
  });

  test('50 clients racing for one lock: never two holders, tokens only go up', { timeout: 30_000 }, async () => {
    const name = 'contended';
    const rounds = 2;
    interface Interval {
      client: number;
      token: number;
      start: number;
      end: number;
    }
    const intervals: Interval[] = [];
    let inside = 0;
    let maxInside = 0;

    const client = async (id: number): Promise<void> => {
      for (let round = 0; round < rounds; round++) {
        const grant = await server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000, waitMs: 25_000, owner: `client-${id}` });
        assert.equal(grant.status, 200, JSON.stringify(grant.body));
        const start = performance.now();
        inside++;
        maxInside = Math.max(maxInside, inside);
        // The protected resource asks whether the token still holds, before and after the "work".
        const first = await server.call('POST', `/v1/locks/${name}/check`, { token: grant.body.token });
        assert.equal(first.body.held, true, `client ${id} holds token ${grant.body.token}`);
        await sleep(1);
        const second = await server.call('POST', `/v1/locks/${name}/check`, { token: grant.body.token });
        assert.equal(second.body.held, true);
        inside--;
        const end = performance.now();
        intervals.push({ client: id, token: grant.body.token, start, end });
        const released = await server.call('POST', `/v1/locks/${name}/release`, { token: grant.body.token });
        assert.equal(released.status, 200, JSON.stringify(released.body));
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, id) => client(id)));

    assert.equal(maxInside, 1, 'never two holders at once');
    assert.equal(intervals.length, 50 * rounds);
    const byStart = [...intervals].sort((a, b) => a.start - b.start);
    for (let i = 1; i < byStart.length; i++) {
      const previous = byStart[i - 1]!;
      const current = byStart[i]!;
      assert.ok(current.start >= previous.end, `hold of token ${current.token} began before token ${previous.token} ended`);
      assert.ok(current.token > previous.token, `token ${current.token} granted after ${previous.token} is not above it`);
    }
    const gone = await server.call('GET', `/v1/locks/${name}`);
    assert.equal(gone.status, 404, 'idle after everyone released');
  });

  test('50 queued clients are granted first come, first served, round after round', { timeout: 30_000 }, async () => {
    const name = 'fifo-real';
    const clients = 50;
    const rounds = 3;
    const gate = await server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000, owner: 'gate' });
    assert.equal(gate.status, 200);
    const grants: { owner: string; token: number }[] = [];
    let inside = 0;
    const client = async (id: number): Promise<void> => {
      for (let round = 0; round < rounds; round++) {
        const grant = await server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000, waitMs: 25_000, owner: `c${id}` });
        assert.equal(grant.status, 200, JSON.stringify(grant.body));
        assert.equal(++inside, 1, 'never two holders at once');
        grants.push({ owner: grant.body.owner, token: grant.body.token });
        const check = await server.call('POST', `/v1/locks/${name}/check`, { token: grant.body.token });
        assert.equal(check.body.held, true);
        inside--;
        // Releasing and asking again puts this client at the back of the queue.
        await server.call('POST', `/v1/locks/${name}/release`, { token: grant.body.token });
      }
    };
    const running: Promise<void>[] = [];
    for (let id = 0; id < clients; id++) {
      running.push(client(id));
      // Arrival order is only known once the server has queued the previous client.
      await eventually(`client ${id} queued`, 5_000, async () => (await server.call('GET', `/v1/locks/${name}`)).body.waiters === id + 1);
    }
    await server.call('POST', `/v1/locks/${name}/release`, { token: gate.body.token });
    await Promise.all(running);
    const expected = Array.from({ length: rounds * clients }, (_, i) => `c${i % clients}`);
    assert.deepEqual(grants.map((g) => g.owner), expected, 'round-robin: each grant went to the oldest waiter');
    for (let i = 1; i < grants.length; i++) assert.ok(grants[i]!.token > grants[i - 1]!.token);
    assert.ok(grants[0]!.token > gate.body.token);
  });

  test('a waiter whose connection closes leaves the queue at once', { timeout: 15_000 }, async () => {
    const name = 'hangup';
    const holder = await server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000 });
    assert.equal(holder.status, 200);
    const controller = new AbortController();
    const abandoned = fetch(`${server.base}/v1/locks/${name}/acquire`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttlMs: 10_000, waitMs: 60_000, owner: 'quitter' }),
      signal: controller.signal,
    });
    const stay = server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000, waitMs: 10_000, owner: 'stayer' });
    await eventually('two waiters queued', 5_000, async () => (await server.call('GET', `/v1/locks/${name}`)).body.waiters === 2);
    controller.abort();
    await assert.rejects(abandoned);
    const tookMs = await eventually('the closed waiter left', 1_000, async () => (await server.call('GET', `/v1/locks/${name}`)).body.waiters === 1);
    assert.ok(tookMs < 1_000);
    // The next grant goes to the waiter that stayed, not the one that left.
    await server.call('POST', `/v1/locks/${name}/release`, { token: holder.body.token });
    const granted = await stay;
    assert.equal(granted.status, 200);
    assert.equal(granted.body.owner, 'stayer');
    const view = await server.call('GET', `/v1/locks/${name}`);
    assert.deepEqual(view.body.holders.map((h: any) => h.owner), ['stayer']);
    assert.equal(view.body.waiters, 0);
    await server.call('POST', `/v1/locks/${name}/release`, { token: granted.body.token });
  });

  test('a hold expires in real time, within bounds, without anyone touching it', { timeout: 10_000 }, async () => {
    const name = 'expiring';
    const before = await (await fetch(`${server.base}/metrics`)).text();
    const sent = performance.now();
    const grant = await server.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 200 });
    const answered = performance.now();
    assert.equal(grant.status, 200);
    assert.equal(grant.body.ttlMs, 200);
    const wall = Date.now();
    assert.ok(Number.isInteger(grant.body.expiresAt) && Math.abs(grant.body.expiresAt - (wall + 200)) < 1_000, 'expiresAt is epoch ms about now + ttlMs');
    const check = await server.call('POST', `/v1/locks/${name}/check`, { token: grant.body.token });
    assert.equal(check.body.held, true);

    // Watch the expiry through /metrics, which reads the tables without touching the lock.
    const expiredBefore = metric(before, 'lockring_lease_expired_total');
    await eventually('the lease expired', 2_000, async () => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      return metric(text, 'lockring_lease_expired_total') > expiredBefore;
    });
    const sawExpiry = performance.now();
    assert.ok(sawExpiry - sent >= 190, `expired after ${Math.round(sawExpiry - sent)} ms, before its TTL`);
    assert.ok(sawExpiry - answered <= 200 + 300, `expired ${Math.round(sawExpiry - answered)} ms after the grant`);
    const after = await server.call('POST', `/v1/locks/${name}/check`, { token: grant.body.token });
    assert.equal(after.body.held, false);
    assert.equal((await server.call('GET', `/v1/locks/${name}`)).status, 404);
    assert.equal((await server.call('GET', `/v1/leases/${grant.body.leaseId}`)).status, 404);
    const late = await server.call('POST', `/v1/locks/${name}/release`, { token: grant.body.token });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.reason, 'expired');
  });

  test('keepalives keep a short lease alive in real time', { timeout: 10_000 }, async () => {
    const lease = await server.call('POST', '/v1/leases', { ttlMs: 200 });
    assert.equal(lease.status, 201);
    const grant = await server.call('POST', '/v1/locks/kept/acquire', { leaseId: lease.body.id });
    for (let i = 0; i < 6; i++) {
      await sleep(80);
      const kept = await server.call('POST', `/v1/leases/${lease.body.id}/keepalive`);
      assert.equal(kept.status, 200, `keepalive ${i}`);
    }
    const check = await server.call('POST', '/v1/locks/kept/check', { token: grant.body.token });
    assert.equal(check.body.held, true, 'alive well past its first deadline');
    const revoked = await server.call('DELETE', `/v1/leases/${lease.body.id}`);
    assert.deepEqual(revoked.body.released, [{ name: 'kept', token: grant.body.token }]);
  });

  test('a waiter with waitMs times out with 409 lock_held in real time', { timeout: 10_000 }, async () => {
    const holder = await server.call('POST', '/v1/locks/timed/acquire', { ttlMs: 10_000 });
    const started = performance.now();
    const timedOut = await server.call('POST', '/v1/locks/timed/acquire', { ttlMs: 10_000, waitMs: 150 });
    const tookMs = performance.now() - started;
    assert.equal(timedOut.status, 409);
    assert.equal(timedOut.body.error.code, 'lock_held');
    assert.ok(tookMs >= 140 && tookMs < 1_000, `timed out after ${Math.round(tookMs)} ms`);
    await server.call('POST', '/v1/locks/timed/release', { token: holder.body.token });
  });
});

// A server of its own, where nothing but the deadlines under test can wake the
// expiry loop: a timer armed too late would not be hidden by someone else's.
describe('acceptance: timers on a quiet server', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess();
  });
  after(async () => {
    await server?.stop();
  });

  test('a keepalive that shortens a lease brings its expiry forward', { timeout: 10_000 }, async () => {
    await shortenedLease(server);
  });

  test('after an expiry, lock-delay holds the name, then the waiter gets it', { timeout: 10_000 }, async () => {
    const started = performance.now();
    const grant = await server.call('POST', '/v1/locks/delayed/acquire', { ttlMs: 200, lockDelayMs: 300 });
    assert.equal(grant.status, 200);
    const waiting = server.call('POST', '/v1/locks/delayed/acquire', { ttlMs: 5_000, waitMs: 5_000, owner: 'next' });
    await eventually('the delay began', 2_000, async () => {
      const view = await server.call('GET', '/v1/locks/delayed');
      return view.status === 200 && view.body.holders.length === 0 && typeof view.body.retryAfterMs === 'number';
    });
    const refused = await server.call('POST', '/v1/locks/delayed/acquire', { ttlMs: 5_000 });
    assert.equal(refused.status, 409);
    assert.ok(refused.body.error.retryAfterMs > 0 && refused.body.error.retryAfterMs <= 300);
    const granted = await waiting;
    const tookMs = performance.now() - started;
    assert.equal(granted.status, 200);
    assert.equal(granted.body.owner, 'next');
    assert.ok(tookMs >= 480, `granted after ${Math.round(tookMs)} ms: before TTL + delay`);
    assert.ok(tookMs < 1_500, `granted after ${Math.round(tookMs)} ms: long after TTL + delay`);
    await server.call('POST', '/v1/locks/delayed/release', { token: granted.body.token });
  });
});
