/**
 * Faults of etcd itself under a replicated cluster with concurrent clients and a
 * recorded history (test/helpers/ha-history.ts checks it): the etcd leader member
 * paused (SIGSTOP) and resumed, and the whole etcd cluster stopped and started
 * again on its data directories while the replicas run. Each test has its own
 * 3-member etcd and 3 replicas, every process stopped by its pid.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EtcdCluster, type EtcdMember, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';
import { type Storm, startStorm, summary, verify } from '../helpers/ha-history.js';
import { type SupervisedReplicas, stopAll, superviseReplicas, waitForActive, withReplicaLogs } from '../helpers/lockring-cluster.js';

/** Polls `asked` until it names a leader other than `old` (raft elected a new one). */
async function newLeader(etcd: EtcdCluster, asked: EtcdMember, old: EtcdMember, withinMs: number): Promise<EtcdMember> {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    const leader = await etcd.leader(asked).catch(() => null);
    if (leader !== null && leader !== old) return leader;
    await sleep(50);
  }
  throw new Error(`no new etcd leader within ${withinMs} ms`);
}

describe('replicated mode when etcd fails', { skip: noEtcd, timeout: 150_000 }, () => {
  test('SIGSTOP of the etcd leader member under clients, then SIGCONT: nothing acknowledged is lost, tokens rise, service goes on', async (t) => {
    const etcd = await startEtcdCluster(3);
    let cluster: SupervisedReplicas | null = null;
    let storm: Storm | null = null;
    try {
      // The default session TTL. etcd re-elects in about 500 ms here, yet the active may
      // still miss its renewal and step down (a failover): the checks hold either way.
      cluster = await superviseReplicas(etcd.endpoints, 'stop-leader', '2s', 3);
      const { slots, urls } = cluster;
      const first = await waitForActive(slots, 20_000);
      await withReplicaLogs(slots, async () => {
        storm = await startStorm(urls);
        await sleep(1_500);
        const leader = await etcd.leader();
        const other = etcd.members.find((m) => m !== leader)!;
        const before = storm.history.holds.length;
        etcd.signal(leader, 'SIGSTOP');
        try {
          await newLeader(etcd, other, leader, 10_000);
          await sleep(2_500);
        } finally {
          etcd.signal(leader, 'SIGCONT');
        }
        const atCont = storm.history.holds.length;
        const active = await waitForActive(slots, 20_000);
        await sleep(2_000);
        assert.ok(storm.history.holds.length > atCont, 'grants go on after the old etcd leader is back');
        await verify(storm, urls, 'etcd leader paused');
        t.diagnostic(`etcd leader ${leader.name} paused; grants before ${before}, at SIGCONT ${atCont}; active ${active === first ? 'kept' : 'changed'}; replica restarts ${cluster!.restarts()}; ${summary(storm.history)}`);
      });
    } finally {
      if (storm !== null) (storm as Storm).history.stopping = true;
      await cluster?.stop();
      await stopAll();
      await etcd.stop();
    }
  });

  test('the whole etcd cluster stopped and started again: no undurable answer meanwhile, nothing acknowledged lost, tokens rise', async (t) => {
    const etcd = await startEtcdCluster(3);
    let cluster: SupervisedReplicas | null = null;
    let storm: Storm | null = null;
    try {
      // The test is the replicas' supervisor: one that stepped down, or could not start while etcd was gone, starts again.
      cluster = await superviseReplicas(etcd.endpoints, 'restart', '2s', 3);
      const { slots, urls } = cluster;
      const first = await waitForActive(slots, 20_000);
      await withReplicaLogs(slots, async () => {
        storm = await startStorm(urls);
        await sleep(1_500);
        await Promise.all(etcd.members.map((member) => etcd.kill(member)));
        const downAt = performance.now();
        // Longer than the session TTL: every replica must find its session unrenewable and step down.
        await sleep(3_500);
        const restartAt = performance.now();
        assert.equal(first.exitCode(), 1, 'the active stepped down while etcd was gone');
        await Promise.all(etcd.members.map((member) => etcd.restart(member)));
        await etcd.healthy(20_000);
        const active = await waitForActive(slots, 30_000);
        const backAt = performance.now();
        await sleep(2_000);
        // A reply leaving just after the kill may carry a commit etcd made before it.
        const undurable = storm.history.ackedBetween(downAt + 200, restartAt);
        assert.deepEqual(undurable, [], 'a change was acknowledged while no etcd member ran');
        await verify(storm, urls, 'etcd restarted');
        t.diagnostic(`etcd down ${Math.round(restartAt - downAt)} ms; active again ${Math.round(backAt - restartAt)} ms after the restart began (${active.url}); replica restarts ${cluster!.restarts()}; ${summary(storm.history)}`);
      });
    } finally {
      if (storm !== null) (storm as Storm).history.stopping = true;
      await cluster?.stop();
      await stopAll();
      await etcd.stop();
    }
  });
});
