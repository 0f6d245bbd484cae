/**
 * f. Expiry under load: 1,000,000 leases whose deadlines are spread uniformly over
 * 10 s. The server is lockring's own buildServer with its real expiry loop and
 * clock (bench/lib/instrumented-server.ts), seeded through the state machine so
 * that a million leases take seconds, not minutes of HTTP. It records the exact
 * lateness of every expiry (processing time minus deadline) from the state
 * machine's events; the server's lockring_expiry_lateness_seconds histogram is read
 * too, as a cross-check. Meanwhile 10 clients run lock acquire+release cycles at a
 * fixed rate, and their latency is compared with the same load on the same server
 * before the leases were seeded. The storm runs twice, each on a fresh server: log
 * off, then with a data directory (every expiry a log record through group commit).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from '../lib/http-client.js';
import { measure } from '../lib/measure.js';
import { assertAlive } from '../lib/processes.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { type ServerHandle, jsonRequest, runtime, startLockring } from '../lib/servers.js';
import { type LatencySummary, Recorder, sleep } from '../lib/stats.js';

const leases = 1_000_000;
const spreadMs = 10_000;
const requestRate = 2_000;
/**
 * Clients of the paced lock load. With the log on every answer waits for an fsync,
 * and a client has one cycle in flight: 10 clients cannot keep 2,000 req/s up once an
 * fsync takes ~5 ms (this machine's shared disk often does), so the log-on run uses
 * more clients at the same total rate.
 */
const connectionsFor = { memory: 10, log: 100 } as const;
/**
 * Time allowed to move a million deadlines into the window after granting them
 * (and, log on, to make those records durable).
 */
const rescheduleBudgetMs = { memory: 6_000, log: 12_000 } as const;

interface Seeded {
  readonly count: number;
  readonly grantMs: number;
  readonly rescheduleMs: number;
  readonly windowStartsInMs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

interface Report {
  readonly expired: number;
  readonly lateness: LatencySummary;
  readonly expiringForMs: number;
  readonly leasesLeft: number;
  /** Time spent inside the expiry loop's slices from the end of the seeding, ms. */
  readonly tickMs: number;
  /** Worst lateness per 100 ms of the window, ms. */
  readonly latenessByTenth: readonly number[];
  /** GC pauses from the end of the seeding to the report. */
  readonly gcMs: number;
  readonly gcCount: number;
  /** Of gcMs, the young-generation collections (scavenges); the rest is mark-sweep-compact work. */
  readonly gcMinorMs: number;
  /** The longest pause, ms, and its perf_hooks kind (1 scavenge, 2 mark-sweep-compact, 4 incremental marking). */
  readonly gcLongestMs: number;
  readonly gcLongestKind: number;
  /** The event loop's longest stall in the window (perf_hooks' loop-delay monitor), ms. */
  readonly loopDelayMaxMs: number;
  /** The server's CPU profile of that stretch (with --profile), else null. */
  readonly profileFile: string | null;
}

async function command<T>(server: ServerHandle, cmd: Record<string, unknown>, answer: string, timeoutMs: number): Promise<T> {
  const reply = server.child.waitForLine(new RegExp(`^@${answer} (.*)$`), timeoutMs);
  server.child.process.stdin!.write(`${JSON.stringify(cmd)}\n`);
  return JSON.parse((await reply)[1]!) as T;
}

interface Bucket {
  readonly le: number;
  readonly count: number;
}

/** Cumulative buckets of a Prometheus histogram in text format. */
export function histogramBuckets(metrics: string, name: string): Bucket[] {
  const buckets: Bucket[] = [];
  for (const match of metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))) {
    buckets.push({ le: match[1] === '+Inf' ? Infinity : Number(match[1]), count: Number(match[2]) });
  }
  return buckets;
}

/**
 * The bucket bound (an upper bound on the quantile) at quantile q of what was
 * observed between two scrapes, in ms.
 */
export function histogramQuantileMs(before: Bucket[], after: Bucket[], q: number): { boundMs: number; count: number } {
  const delta = after.map((bucket, i) => ({ le: bucket.le, count: bucket.count - (before[i]?.count ?? 0) }));
  const total = delta.at(-1)?.count ?? 0;
  const bucket = delta.find((b) => b.count >= q * total);
  return { boundMs: (bucket?.le ?? NaN) * 1000, count: total };
}

/** perf_hooks' GC kinds. */
const gcKinds: Readonly<Record<number, string>> = { 1: 'a scavenge', 2: 'mark-sweep-compact', 4: 'incremental marking', 8: 'weak callbacks' };

const latenessMetric = 'lockring_expiry_lateness_seconds';

