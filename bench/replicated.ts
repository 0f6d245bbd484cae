/**
 * The replicated mode against its alternatives, on one machine:
 *
 *   - acquire+release cycles (a fresh name per cycle) against lockring on its local
 *     write-ahead log and lockring replicated on a 3-member etcd (fsync on), each over
 *     HTTP (autocannon, 50 connections) and over the WebSocket (50 clients x 16 in
 *     flight), and against the etcd3 npm client's lock recipe on the same etcd with 50
 *     and with 800 closed loops (the WebSocket load's cycles in flight). Each also per
 *     server CPU-second: the CPU of every server process involved (the replicas and the
 *     etcd members for the replicated mode, the etcd members for the recipe, the one
 *     process for the local log), read from /proc after the warm-up. The six measures
 *     alternate for `--rounds` rounds; ratios are taken per round;
 *   - takeover after kill -9 of the active: from the kill to the first successful
 *     grant by a client retrying every 20 ms, over `--kills` kills.
 *
 *   npm run bench -- --replicated [--seconds 5] [--rounds 3] [--kills 20] [--session-ttl 2s] [--source]
 *   npx tsx bench/replicated.ts   (the same options)
 *
 * The servers run from dist/, built first (--source: from src/ through tsx).
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
import { httpLoad, lockCycleRequests } from './lib/http-load.js';
import { timedLoops, type LoopResult } from './lib/loops.js';
import { wsLoad, wsLockCycle } from './lib/ws-load.js';
import { processCpuMs } from './lib/processes.js';
import { buildDist, runtime, startLockring } from './lib/servers.js';
import { repoRoot } from './lib/processes.js';
import { quantile, sleep } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' }, kills: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '3' }, 'session-ttl': { type: 'string', default: '2s' },
    // Accepted so that `npm run bench -- --replicated ...` can hand its arguments on.
    replicated: { type: 'boolean', default: false },
    // Run the replicas and the single process from src/ through tsx instead of dist/.
    source: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const kills = Number(values.kills);
const rounds = Number(values.rounds);
const sessionTtl = values['session-ttl'];
const loops = 50;
/** Requests in flight per WebSocket: 50 x 16, as in the main table's WS rows. */
const wsInFlight = 16;

interface Measured extends LoopResult {
  /** CPU seconds of the server processes during the run, in all and by group (lockring, etcd). */
  readonly serverCpuSec: number;
  readonly serverCpuSecBy: Record<string, number>;
  readonly cyclesPerServerCpuSec: number;
}

