/**
 * The replicated mode against its alternatives, on one machine:
 *
 *   - acquire+release (HTTP, a fresh lease per acquire) throughput and p99 with
 *     50 closed loops, against: lockring replicated on a 3-member etcd (fsync on),
 *     lockring on its local write-ahead log, and the etcd3 npm client's lock recipe
 *     on the same 3-member etcd;
 *   - takeover after kill -9 of the active: from the kill to the first successful
 *     grant by a client retrying every 20 ms, over several kills.
 *
 *   npx tsx bench/replicated.ts [--seconds 5] [--kills 5]
 *
 * Needs /usr/bin/etcd. Prints a table and the results as JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { noEtcd, startEtcdCluster } from '../test/helpers/etcd-cluster.js';
import { type Replica, startReplica, stopAll as stopReplicas, waitForActive } from '../test/helpers/lockring-cluster.js';
import { timedLoops, type LoopResult } from './lib/loops.js';
import { startLockring } from './lib/servers.js';
import { quantile, sleep } from './lib/stats.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, kills: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
const kills = Number(values.kills);
const loops = 50;

async function acquireRelease(url: string): Promise<number> {
  const name = `bench-${Math.random().toString(36).slice(2, 10)}`;
  const granted = await fetch(`${url}/v1/locks/${name}/acquire`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ttlMs":30000}',
  });
  const body = (await granted.json()) as { token?: number };
  if (granted.status !== 200 || body.token === undefined) throw new Error(`acquire: HTTP ${granted.status}`);
  const released = await fetch(`${url}/v1/locks/${name}/release`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: body.token }),
  });
  await released.arrayBuffer();
  if (released.status !== 200) throw new Error(`release: HTTP ${released.status}`);
  return 2;
}

const lockringLoad = (url: string): Promise<LoopResult> =>
  timedLoops({ connections: Array.from({ length: loops }, (_, i) => i), inFlight: 1, durationSec: seconds, cycle: () => acquireRelease(url) });

async function takeovers(replicas: Replica[], etcd: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < kills; i++) {
    const active = await waitForActive(replicas);
    const killedAt = performance.now();
    await active.kill();
    for (;;) {
      const standby = replicas.find((r) => r !== active && r.exitCode() === undefined)!;
      const ok = await acquireRelease(standby.url).then(() => true, () => false);
      if (ok) break;
      await sleep(20);
    }
    times.push(performance.now() - killedAt);
    replicas.splice(replicas.indexOf(active), 1, await startReplica(etcd, 'bench', '2s'));
    await sleep(500);
  }
  return times;
}

async function main(): Promise<void> {
  if (noEtcd !== false) throw new Error(noEtcd);
  const results: Record<string, unknown> = {};
  const row = (label: string, r: LoopResult): string =>
    `${label.padEnd(34)} ${r.cyclesPerSec.toFixed(0).padStart(8)} cycles/s   p50 ${r.p50.toFixed(1).padStart(7)} ms   p99 ${r.p99.toFixed(1).padStart(7)} ms   errors ${r.errors}`;
  const lines: string[] = [];

  const dataDir = mkdtempSync(join(tmpdir(), 'lockring-bench-wal-'));
  const single = await startLockring({ dataDir, tag: 'wal' });
  try {
    results['wal'] = await lockringLoad(single.url);
    lines.push(row('lockring, local WAL', results['wal'] as LoopResult));
  } finally {
    await single.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const cluster = await startEtcdCluster(3, { fsync: true });
  try {
    const replicas = [await startReplica(cluster.endpoints, 'bench', '2s'), await startReplica(cluster.endpoints, 'bench', '2s')];
    const active = await waitForActive(replicas);
    results['replicated'] = await lockringLoad(active.url);
    lines.push(row('lockring, replicated (3 etcd)', results['replicated'] as LoopResult));

    const client = new Etcd3({ hosts: cluster.endpoints.split(',') });
    try {
      results['etcd3'] = await timedLoops({
        connections: Array.from({ length: loops }, (_, i) => i), inFlight: 1, durationSec: seconds,
        cycle: async () => {
          const lock = client.lock(`bench/${Math.random().toString(36).slice(2, 10)}`).ttl(30);
          await lock.acquire();
          await lock.release();
          return 2;
        },
      });
      lines.push(row('etcd3 lock recipe (3 etcd)', results['etcd3'] as LoopResult));
    } finally {
      client.close();
    }

    const times = await takeovers(replicas, cluster.endpoints);
    const sorted = [...times].sort((a, b) => a - b);
    results['takeoverMs'] = { samples: times.map(Math.round), p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), sessionTtl: '2s' };
    lines.push(`takeover after kill -9 (session TTL 2 s): p50 ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms over ${times.length} kills`);
  } finally {
    await stopReplicas();
    await cluster.stop();
  }
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(results, null, 2)}\n`);
}

await main();
