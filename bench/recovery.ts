/**
 * `npx tsx bench/recovery.ts [--holds 1000000] [--members 1000] [--keep]`
 *
 * Recovery time of a data directory holding HOLDS lock holds (each on its own lease,
 * as `acquire {ttlMs}` makes them) and MEMBERS ring members (10 rings, half of the
 * members lease-bound). Each phase runs in its own process, as a restart would:
 *
 *   populate     fills the directory through the state machine, then exits without
 *                closing (like kill -9): the next start replays the whole log
 *   log          opens it (replays the log), times a background snapshot while
 *                measuring event-loop stalls, then closes (snapshot, log dropped)
 *   snapshot     opens it again: recovery from the snapshot alone
 *
 * Prints recovery times and disk bytes per hold, and the JSON of every figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { systemClock } from '../src/domain/clock.js';
import { StateMachine } from '../src/domain/state-machine.js';
import { makeLimits } from '../src/limits.js';
import { type OpenedStore, openStore } from '../src/store/index.js';
import { loadHashing } from '../src/xxhash.js';

const log = pino({ level: process.env['LOCKRING_LOG_LEVEL'] ?? 'warn' });
const ringCount = 10;
const ttlMs = 3_600_000;

interface Args {
  holds: number;
  members: number;
  keep: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { holds: 1_000_000, members: 1_000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--holds') args.holds = Number(argv[++i]);
    else if (arg === '--members') args.members = Number(argv[++i]);
    else if (arg === '--keep') args.keep = true;
    else throw new Error(`unknown argument ${arg}\nusage: npx tsx bench/recovery.ts [--holds N] [--members N] [--keep]`);
  }
  return args;
}

async function machineAndStore(dir: string, snapshotEveryRecords: number): Promise<{ machine: StateMachine; store: OpenedStore }> {
  const hashing = await loadHashing();
  let n = 0;
  const prefix = `e${process.pid.toString(36)}`;
  const machine = new StateMachine({ clock: systemClock, limits: makeLimits(), hashing, newLeaseId: () => `${prefix}-${(++n).toString(36)}` });
  const store = await openStore({ dataDir: dir, machine, log, snapshotEveryRecords });
  return { machine, store };
}

function diskBytes(dir: string): { log: number; snapshot: number } {
  let logBytes = 0;
  let snapshot = 0;
  for (const name of readdirSync(dir)) {
    const size = statSync(join(dir, name)).size;
    if (name.endsWith('.seg')) logBytes += size;
    if (name.endsWith('.snap')) snapshot += size;
  }
  return { log: logBytes, snapshot };
}

async function populate(dir: string, holds: number, members: number): Promise<object> {
  const { machine, store } = await machineAndStore(dir, Number.MAX_SAFE_INTEGER);
  const started = performance.now();
  const memberLeases = machine.run((m) => Array.from({ length: 10 }, () => m.leases.grant(ttlMs).id));
  machine.run((m) => {
    for (let i = 0; i < members; i++) {
      const leaseId = i % 2 === 0 ? memberLeases[i % memberLeases.length] : undefined;
      m.rings.putMember(`ring-${i % ringCount}`, `node-${i}`, { weight: 1 + (i % 3), meta: { zone: `z${i % 4}` }, leaseId });
    }
  });
  const chunk = 10_000;
  for (let done = 0; done < holds; done += chunk) {
    machine.run((m) => {
      for (let i = done; i < Math.min(holds, done + chunk); i++) m.locks.acquire({ name: `lock/${i}`, ttlMs, owner: 'bench' });
    });
    await store.settled();
  }
  const ms = performance.now() - started;
  // Exit without close: the LOCK file stays, the next start replays the log.
  return { populateMs: Math.round(ms), lastToken: machine.lastToken, disk: diskBytes(dir) };
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function recoverFromLog(dir: string): Promise<object> {
  const started = performance.now();
  const cpuStarted = cpuMs();
  const { machine, store } = await machineAndStore(dir, Number.MAX_SAFE_INTEGER);
  const openMs = performance.now() - started;
  const openCpuMs = cpuMs() - cpuStarted;
  const heapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
  // A background snapshot of the whole state while the event loop is watched.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const snapshotStarted = performance.now();
  await store.snapshot();
  const snapshotMs = performance.now() - snapshotStarted;
  delay.disable();
  const closeStarted = performance.now();
  await store.close();
  return {
    recovery: store.recovery,
    openMs: Math.round(openMs),
    openCpuMs: Math.round(openCpuMs),
    heapMiB,
    lastToken: machine.lastToken,
    backgroundSnapshotMs: Math.round(snapshotMs),
    eventLoopDelayDuringSnapshotMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    closeMs: Math.round(performance.now() - closeStarted),
    disk: diskBytes(dir),
  };
}

async function recoverFromSnapshot(dir: string): Promise<object> {
  const started = performance.now();
  const cpuStarted = cpuMs();
  const { machine, store } = await machineAndStore(dir, Number.MAX_SAFE_INTEGER);
  const openMs = performance.now() - started;
  const openCpuMs = Math.round(cpuMs() - cpuStarted);
  const result = { recovery: store.recovery, openMs: Math.round(openMs), openCpuMs, lastToken: machine.lastToken };
  await store.close();
  return result;
}

/** Runs one phase in a fresh process (a real restart) and returns what it printed. */
function phase(name: string, dir: string, args: Args): Record<string, unknown> {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', self, '--phase', name, dir, String(args.holds), String(args.members)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`phase ${name} failed (${child.status ?? child.signal})`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

async function runPhase(argv: readonly string[]): Promise<void> {
  const [name, dir, holds, members] = argv;
  let result: object;
  if (name === 'populate') result = await populate(dir!, Number(holds), Number(members));
  else if (name === 'log') result = await recoverFromLog(dir!);
  else result = await recoverFromSnapshot(dir!);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--phase') return runPhase(argv.slice(1));
  const args = parseArgs(argv);
  const dir = mkdtempSync(join(tmpdir(), 'lockring-recovery-bench-'));
  try {
    console.log(`data directory ${dir}: ${args.holds} holds (each on its own lease), ${args.members} ring members`);
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    const populated = phase('populate', dir, args);
    const fromLog = phase('log', dir, args);
    const fromSnapshot = phase('snapshot', dir, args);
    const logDisk = (populated['disk'] as { log: number }).log;
    const snapDisk = (fromLog['disk'] as { snapshot: number }).snapshot;
    const recoveryLog = fromLog['recovery'] as { durationMs: number; records: number };
    const recoverySnap = fromSnapshot['recovery'] as { durationMs: number };
    const perHold = (bytes: number): string => (bytes / args.holds).toFixed(1);
    const rows: [string, string][] = [
      ['populate (through the state machine, fsynced)', `${populated['populateMs']} ms`],
      ['recovery from the log alone', `${Math.round(recoveryLog.durationMs)} ms (${fromLog['openCpuMs']} ms CPU, ${recoveryLog.records} records)`],
      ['recovery from the snapshot alone', `${Math.round(recoverySnap.durationMs)} ms (${fromSnapshot['openCpuMs']} ms CPU)`],
      ['log on disk', `${logDisk} bytes = ${perHold(logDisk)} bytes per hold`],
      ['snapshot on disk', `${snapDisk} bytes = ${perHold(snapDisk)} bytes per hold`],
      ['background snapshot of the full state', `${fromLog['backgroundSnapshotMs']} ms`],
      ['event-loop delay during it (p99 / max)', formatDelay(fromLog['eventLoopDelayDuringSnapshotMs'])],
      ['heap after recovery', `${fromLog['heapMiB']} MiB`],
      ['tokens continue', `${populated['lastToken']} -> ${fromLog['lastToken']} -> ${fromSnapshot['lastToken']}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [key, value] of rows) console.log(`${key.padEnd(width)}  ${value}`);
    console.log(`\n${JSON.stringify({ args, populated, fromLog, fromSnapshot })}`);
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

function formatDelay(value: unknown): string {
  const { p99, max } = value as { p99: number; max: number };
  return `${p99.toFixed(1)} ms / ${max.toFixed(1)} ms`;
}

await main();