async function scrape(server: ServerHandle): Promise<Bucket[]> {
  return histogramBuckets((await jsonRequest('GET', `${server.url}/metrics`)).body as string, latenessMetric);
}

interface PacedResult {
  readonly cycles: number;
  readonly errors: number;
  /** Cycle latency (acquire + release) from the cycle's scheduled start, ms. */
  readonly latency: LatencySummary;
}

/**
 * Lock cycles (acquire with ttlMs, release) at a fixed rate from `connections`
 * keep-alive clients. Latency counts from when a cycle was due, not when it was
 * sent, so a stalled server shows up in full (no coordinated omission).
 */
async function paced(server: ServerHandle, durationSec: number, connections: number): Promise<PacedResult> {
  const recorder = new Recorder();
  let errors = 0;
  let cycles = 0;
  const intervalMs = (connections * 2 * 1000) / requestRate;
  const started = performance.now();
  const end = started + durationSec * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = new HttpClient(server.url);
      let due = started + (c * intervalMs) / connections;
      try {
        while (due < end) {
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          // Timers may fire a fraction of a millisecond early: count from whichever came first.
          const start = Math.min(due, performance.now());
          const name = `bench-f-${Math.random().toString(36).slice(2, 12)}`;
          const acquired = await client.post(`/v1/locks/${name}/acquire`, { ttlMs: 30_000 });
          if (acquired.status === 200) {
            const released = await client.post(`/v1/locks/${name}/release`, { token: acquired.body['token'] });
            if (released.status !== 200) errors += 1;
          } else errors += 1;
          recorder.add(performance.now() - start);
          cycles += 1;
          due += intervalMs;
        }
      } finally {
        client.close();
      }
    }),
  );
  return { cycles, errors, latency: recorder.summary() };
}

function load(server: ServerHandle, durationSec: number, connections: number) {
  return measure(server.child, (start) => {
    start();
    return paced(server, durationSec, connections);
  });
}

type Mode = 'memory' | 'log';

const modeLabel: Readonly<Record<Mode, string>> = { memory: 'log off', log: 'log on' };

