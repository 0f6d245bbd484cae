/**
 * `npx tsx bench/expiry-cost.ts [leases] [rounds] [layers]` (layers: e.g. `domain,server`): CPU per expiry in process, on a
 * manual clock, with nothing else running in the process: leases granted with
 * deadlines spread over 10 s, then the clock is moved 1 ms at a time and every due
 * deadline is ticked, as the expiry loop does. Run in layers, so the differences say
 * where an expiry's time goes:
 *
 *   domain   the bare StateMachine (deadline heap, lease table, the lease_ended event)
 *   server   buildServer's machine: + metrics, WebSocket hub, admission subscribers
 *   log      the same with a data directory: + encoding each record into the log
 *
 * Also reported: the garbage collector's time during the expiries and the number
 * of young-generation collections (scavenges), which is what allocating on the hot
 * path costs: each one means another young generation's worth of bytes allocated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { serverDeps } from '../src/cli/server-deps.js';
import { makeConfig } from '../src/config.js';
import { ManualClock } from '../src/domain/clock.js';
import { StateMachine } from '../src/domain/state-machine.js';
import { makeLimits } from '../src/limits.js';
import { createLogger } from '../src/ops/logger.js';
import { buildServer, leaseIdSource } from '../src/server.js';
import { loadHashing } from '../src/xxhash.js';
import { prng } from './lib/stats.js';

const leases = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const spreadMs = 10_000;
type Layer = 'domain' | 'server' | 'log';
const layers = (process.argv[4] ?? 'domain,server,log').split(',') as Layer[];

interface Result {
  readonly layer: Layer;
  readonly nsPerExpiry: number;
  readonly gcMs: number;
  readonly scavenges: number;
}

/** perf_hooks' kind of a young-generation collection. */
const minorGc = 1;
let gcMs = 0;
let scavenges = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    if ((entry as { readonly detail?: { readonly kind?: number } }).detail?.kind === minorGc) scavenges += 1;
  }
}).observe({ entryTypes: ['gc'] });

async function machineFor(layer: Layer, clock: ManualClock): Promise<{ machine: StateMachine; close: () => Promise<void> }> {
  const limits = makeLimits({ leasesMax: Math.max(leases + 10, 1_000_000), walBacklogBytesMax: 1024 * 1024 * 1024 });
  if (layer === 'domain') {
    const machine = new StateMachine({ clock, limits, hashing: await loadHashing(), newLeaseId: leaseIdSource() });
    return { machine, close: async () => {} };
  }
  const dataDir = layer === 'log' ? mkdtempSync(join(tmpdir(), 'lockring-expiry-cost-')) : null;
  const config = makeConfig({ dataDir, logLevel: 'silent', limits });
  const logger = createLogger('silent');
  const lockring = await buildServer(config, { logger, clock, ...serverDeps(config, logger) });
  await lockring.start();
  return {
    machine: lockring.machine,
    close: async () => {
      await lockring.close();
      if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function once(layer: Layer): Promise<Result> {
  const clock = new ManualClock();
  const { machine, close } = await machineFor(layer, clock);
  try {
    const random = prng(42);
    for (let i = 0; i < leases; i++) machine.run((m) => m.leases.grant(1_000 + Math.round(random() * spreadMs)));
    // Let a log catch up before measuring: its writes are not the expiries' CPU.
    await new Promise((resolve) => setTimeout(resolve, layer === 'log' ? 3_000 : 100));
    clock.advance(999);
    const gcBefore = gcMs;
    const scavengesBefore = scavenges;
    const cpuBefore = process.cpuUsage();
    let expired = 0;
    for (let ms = 0; ms <= spreadMs + 1; ms++) {
      clock.advance(1);
      for (;;) {
        const turn = machine.tick(10_000);
        expired += turn.processed;
        if (!turn.more) break;
      }
    }
    const cpu = process.cpuUsage(cpuBefore);
    // Observer entries arrive on a later turn.
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (expired !== leases) throw new Error(`${layer}: ${expired} expired, expected ${leases}`);
    return {
      layer,
      nsPerExpiry: ((cpu.user + cpu.system) * 1000) / expired,
      gcMs: gcMs - gcBefore,
      scavenges: scavenges - scavengesBefore,
    };
  } finally {
    await close();
  }
}

const results: Result[] = [];
for (let round = 0; round < rounds; round++) {
  for (const layer of layers) {
    const result = await once(layer);
    results.push(result);
    process.stderr.write(`${layer}: ${result.nsPerExpiry.toFixed(0)} ns/expiry, GC ${result.gcMs.toFixed(0)} ms, ${result.scavenges} scavenges\n`);
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const layer of layers) {
  const mine = results.filter((r) => r.layer === layer);
  const ns = mine.map((r) => r.nsPerExpiry);
  process.stdout.write(`${layer.padEnd(7)} median ${median(ns).toFixed(0)} ns/expiry, worst ${Math.max(...ns).toFixed(0)}; GC median ${median(mine.map((r) => r.gcMs)).toFixed(0)} ms, scavenges median ${median(mine.map((r) => r.scavenges))}, over ${leases} expiries\n`);
}
