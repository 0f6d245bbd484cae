/**
 * Faults in replicated mode with concurrent clients and a recorded history, on a
 * real 3-member etcd and real replicas (child processes): kill -9 of the active
 * during an acquire storm (twice), SIGSTOP of the active past its session TTL,
 * kill -9 of an etcd member. The history is checked afterwards: tokens unique and
 * rising across takeovers, never two holders of a limit-1 lock by acknowledged
 * intervals, no acknowledged grant, release or ring change lost, no kept-alive
 * lease lost early.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EtcdCluster, noEtcd } from '../helpers/etcd-cluster.js';
import { FollowingCaller, type Replica, call, etcdForSuite, startReplica, waitForActive, withReplicaLogs } from '../helpers/lockring-cluster.js';

/** One acknowledged grant of the storm's lock. */
interface Hold {
  readonly token: number;
  readonly ackedAt: number;
  /** When the release was first sent: the hold surely lasted from ackedAt to here. */
  releaseSentAt: number;
  /** How the release ended: 200, or not_holder after an earlier attempt got no answer. */
  releaseOutcome: 'released' | 'ambiguous' | 'lost';
}

interface History {
  readonly holds: Hold[];
  /** Ring members whose PUT was acknowledged. */
  readonly members: string[];
  /** Acknowledged keepalives of the kept lease, and whether one ever failed with lease_not_found. */
  keepalives: number;
  keptLeaseLost: boolean;
}

async function worker(id: number, caller: FollowingCaller, history: History, stop: () => boolean): Promise<void> {
  for (let n = 0; !stop(); n++) {
    let granted;
    try {
      granted = await caller.call('POST', '/v1/locks/storm/acquire', { ttlMs: 3_000, owner: `w${id}` });
    } catch {
      continue;
    }
    if (granted.status !== 200) {
      await sleep(5);
      continue;
    }
    const hold: Hold = { token: granted.body.token, ackedAt: performance.now(), releaseSentAt: 0, releaseOutcome: 'lost' };
    history.holds.push(hold);
    const member = `w${id}-${n}`;
    const put = await caller.call('PUT', `/v1/rings/storm/nodes/${member}`, { weight: 1 }).catch(() => null);
    if (put !== null && (put.status === 200 || put.status === 201)) history.members.push(member);
    let sends = 0;
    const released = await caller.call('POST', '/v1/locks/storm/release', { token: hold.token }, 15_000, () => {
      sends += 1;
      if (hold.releaseSentAt === 0) hold.releaseSentAt = performance.now();
    });
    if (released.status === 200) hold.releaseOutcome = 'released';
    // not_holder on a retry: the first attempt may have released it before the crash.
    else if (released.status === 409 && sends > 1) hold.releaseOutcome = 'ambiguous';
  }
}

async function keepLeaseAlive(caller: FollowingCaller, leaseId: string, history: History, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const kept = await caller.call('POST', `/v1/leases/${leaseId}/keepalive`, {}, 2_500).catch(() => null);
    if (kept?.status === 200) history.keepalives += 1;
    if (kept?.status === 404) history.keptLeaseLost = true;
    await sleep(300);
  }
}

function checkHistory(history: History): void {
  const tokens = history.holds.map((h) => h.token);
  assert.equal(new Set(tokens).size, tokens.length, 'a token was handed out twice');
  const byAck = [...history.holds].sort((a, b) => a.ackedAt - b.ackedAt);
  for (let i = 1; i < byAck.length; i++) {
    assert.ok(byAck[i]!.token > byAck[i - 1]!.token, `token ${byAck[i]!.token} acknowledged after ${byAck[i - 1]!.token}`);
  }
  for (let i = 1; i < byAck.length; i++) {
    const earlier = byAck[i - 1]!;
    const later = byAck[i]!;
    assert.ok(later.ackedAt >= earlier.releaseSentAt, `token ${later.token} was granted while ${earlier.token} was surely still held`);
  }
  const lost = history.holds.filter((h) => h.releaseOutcome === 'lost');
  assert.deepEqual(lost.map((h) => h.token), [], 'an acknowledged grant was gone before its release');
}

