/**
 * The replicated mode's metrics on /metrics of real replicas: role, takeovers,
 * appends (latency, records, failures by reason), follower lag and snapshots.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { noEtcd } from '../helpers/etcd-cluster.js';
import { type Replica, call, etcdForSuite, startReplica, waitForActive, withReplicaLogs } from '../helpers/lockring-cluster.js';

/** The value of one series (`name` or `name{labels}` exactly as exported), NaN when absent. */
async function scrape(replica: Replica): Promise<(series: string) => number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const cut = line.lastIndexOf(' ');
    values.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return (series) => values.get(series) ?? Number.NaN;
}

const reasons = ['fenced', 'term_expired', 'timeout', 'unreachable', 'refused', 'etcd_error', 'bad_answer'];

describe('replication metrics', { skip: noEtcd, timeout: 90_000 }, () => {
  const cluster = etcdForSuite();

  test('role, takeovers, appends, follower lag and snapshots show on /metrics of the active and the standby', async () => {
    // A data directory named, as a config file shared with single-process runs might: the
    // replicated mode keeps its log in etcd and must not make it.
    const unusedDataDir = join(tmpdir(), `lockring-unused-${process.pid}-${Date.now()}`);
    const env = { LOCKRING_LIMITS: 'etcdSnapshotIntervalRecordsMax=20', LOCKRING_DATA_DIR: unusedDataDir };
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'metrics', '1s', { env })));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    await withReplicaLogs(replicas, async () => {
      // A hold released before the snapshot and one after it: the new active must still
      // know, after the takeover, that both were released.
      const releasedTokens = new Map<string, number>();
      const acquireRelease = async (name: string): Promise<void> => {
        const granted = await call(active.url, 'POST', `/v1/locks/${name}/acquire`, { ttlMs: 30_000 });
        assert.equal((await call(active.url, 'POST', `/v1/locks/${name}/release`, { token: granted.body.token })).status, 200);
        releasedTokens.set(name, granted.body.token);
      };
      await acquireRelease('ended-early');
      for (let i = 0; i < 30; i++) {
        const granted = await call(active.url, 'POST', `/v1/locks/m-${i}/acquire`, { ttlMs: 30_000 });
        assert.equal(granted.status, 200);
      }
      let onActive = await scrape(active);
      for (let i = 0; i < 100 && !(onActive('lockring_replication_snapshots_total') >= 1); i++) {
        await sleep(50);
        onActive = await scrape(active);
      }
      assert.equal(onActive('lockring_replication_role{role="active"}'), 1);
      assert.equal(onActive('lockring_replication_role{role="standby"}'), 0);
      assert.equal(onActive('lockring_replication_takeovers_total'), 1);
      assert.ok(onActive('lockring_replication_takeover_seconds') >= 0);
      assert.ok(onActive('lockring_replication_append_seconds_count') >= 1, 'appends are timed');
      assert.ok(onActive('lockring_replication_appended_records_total') >= 30, 'every grant was appended');
      for (const reason of reasons) assert.equal(onActive(`lockring_replication_append_failures_total{reason="${reason}"}`), 0, reason);
      assert.ok(onActive('lockring_replication_snapshots_total') >= 1, 'a snapshot was written after 20 records');
      assert.ok(onActive('lockring_replication_snapshot_bytes') > 0);
      assert.equal(onActive('lockring_replication_follower_lag_records'), 0);

      await acquireRelease('ended-late');

      let onStandby = await scrape(standby);
      assert.equal(onStandby('lockring_replication_role{role="standby"}'), 1);
      assert.equal(onStandby('lockring_replication_role{role="active"}'), 0);
      assert.equal(onStandby('lockring_replication_takeovers_total'), 0);
      assert.equal(onStandby('lockring_replication_append_seconds_count'), 0, 'a standby appends nothing');
      // The standby follows: its lag, as of its last look at the head, comes back to 0.
      for (let i = 0; i < 100 && onStandby('lockring_replication_follower_lag_records') !== 0; i++) {
        await sleep(50);
        onStandby = await scrape(standby);
      }
      assert.equal(onStandby('lockring_replication_follower_lag_records'), 0);

      await active.kill();
      assert.equal(await waitForActive([standby]), standby);
      const after = await scrape(standby);
      assert.equal(after('lockring_replication_role{role="active"}'), 1);
      assert.equal(after('lockring_replication_role{role="standby"}'), 0);
      assert.equal(after('lockring_replication_takeovers_total'), 1);
      for (const [name, token] of releasedTokens) {
        const late = await call(standby.url, 'POST', `/v1/locks/${name}/release`, { token });
        assert.deepEqual([late.status, late.body.error?.code, late.body.error?.reason], [409, 'not_holder', 'released'], name);
      }
      assert.equal(existsSync(unusedDataDir), false, 'the replicated mode made a data directory');
    });
  });
});
