/**
 * The replicated mode against its alternatives, on one machine:
 *
 *   - acquire+release (HTTP, a fresh name per acquire) throughput and p99 with 50
 *     closed loops, against: lockring replicated on a 3-member etcd (fsync on),
 *     lockring on its local write-ahead log, and the etcd3 npm client's lock recipe
 *     on the same 3-member etcd. Each also per server CPU-second: the CPU of every
 *     server process involved (the replicas and the etcd members for the replicated
 *     mode, the etcd members for the recipe, the one process for the local log),
 *     read from /proc. The three alternate for `--rounds` rounds;
 *   - takeover after kill -9 of the active: from the kill to the first successful
 *     grant by a client retrying every 20 ms, over `--kills` kills.
 *
 *   npm run bench -- --replicated [--seconds 5] [--rounds 3] [--kills 20] [--session-ttl 5s]
 *   npx tsx bench/replicated.ts   (the same options)
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
import { processCpuMs } from './lib/processes.js';
import { startLockring } from './lib/servers.js';
import { quantile, sleep } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' }, kills: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' }, 'session-ttl': { type: 'string', default: '5s' },
    // Accepted so that `npm run bench -- --replicated ...` can hand its arguments on.
    replicated: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const kills = Number(values.kills);
const rounds = Number(values.rounds);
const sessionTtl = values['session-ttl'];
const loops = 50;

interface Measured extends LoopResult {
  /** CPU seconds of the server processes during the run, in all and by group (lockring, etcd). */
  readonly serverCpuSec: number;
  readonly serverCpuSecBy: Record<string, number>;
  readonly cyclesPerServerCpuSec: number;
}

/** Runs `load` and charges it the CPU the processes of `groups` used meanwhile. */
async function withCpu(groups: Record<string, readonly number[]>, load: () => Promise<LoopResult>): Promise<Measured> {
  const cpu = (): Record<string, number> =>
    Object.fromEntries(Object.entries(groups).map(([group, pids]) => [group, pids.reduce((sum, pid) => sum + processCpuMs(pid), 0)]));
  const before = cpu();
  const result = await load();
  const after = cpu();
  const serverCpuSecBy = Object.fromEntries(Object.keys(groups).map((group) => [group, (after[group]! - before[group]!) / 1000]));
  const serverCpuSec = Object.values(serverCpuSecBy).reduce((sum, sec) => sum + sec, 0);
  return { ...result, serverCpuSec, serverCpuSecBy, cyclesPerServerCpuSec: result.cycles / serverCpuSec };
}

const median = (values: readonly number[]): number => quantile([...values].sort((a, b) => a - b), 0.5);

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
    process.stderr.write(`takeover ${i + 1}/${kills}: ${Math.round(times.at(-1)!)} ms\n`);
    replicas.splice(replicas.indexOf(active), 1, await startReplica(etcd, 'bench', sessionTtl));
    // The restarted replica joins as a standby; give it a moment to follow the log.
    await sleep(500);
  }
  return times;
}

