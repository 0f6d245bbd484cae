/**
 * Faults in replicated mode with concurrent clients and a recorded history, on a
 * real 3-member etcd and real replicas (child processes): kill -9 of the active
 * during a storm of clients (twice), SIGSTOP of the active past its session TTL,
 * kill -9 of an etcd member. The storm's history is checked by test/helpers/ha-history.ts:
 * tokens unique and rising across takeovers, never more holders than a name's limit by
 * acknowledged intervals, FIFO waiters granted in order, no acknowledged grant, release
 * or ring change lost, no kept-alive lease lost early.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EtcdCluster, noEtcd } from '../helpers/etcd-cluster.js';
import { startStorm, summary, verify } from '../helpers/ha-history.js';
import { FollowingCaller, type Replica, call, etcdForSuite, startReplica, waitForActive, withReplicaLogs } from '../helpers/lockring-cluster.js';

describe('replicated mode under faults', { skip: noEtcd, timeout: 120_000 }, () => {
  const cluster = etcdForSuite();

  test('kill -9 of the active twice during an acquire storm loses nothing acknowledged and never gives two holders', async (t) => {
    const replicas: Replica[] = await Promise.all([0, 1, 2].map(() => startReplica(cluster().endpoints, 'storm')));
    const urls = replicas.map((r) => r.url);
    let active = await waitForActive(replicas);
    const storm = await startStorm(urls);
    try {
      const takeoversMs: number[] = [];
      for (let kill = 0; kill < 2; kill++) {
        await sleep(1_200);
        const killedAt = performance.now();
        await active.kill();
        active = await waitForActive(replicas.filter((r) => r !== active));
        takeoversMs.push(performance.now() - killedAt);
      }
      await sleep(1_200);
      await verify(storm, urls, 'two kills of the active');
      for (const ms of takeoversMs) assert.ok(ms < 8_000, `takeover took ${Math.round(ms)} ms`);
      t.diagnostic(`takeovers ${takeoversMs.map(Math.round).join(', ')} ms; ${summary(storm.history)}`);
    } finally {
      storm.history.stopping = true;
    }
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

  test('a standby paused past its session TTL stays up, joins again, and takes over later', async () => {
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'standby-pause')));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    await withReplicaLogs(replicas, async () => {
      const granted = await call(active.url, 'POST', '/v1/locks/kept/acquire', { ttlMs: 30_000 });
      assert.equal(granted.status, 200);
      // Paused only once it has a session to lose: a pause before it joined proves nothing.
      const standing = (): boolean => standby.lines.some((line) => line.includes('standing by'));
      for (let i = 0; i < 400 && !standing(); i++) await sleep(25);
      assert.ok(standing(), 'the standby joined the election');
      standby.signal('SIGSTOP');
      await sleep(2_500);
      standby.signal('SIGCONT');
      const rejoined = (): boolean => standby.lines.some((line) => line.includes('joining again with a new session'));
      for (let i = 0; i < 400 && !rejoined(); i++) await sleep(25);
      assert.ok(rejoined(), 'the standby noticed its lapsed session and joined again');
      assert.equal(standby.exitCode(), undefined, 'the standby did not exit');
      assert.equal((await call(standby.url, 'GET', '/readyz')).status, 503);
      await active.kill();
      assert.equal(await waitForActive([standby]), standby);
      const held = await call(standby.url, 'GET', '/v1/locks/kept');
      assert.equal(held.body.holders[0]?.token, granted.body.token, 'the new active has the grant made before the pause');
    });
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
