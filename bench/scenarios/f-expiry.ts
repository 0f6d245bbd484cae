/**
 * f. Expiry under load: 1,000,000 leases whose deadlines are spread uniformly over
 * 10 s. The server is lockring's own buildServer with its real expiry loop and
 * clock (bench/lib/instrumented-server.ts), seeded through the service so that a
 * million leases take seconds, not minutes of HTTP. It records the exact lateness
 * of every expiry (processing time minus deadline) from the state machine's
 * events; the server's lockring_expiry_lateness_seconds histogram is read too, as
 * a cross-check. Meanwhile autocannon runs lock acquire+release cycles at a fixed
 * rate, and their latency is compared with the same load on the same server
 * before the leases were seeded.
 */
import { HttpClient } from '../lib/http-client.js';
import { measure } from '../lib/measure.js';
import { assertAlive } from '../lib/processes.js';
import type { Scenario } from '../lib/scenario.js';
import { type ServerHandle, jsonRequest, startLockring } from '../lib/servers.js';
import { type LatencySummary, Recorder, sleep } from '../lib/stats.js';

const leases = 1_000_000;
const spreadMs = 10_000;
const requestRate = 2_000;
const connections = 10;
/** Time allowed to move a million deadlines into the window after granting them. */
const rescheduleBudgetMs = 3_000;

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
async function paced(server: ServerHandle, durationSec: number): Promise<PacedResult> {
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

function load(server: ServerHandle, durationSec: number) {
  return measure(server.child, (start) => {
    start();
    return paced(server, durationSec);
  });
}

export const expiry: Scenario = {
  id: 'f',
  title: 'Expiry: 1,000,000 leases over 10 s, lateness and concurrent lock latency',
  async run(ctx) {
    const server = await startLockring({
      tag: 'lockring-f',
      entry: 'bench/lib/instrumented-server.ts',
      stdin: true,
      nodeFlags: ['--max-old-space-size=4096'],
    });
    try {
      await load(server, 1);
      const idle = await load(server, ctx.seconds(5, 1.5));
      ctx.log(`seeding ${leases} leases`);
      const bucketsBefore = await scrape(server);
      const seeded = await command<Seeded>(server, { cmd: 'seed', count: leases, startInMs: rescheduleBudgetMs, spreadMs }, 'seeded', 180_000);
      ctx.raw('seeded', seeded);
      if (seeded.windowStartsInMs < 500) {
        throw new Error(`moving ${leases} deadlines took ${Math.round(seeded.rescheduleMs)} ms: the expiry window opened before that was done`);
      }
      await sleep(seeded.windowStartsInMs);
      ctx.log('expiry window: measuring lock latency meanwhile');
      const during = await load(server, spreadMs / 1000);
      await sleep(1_000);
      assertAlive(server.child);
      const report = await command<Report>(server, { cmd: 'report' }, 'report', 30_000);
      if (report.expired === 0) throw new Error(`no lease expired during the window (${report.leasesLeft} leases left): the expiry loop did not run`);
      const histogramP99 = histogramQuantileMs(bucketsBefore, await scrape(server), 0.99);
      ctx.raw('idle', idle);
      ctx.raw('during', during);
      ctx.raw('report', report);
      ctx.raw('histogramP99', histogramP99);
      ctx.row({
        metric: `expiry lateness p99, ${leases.toLocaleString('en-US')} leases over ${spreadMs / 1000} s`,
        value: report.lateness.p99,
        unit: 'ms',
        latency: { p50: report.lateness.p50, p99: report.lateness.p99 },
        target: { on: 'value', op: '<=', value: 10 },
        note:
          `${report.expired} expired in ${(report.expiringForMs / 1000).toFixed(1)} s, max lateness ${report.lateness.max.toFixed(1)} ms; ` +
          `server histogram puts p99 ${Number.isFinite(histogramP99.boundMs) ? `at <= ${histogramP99.boundMs} ms` : 'past its last bucket (1 s)'} over ${histogramP99.count} expiries; ` +
          `granting took ${(seeded.grantMs / 1000).toFixed(1)} s, RSS ${Math.round(seeded.rssBytes / 1048576)} MiB after`,
      });
      ctx.row({ metric: 'expiry lateness max', value: report.lateness.max, unit: 'ms' });
      // CPU the expiries cost: the window's server CPU less what the same lock load cost without leases.
      const wallMs = (during.serverCpuMs / during.serverCpuPercent) * 100;
      const loadCpuMs = (idle.serverCpuPercent / 100) * wallMs;
      const usPerExpiry = ((during.serverCpuMs - loadCpuMs) * 1000) / report.expired;
      ctx.row({
        metric: 'server CPU per expiry',
        value: usPerExpiry,
        unit: 'us',
        note: `${leases / (spreadMs / 1000)} expiries/s need ${((usPerExpiry * leases) / (spreadMs / 1000) / 1e4).toFixed(0)}% of a core at this cost; the server got ${Math.round(during.serverCpuPercent)}% during the window`,
      });
      ctx.row({
        metric: `lock cycle p99 at ${requestRate} req/s during expiry`,
        value: during.result.latency.p99,
        unit: 'ms',
        latency: during.result.latency,
        errors: during.result.errors,
        baseline: { value: idle.result.latency.p99, label: 'same load, no leases' },
        note:
          `acquire+release cycle latency from its scheduled start, ${connections} clients; idle p50/p99 ` +
          `${idle.result.latency.p50.toFixed(2)}/${idle.result.latency.p99.toFixed(2)} ms; server CPU ` +
          `${Math.round(during.serverCpuPercent)}% during vs ${Math.round(idle.serverCpuPercent)}% idle`,
      });
    } finally {
      await server.stop();
    }
  },
};