/** One storm on a fresh server: idle baseline, seeding, the window, the report, the rows. */
async function storm(ctx: ScenarioContext, mode: Mode): Promise<void> {
  const dataDir = mode === 'log' ? mkdtempSync(join(tmpdir(), 'lockring-bench-f-')) : null;
  const server = await startLockring({
    tag: `lockring-f-${mode}`,
    entry: runtime.dist ? 'dist/bench/lib/instrumented-server.js' : 'bench/lib/instrumented-server.ts',
    stdin: true,
    nodeFlags: ['--max-old-space-size=4096'],
    dataDir,
    profile: false,
    env: runtime.profileDir === null ? {} : { LOCKRING_BENCH_PROFILE_DIR: mkdirP(join(runtime.profileDir, `lockring-f-${mode}`)) },
  });
  try {
    const connections = connectionsFor[mode];
    await load(server, 1, connections);
    const idle = await load(server, ctx.seconds(5, 1.5), connections);
    ctx.log(`${modeLabel[mode]}: seeding ${leases} leases`);
    const bucketsBefore = await scrape(server);
    const seeded = await command<Seeded>(server, { cmd: 'seed', count: leases, startInMs: rescheduleBudgetMs[mode], spreadMs }, 'seeded', 300_000);
    ctx.raw(`${mode}.seeded`, seeded);
    if (seeded.windowStartsInMs < 500) {
      throw new Error(`moving ${leases} deadlines took ${Math.round(seeded.rescheduleMs)} ms: the expiry window opened before that was done`);
    }
    await sleep(seeded.windowStartsInMs);
    ctx.log(`${modeLabel[mode]}: expiry window, measuring lock latency meanwhile`);
    const during = await load(server, spreadMs / 1000, connections);
    await sleep(1_000);
    assertAlive(server.child);
    const report = await command<Report>(server, { cmd: 'report' }, 'report', 60_000);
    if (report.expired === 0) throw new Error(`no lease expired during the window (${report.leasesLeft} leases left): the expiry loop did not run`);
    const histogramP99 = histogramQuantileMs(bucketsBefore, await scrape(server), 0.99);
    ctx.raw(`${mode}.idle`, idle);
    ctx.raw(`${mode}.during`, during);
    ctx.raw(`${mode}.report`, report);
    ctx.raw(`${mode}.histogramP99`, histogramP99);
    if (report.profileFile !== null) ctx.log(`${modeLabel[mode]}: window profile ${report.profileFile}`);
    rows(ctx, mode, { idle, during, report, seeded, histogramP99, connections });
  } finally {
    await server.stop();
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

function mkdirP(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

interface StormFigures {
  readonly idle: Awaited<ReturnType<typeof load>>;
  readonly during: Awaited<ReturnType<typeof load>>;
  readonly report: Report;
  readonly seeded: Seeded;
  readonly histogramP99: { boundMs: number; count: number };
  readonly connections: number;
}

function rows(ctx: ScenarioContext, mode: Mode, { idle, during, report, seeded, histogramP99, connections }: StormFigures): void {
  const label = modeLabel[mode];
  ctx.row({
    metric: `expiry lateness p99, ${leases.toLocaleString('en-US')} leases over ${spreadMs / 1000} s, ${label}`,
    value: report.lateness.p99,
    unit: 'ms',
    latency: { p50: report.lateness.p50, p99: report.lateness.p99 },
    target: { on: 'value', op: '<=', value: 10 },
    note:
      `${report.expired} expired in ${(report.expiringForMs / 1000).toFixed(1)} s, max lateness ${report.lateness.max.toFixed(1)} ms; ` +
      `server histogram puts p99 ${Number.isFinite(histogramP99.boundMs) ? `at <= ${histogramP99.boundMs} ms` : 'past its last bucket (1 s)'} over ${histogramP99.count} expiries; ` +
      `granting took ${(seeded.grantMs / 1000).toFixed(1)} s, RSS ${Math.round(seeded.rssBytes / 1048576)} MiB after`,
  });
  ctx.row({ metric: `expiry lateness max, ${label}`, value: report.lateness.max, unit: 'ms' });
  // What an expiry costs where it runs: the loop's slices, with every subscriber of the
  // event (metrics, WebSocket audience, the log's encoder) inside them.
  const wallMs = (during.serverCpuMs / during.serverCpuPercent) * 100;
  const usPerExpiry = (report.tickMs * 1000) / report.expired;
  ctx.row({
    metric: `expiry loop time per expiry, ${label}`,
    value: usPerExpiry,
    unit: 'us',
    note:
      `${leases / (spreadMs / 1000)} expiries/s need ${((usPerExpiry * leases) / (spreadMs / 1000) / 1e4).toFixed(0)}% of a core at this cost; ` +
      `the server got ${Math.round(during.serverCpuPercent)}% during the window; GC paused it ${Math.round(report.gcMs)} ms ` +
      `(${report.gcCount} pauses, ${((report.gcMs / wallMs) * 100).toFixed(1)}% of the window; scavenges ${Math.round(report.gcMinorMs)} ms; ` +
      `longest ${report.gcLongestMs.toFixed(1)} ms, ${gcKinds[report.gcLongestKind] ?? `kind ${report.gcLongestKind}`}); ` +
      `longest event-loop stall ${report.loopDelayMaxMs.toFixed(1)} ms`,
  });
  // The same from outside: the window's server CPU less what the same lock load cost per
  // cycle before the leases. Noisy (two loads on a shared machine); n/a when not positive.
  const loadCpuMs = (idle.serverCpuMs / idle.result.cycles) * during.result.cycles;
  const cpuUsPerExpiry = ((during.serverCpuMs - loadCpuMs) * 1000) / report.expired;
  ctx.row({
    metric: `server CPU per expiry, ${label}`,
    value: cpuUsPerExpiry > 0 ? cpuUsPerExpiry : NaN,
    unit: 'us',
    note: `window CPU ${Math.round(during.serverCpuMs)} ms less ${Math.round(loadCpuMs)} ms for its ${during.result.cycles} lock cycles at the idle run's CPU per cycle`,
  });
  ctx.row({
    metric: `lock cycle p99 at ${requestRate} req/s during expiry, ${label}`,
    value: during.result.latency.p99,
    unit: 'ms',
    latency: during.result.latency,
    errors: during.result.errors,
    baseline: { value: idle.result.latency.p99, label: 'same load, no leases' },
    target: { on: 'ratio', op: '<=', value: 3 },
    note:
      `acquire+release cycle latency from its scheduled start, ${connections} clients; idle p50/p99 ` +
      `${idle.result.latency.p50.toFixed(2)}/${idle.result.latency.p99.toFixed(2)} ms; server CPU ` +
      `${Math.round(during.serverCpuPercent)}% during vs ${Math.round(idle.serverCpuPercent)}% idle`,
  });
}

export const expiry: Scenario = {
  id: 'f',
  title: 'Expiry: 1,000,000 leases over 10 s, lateness and concurrent lock latency, log off and on',
  async run(ctx) {
    await storm(ctx, 'memory');
    await storm(ctx, 'log');
  },
};