/** Runs `load` and charges it the CPU the processes of `groups` used meanwhile. */
async function withCpu(groups: Record<string, readonly number[]>, load: (onMeasureStart: () => void) => Promise<LoopResult>): Promise<Measured> {
  const cpu = (): Record<string, number> =>
    Object.fromEntries(Object.entries(groups).map(([group, pids]) => [group, pids.reduce((sum, pid) => sum + processCpuMs(pid), 0)]));
  // Counted from the measured part on (after a load's warm-up, if it has one).
  let before = cpu();
  const result = await load(() => {
    before = cpu();
  });
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

/**
 * autocannon, not fetch: undici's fetch in this process spent about 2.8 ms of CPU per
 * cycle and saturated its core near 380 cycles/s, so the lockring figures were the
 * client's. Latency here is per request (two per cycle), from autocannon.
 */
async function lockringLoad(url: string, onMeasureStart: () => void): Promise<LoopResult> {
  const result = await httpLoad({ url, connections: loops, durationSec: seconds, requests: lockCycleRequests('bench-'), warmupSec: 1, onMeasureStart });
  const cycles = Math.floor(result.requests / 2);
  return {
    cyclesPerSec: cycles / result.durationSec, opsPerSec: result.reqPerSec, cycles, p50: result.p50, p99: result.p99, max: result.max,
    errors: result.errors, errorCodes: result.statusCodes, durationSec: result.durationSec,
  };
}

async function lockringWsLoad(url: string, onMeasureStart: () => void): Promise<LoopResult> {
  return wsLoad({ url, clients: loops, inFlight: wsInFlight, durationSec: seconds, warmupSec: 1, cycle: wsLockCycle('bench-'), onMeasureStart });
}

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

type Key = 'wal' | 'walWs' | 'replicated' | 'replicatedWs' | 'etcd3' | 'etcd3Wide';
const measures: readonly { key: Key; label: string; per: 'request' | 'cycle' }[] = [
  { key: 'wal', label: 'lockring, local WAL, HTTP 50', per: 'request' },
  { key: 'walWs', label: `lockring, local WAL, WS ${loops}x${wsInFlight}`, per: 'cycle' },
  { key: 'replicated', label: 'lockring, replicated, HTTP 50', per: 'request' },
  { key: 'replicatedWs', label: `lockring, replicated, WS ${loops}x${wsInFlight}`, per: 'cycle' },
  { key: 'etcd3', label: 'etcd3 lock recipe, 50 loops', per: 'cycle' },
  { key: 'etcd3Wide', label: `etcd3 lock recipe, ${loops * wsInFlight} loops`, per: 'cycle' },
];

/** The etcd3 npm client's lock recipe, `n` closed loops on one client (one gRPC channel, as its users run it). */
const recipeLoad = (client: Etcd3, n: number) => (onMeasureStart: () => void): Promise<LoopResult> => {
  const cycle = async (): Promise<number> => {
    const lock = client.lock(`bench/${Math.random().toString(36).slice(2, 10)}`).ttl(30);
    await lock.acquire();
    await lock.release();
    return 2;
  };
  const connections = Array.from({ length: n }, (_, i) => i);
  return timedLoops({ connections, inFlight: 1, durationSec: 1, cycle }).then(() => {
    onMeasureStart();
    return timedLoops({ connections, inFlight: 1, durationSec: seconds, cycle });
  });
};

async function main(): Promise<void> {
  if (noEtcd !== false) throw new Error(noEtcd);
  if (!values.source) {
    // The replicas (started as the tests start them) and the single process run dist/, as users do.
    buildDist();
    runtime.dist = true;
    process.env['LOCKRING_TEST_BUILD'] = join(repoRoot, 'dist');
  }
  const runs = Object.fromEntries(measures.map((m) => [m.key, [] as Measured[]])) as Record<Key, Measured[]>;
  const results: Record<string, unknown> = { seconds, rounds, loops, wsInFlight, sessionTtl, runs };
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
          const groups = { lockring: [single.child.pid] };
          runs.wal.push(await withCpu(groups, (start) => lockringLoad(single.url, start)));
          runs.walWs.push(await withCpu(groups, (start) => lockringWsLoad(single.url, start)));
        } finally {
          await single.stop();
          rmSync(dataDir, { recursive: true, force: true });
        }
        // The active and the standby apart: what serving costs, and what following the log costs.
        const groups = { active: [active.pid], standby: replicas.filter((r) => r !== active).map((r) => r.pid), etcd: etcdPids };
        runs.replicated.push(await withCpu(groups, (start) => lockringLoad(active.url, start)));
        runs.replicatedWs.push(await withCpu(groups, (start) => lockringWsLoad(active.url, start)));
        runs.etcd3.push(await withCpu({ etcd: etcdPids }, recipeLoad(client, loops)));
        runs.etcd3Wide.push(await withCpu({ etcd: etcdPids }, recipeLoad(client, loops * wsInFlight)));
        const rate = (key: Key): string => `${key} ${runs[key].at(-1)!.cyclesPerSec.toFixed(0)}/s`;
        process.stderr.write(`round ${round + 1}/${rounds}: ${measures.map((m) => rate(m.key)).join(', ')}\n`);
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
  const lines = [`acquire+release, a fresh name per cycle, ${seconds} s x ${rounds} rounds (median, worst of the rounds):`];
  for (const { label, key, per } of rounds === 0 ? [] : measures) {
    const list = runs[key];
    const worst = (pick: (m: Measured) => number, higherIsWorse: boolean): number => (higherIsWorse ? Math.max(...list.map(pick)) : Math.min(...list.map(pick)));
    lines.push(`${label.padEnd(36)} ${median(list.map((m) => m.cyclesPerSec)).toFixed(0).padStart(6)} cycles/s (worst ${worst((m) => m.cyclesPerSec, false).toFixed(0)})`
      + `   p99 per ${per.padEnd(7)} ${median(list.map((m) => m.p99)).toFixed(1).padStart(7)} ms (worst ${worst((m) => m.p99, true).toFixed(1)})`
      + `   ${median(list.map((m) => m.cyclesPerServerCpuSec)).toFixed(0).padStart(6)} cycles per server CPU-s (worst ${worst((m) => m.cyclesPerServerCpuSec, false).toFixed(0)})`
      + `   errors ${list.reduce((sum, m) => sum + m.errors, 0)}`);
    const groups = Object.keys(list[0]?.serverCpuSecBy ?? {});
    if (groups.length > 1) {
      const perCycle = groups.map((group) => `${group} ${median(list.map((m) => (m.serverCpuSecBy[group]! * 1e6) / m.cycles)).toFixed(0)} us`);
      lines.push(`${''.padEnd(36)} server CPU per cycle (median of the rounds): ${perCycle.join(', ')}`);
    }
  }
  // Per round, then the median and the worst of the rounds: each ratio is of figures from the same round.
  const ratios = (a: Key, b: Key): { median: number; worst: number } => {
    const each = runs[a].map((m, i) => m.cyclesPerServerCpuSec / runs[b][i]!.cyclesPerServerCpuSec);
    return { median: median(each), worst: Math.min(...each) };
  };
  if (rounds > 0) {
    const http = ratios('replicated', 'etcd3');
    const ws = ratios('replicatedWs', 'etcd3Wide');
    const wsNarrow = ratios('replicatedWs', 'etcd3');
    lines.push(`replicated / etcd3 recipe, cycles per server CPU-second: HTTP 50 vs recipe 50 ${http.median.toFixed(1)}x (worst ${http.worst.toFixed(1)}x); `
      + `WS ${loops}x${wsInFlight} vs recipe ${loops * wsInFlight} ${ws.median.toFixed(1)}x (worst ${ws.worst.toFixed(1)}x); vs recipe 50 ${wsNarrow.median.toFixed(1)}x (worst ${wsNarrow.worst.toFixed(1)}x)`);
    results['replicatedOverRecipePerCpu'] = { http, ws, wsOverRecipe50: wsNarrow };
  }
  const takeover = results['takeoverMs'] as { p50: number; p99: number; worst: number | null; samples: number[] } | undefined;
  if (takeover !== undefined && takeover.samples.length > 0) {
    lines.push(`takeover after kill -9 (session TTL ${sessionTtl}), ${takeover.samples.length} kills: median ${takeover.p50.toFixed(0)} ms, p99 ${takeover.p99.toFixed(0)} ms, worst ${takeover.worst!.toFixed(0)} ms`);
  }
  process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(results, null, 2)}\n`);
}

await main();
