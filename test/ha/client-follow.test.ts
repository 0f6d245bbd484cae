/**
 * The SDK and the CLI in replicated mode: given every replica, they follow the
 * active on 503 not_ready and across a kill -9 of the active; the WebSocket
 * reconnects to the new active and resumes its session.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LockringClient } from '../../src/client/client.js';
import { noEtcd } from '../helpers/etcd-cluster.js';
import { entryArgs } from '../helpers/entry.js';
import { call, etcdForSuite, startReplica, waitForActive } from '../helpers/lockring-cluster.js';
import { repoRoot } from '../helpers/repo-root.js';


describe('clients of a replicated cluster', { skip: noEtcd, timeout: 90_000 }, () => {
  const cluster = etcdForSuite();

  test('the SDK follows the active from a standby and across a kill -9; its session is resumed on the new active', async () => {
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'sdk')));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    const client = new LockringClient({ url: `${standby.url},${active.url}`, sessionTtlMs: 5_000, requestTimeoutMs: 15_000 });
    try {
      await client.connect();
      const session = client.sessionId;
      assert.ok(session !== null);
      const first = await client.acquire('followed', { ttlMs: 5_000 });
      const connected = new Promise<{ resumed: boolean }>((resolve) => client.on('connected', resolve));
      await active.kill();
      const second = await client.acquire('followed-2', { ttlMs: 5_000 });
      assert.ok(second.token > first.token, 'tokens rise across the takeover');
      const again = await connected;
      assert.equal(again.resumed, true, 'the session lease was taken back on the new active');
      assert.equal(client.sessionId, session);
      const lease = await call(standby.url, 'GET', `/v1/leases/${session}`);
      assert.equal(lease.status, 200);
      await second.release();
    } finally {
      await client.close();
    }
  });

  test('the CLI takes several URLs and finds the active', async () => {
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'cli')));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    await call(active.url, 'POST', '/v1/locks/cli-lock/acquire', { ttlMs: 10_000, owner: 'someone' });
    const result = spawnSync(process.execPath, [...entryArgs('cli'), 'status', 'cli-lock', '--json'], {
      cwd: repoRoot, encoding: 'utf8', timeout: 30_000,
      env: { ...process.env, LOCKRING_URL: `${standby.url},${active.url}` },
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /someone/);
  });
});