describe('replicated mode under faults', { skip: noEtcd, timeout: 120_000 }, () => {
  const cluster = etcdForSuite();

  test('kill -9 of the active twice during an acquire storm loses nothing acknowledged and never gives two holders', async () => {
    const replicas: Replica[] = await Promise.all([0, 1, 2].map(() => startReplica(cluster().endpoints, 'storm')));
    const urls = replicas.map((r) => r.url);
    let active = await waitForActive(replicas);
    const setup = new FollowingCaller(urls);
    const kept = await setup.call('POST', '/v1/leases', { ttlMs: 3_000 });
    assert.equal(kept.status, 201);
    const keeper = await setup.call('POST', '/v1/locks/keeper/acquire', { leaseId: kept.body.id });
    assert.equal(keeper.status, 200);
    const history: History = { holds: [], members: [], keepalives: 0, keptLeaseLost: false };
    let stopping = false;
    const workers = [0, 1, 2, 3, 4].map((id) => worker(id, new FollowingCaller(urls), history, () => stopping));
    const keeping = keepLeaseAlive(new FollowingCaller(urls), kept.body.id, history, () => stopping);
    const takeoversMs: number[] = [];
    for (let kill = 0; kill < 2; kill++) {
      await sleep(1_200);
      const before = history.holds.length;
      const killedAt = performance.now();
      await active.kill();
      active = await waitForActive(replicas.filter((r) => r !== active));
      takeoversMs.push(performance.now() - killedAt);
      assert.ok(history.holds.length >= before);
    }
    await sleep(1_200);
    stopping = true;
    await Promise.all([...workers, keeping]);
    assert.ok(history.holds.length >= 10, `the storm got only ${history.holds.length} grants`);
    checkHistory(history);
    const final = new FollowingCaller(urls);
    const ring = await final.call('GET', '/v1/rings/storm');
    const nodes = new Set((ring.body.nodes as { id: string }[]).map((n) => n.id));
    assert.deepEqual(history.members.filter((m) => !nodes.has(m)), [], 'an acknowledged ring change was lost');
    const keeperNow = await final.call('GET', '/v1/locks/keeper');
    assert.equal(keeperNow.body.holders[0]?.token, keeper.body.token, 'the kept hold survived both takeovers with its token');
    assert.equal(history.keptLeaseLost, false, 'a lease kept alive within its TTL expired');
    const after = await final.call('POST', '/v1/locks/after-storm/acquire', { ttlMs: 1_000 });
    assert.ok(after.body.token > Math.max(...history.holds.map((h) => h.token)));
    for (const ms of takeoversMs) assert.ok(ms < 8_000, `takeover took ${Math.round(ms)} ms`);
  });

  test('an active paused past its session TTL steps down without answering what it received meanwhile', async () => {
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'pause')));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    const before = await call(active.url, 'POST', '/v1/locks/paused/acquire', { ttlMs: 10_000 });
    assert.equal(before.status, 200);
    active.signal('SIGSTOP');
    const sent = [
      call(active.url, 'POST', '/v1/locks/other/acquire', { ttlMs: 10_000 }, 15_000),
      call(active.url, 'POST', '/v1/locks/paused/check', { token: before.body.token }, 15_000),
      call(active.url, 'GET', '/v1/locks/paused', undefined, 15_000),
    ].map((p) => p.then((answer) => ({ answered: true, answer }), () => ({ answered: false, answer: null })));
    await waitForActive([standby]);
    active.signal('SIGCONT');
    const outcomes = await Promise.all(sent);
    assert.deepEqual(outcomes.map((o) => o.answered), [false, false, false], `the paused active answered: ${JSON.stringify(outcomes)}`);
    for (let i = 0; i < 100 && active.exitCode() === undefined; i++) await sleep(30);
    assert.equal(active.exitCode(), 1, 'the deposed active exits');
    const other = await call(standby.url, 'POST', '/v1/locks/other/acquire', { ttlMs: 1_000 });
    assert.equal(other.status, 200, 'the request the paused active swallowed changed nothing');
    assert.ok(other.body.token > before.body.token);
    const held = await call(standby.url, 'GET', '/v1/locks/paused');
    assert.equal(held.body.holders[0]?.token, before.body.token);
  });

  test('kill -9 of one etcd member: the active keeps serving and loses nothing', async () => {
    // A session TTL well above etcd's own leader election (500 ms here), as in production.
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'member', '3s')));
    const active = await waitForActive(replicas);
    await withReplicaLogs(replicas, () => etcdMemberLoss(cluster(), replicas, active));
  });
});

async function etcdMemberLoss(cluster: EtcdCluster, replicas: Replica[], active: Replica): Promise<void> {
  const urls = replicas.map((r) => r.url);
  const caller = new FollowingCaller(urls);
  const tokens: number[] = [];
  const acquireRelease = async (name: string): Promise<void> => {
    const granted = await caller.call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 5_000 });
    assert.equal(granted.status, 200);
    tokens.push(granted.body.token);
  };
  for (let i = 0; i < 10; i++) await acquireRelease(`m-${i}`);
  await cluster.kill(cluster.members[0]!);
  for (let i = 10; i < 30; i++) await acquireRelease(`m-${i}`);
  for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!);
  const listed = await caller.call('GET', '/v1/locks?prefix=m-&limit=100');
  assert.equal(listed.body.locks.length, 30, 'every acknowledged grant is there');
  assert.equal(active.exitCode(), undefined, 'the active rode out the loss of an etcd member');
  assert.equal(await waitForActive(replicas), active);
}