async function main(): Promise<void> {
  if (noEtcd !== false) throw new Error(noEtcd);
  const runs: Record<'wal' | 'replicated' | 'etcd3', Measured[]> = { wal: [], replicated: [], etcd3: [] };
  const results: Record<string, unknown> = { seconds, rounds, loops, sessionTtl, runs };
  const cluster = await startEtcdCluster(3, { fsync: true });
  const etcdPids = cluster.members.map((m) => m.child!.pid!);
  try {
    const replicas = [await startReplica(cluster.endpoints, 'bench', sessionTtl), await startReplica(cluster.endpoints, 'bench', sessionTtl)];
    const active = await waitForActive(replicas);
    const client = new Etcd3({ hosts: cluster.endpoints.split(',') });
    try {
      for (let round = 0; round < rounds; round++) {
        const dataDir = mkdtempSync(join(tmpdir(), 'lockring-bench-wal-'));
        const single = await startLockring({ dataDir, tag: 'wal' });
        try {
          runs.wal.push(await withCpu({ lockring: [single.child.pid] }, () => lockringLoad(single.url)));
        } finally {
          await single.stop();
          rmSync(dataDir, { recursive: true, force: true });
        }
        runs.replicated.push(await withCpu({ lockring: replicas.map((r) => r.pid), etcd: etcdPids }, () => lockringLoad(active.url)));
        runs.etcd3.push(await withCpu({ etcd: etcdPids }, () => timedLoops({
          connections: Array.from({ length: loops }, (_, i) => i), inFlight: 1, durationSec: seconds,
          cycle: async () => {
            const lock = client.lock(`bench/${Math.random().toString(36).slice(2, 10)}`).ttl(30);
            await lock.acquire();
            await lock.release();
            return 2;
          },
        })));
        process.stderr.write(`round ${round + 1}/${rounds}: wal ${runs.wal.at(-1)!.cyclesPerSec.toFixed(0)}/s, replicated ${runs.replicated.at(-1)!.cyclesPerSec.toFixed(0)}/s, etcd3 ${runs.etcd3.at(-1)!.cyclesPerSec.toFixed(0)}/s\n`);
      }
    } finally {
      client.close();
    }
    const times = kills > 0 ? await takeovers(replicas, cluster.endpoints) : [];
    const sorted = [...times].sort((a, b) => a - b);
    results['takeoverMs'] = { samples: times.map(Math.round), p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), worst: sorted.at(-1) ?? null };
  } finally {
    await stopReplicas();
    await cluster.stop();
  }
  const lines = [`${loops} closed loops of acquire+release over HTTP, ${seconds} s x ${rounds} rounds (median, worst of the rounds):`];
  for (const [label, key] of rounds === 0 ? [] : [['lockring, local WAL', 'wal'], ['lockring, replicated (3 etcd)', 'replicated'], ['etcd3 lock recipe (3 etcd)', 'etcd3']] as const) {
    const list = runs[key];
    const worst = (pick: (m: Measured) => number, higherIsWorse: boolean): number => (higherIsWorse ? Math.max(...list.map(pick)) : Math.min(...list.map(pick)));
    lines.push(`${label.padEnd(32)} ${median(list.map((m) => m.cyclesPerSec)).toFixed(0).padStart(6)} cycles/s (worst ${worst((m) => m.cyclesPerSec, false).toFixed(0)})`
      + `   p99 ${median(list.map((m) => m.p99)).toFixed(1).padStart(7)} ms (worst ${worst((m) => m.p99, true).toFixed(1)})`
      + `   ${median(list.map((m) => m.cyclesPerServerCpuSec)).toFixed(0).padStart(6)} cycles per server CPU-s (worst ${worst((m) => m.cyclesPerServerCpuSec, false).toFixed(0)})`
      + `   errors ${list.reduce((sum, m) => sum + m.errors, 0)}`);
  }
  const ratio = rounds === 0 ? Number.NaN : median(runs.replicated.map((m) => m.cyclesPerServerCpuSec)) / median(runs.etcd3.map((m) => m.cyclesPerServerCpuSec));
  if (rounds > 0) lines.push(`replicated / etcd3 recipe, cycles per server CPU-second: ${ratio.toFixed(1)}x`);
  results['replicatedOverRecipePerCpu'] = ratio;
  const takeover = results['takeoverMs'] as { p50: number; p99: number; worst: number | null; samples: number[] } | undefined;
  if (takeover !== undefined && takeover.samples.length > 0) {
    lines.push(`takeover after kill -9 (session TTL ${sessionTtl}), ${takeover.samples.length} kills: median ${takeover.p50.toFixed(0)} ms, p99 ${takeover.p99.toFixed(0)} ms, worst ${takeover.worst!.toFixed(0)} ms`);
  }
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(results, null, 2)}\n`);
}

await main();
