/**
 * `npx tsx bench/paced-load.ts [log|memory] [connections] [cyclesPerSecond] [seconds]`:
 * what a fixed load costs the server, rather than how much it can take. Starts lockring
 * (from src/ through tsx, on 127.0.0.1, with a fresh data directory under the system's
 * temp dir for `log`, none for `memory`), sends HTTP acquire+release cycles on fresh
 * names at the given rate from `connections` clients (default 100 clients, 2,000 cycles
 * a second, 8 s after a 2 s warm-up), and prints the server's user and system CPU as a
 * share of a core, the log's durable steps per second (from /metrics) and the cycle
 * latency from each cycle's scheduled start. The server is stopped by its pid and the
 * data directory removed at the end.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpClient } from './lib/http-client.js';
import { jsonRequest, startLockring } from './lib/servers.js';
import { Recorder, sleep } from './lib/stats.js';

const mode = process.argv[2] ?? 'log';
const connections = Number(process.argv[3] ?? 100);
const cyclesPerSecond = Number(process.argv[4] ?? 2000);
const seconds = Number(process.argv[5] ?? 8);
if (mode !== 'log' && mode !== 'memory') throw new Error('mode is log or memory');

/** User and system CPU of process `pid` so far, in ms (Linux /proc, clock ticks of 10 ms). */
function cpuMs(pid: number): { userMs: number; systemMs: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 };
}

/** Cycles at a fixed rate, each client on its own schedule; latency from the scheduled start. */
async function paced(url: string, durationSec: number): Promise<Recorder> {
  const recorder = new Recorder();
  const intervalMs = (connections * 1000) / cyclesPerSecond;
  const started = performance.now();
  const end = started + durationSec * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const client = new HttpClient(url);
      for (let due = started + (c * intervalMs) / connections; due < end; due += intervalMs) {
        const waitMs = due - performance.now();
        if (waitMs > 0) await sleep(waitMs);
        const start = Math.min(due, performance.now());
        const name = `paced-${c}-${Math.round(due)}`;
        const acquired = await client.post(`/v1/locks/${name}/acquire`, { ttlMs: 30_000 });
        await client.post(`/v1/locks/${name}/release`, { token: acquired.body['token'] });
        recorder.add(performance.now() - start);
      }
      client.close();
    }),
  );
  return recorder;
}

async function durableSteps(url: string): Promise<number> {
  const { body } = await jsonRequest('GET', `${url}/metrics`);
  return Number(/lockring_wal_fsync_seconds_count (\d+)/.exec(String(body))?.[1] ?? 0);
}

const dataDir = mode === 'log' ? mkdtempSync(join(tmpdir(), 'lockring-paced-')) : null;
const server = await startLockring({ dataDir });
try {
  const pid = server.child.pid;
  await paced(server.url, 2);
  const stepsBefore = await durableSteps(server.url);
  const before = cpuMs(pid);
  const started = performance.now();
  const latency = (await paced(server.url, seconds)).summary();
  const wallMs = performance.now() - started;
  const after = cpuMs(pid);
  const steps = (await durableSteps(server.url)) - stepsBefore;
  const share = (ms: number): string => `${((100 * ms) / wallMs).toFixed(0)}%`;
  console.log(
    `${mode}, ${connections} clients, ${cyclesPerSecond} cycles/s: server user ${share(after.userMs - before.userMs)} ` +
      `system ${share(after.systemMs - before.systemMs)} of a core; ${((steps * 1000) / wallMs).toFixed(0)} durable log steps/s; ` +
      `cycle p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms over ${latency.count} cycles`,
  );
} finally {
  await server.stop();
  if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
}
