/**
 * `npm run bench [-- --quick] [-- --only a,e]`: runs the scenarios against freshly
 * started servers (child processes on loopback, free ports, stopped by pid), prints
 * one table and writes the raw figures to bench/results/bench-<time>.json.
 * See bench/README.md for what each scenario measures and how to read the table.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { killAllNow, repoRoot, stopAll } from './lib/processes.js';
import { type RunState, type Scenario, makeContext } from './lib/scenario.js';
import { buildDist, runtime } from './lib/servers.js';
import { renderTable, skipRow } from './lib/table.js';
import { etcdAnchor } from './scenarios/anchor-etcd.js';
import { redisAnchor } from './scenarios/anchor-redis.js';
import { httpAcquire } from './scenarios/a-http-acquire.js';
import { contended } from './scenarios/b-contended.js';
import { wsLockOps } from './scenarios/c-ws-lock-ops.js';
import { keepalive } from './scenarios/d-keepalive.js';
import { ring } from './scenarios/e-ring.js';
import { expiry } from './scenarios/f-expiry.js';
import { memory } from './scenarios/g-memory.js';
import { durability } from './scenarios/h-durability.js';

const anchors: readonly Scenario[] = [redisAnchor, etcdAnchor];
const scenarios: readonly Scenario[] = [httpAcquire, contended, wsLockOps, keepalive, ring, expiry, memory, durability];

const usage = `usage: npm run bench -- [--quick] [--only a,e] [--no-anchors] [--source] [--profile] [--entry FILE]
       npm run bench -- --replicated [--seconds 5] [--rounds 3] [--kills 20] [--session-ttl 2s] [--source]
  --replicated  the replicated mode instead (bench/replicated.ts): throughput against the local
                log and the etcd3 lock recipe per server CPU-second, takeover after kill -9
  --quick       short runs (under 2 minutes in all); the default full run takes under 15
  --only LIST   scenarios to run, by letter (a..h) or anchor (redis, etcd); the anchors a
                scenario compares against run too unless --no-anchors
  --no-anchors  skip Redis and etcd (their ratios show n/a)
  --source      run lockring's servers from src/ through tsx instead of dist/ (by default the
                bench first builds dist/ and runs that, as \`npm start\` and the image do)
  --profile     write node --cpu-prof profiles of every server child to bench/results/profiles/
  --entry FILE  run lockring from FILE (.ts through tsx, or .js) instead of src/main.ts,
                e.g. a patched copy of the tree, to compare with a run of the original`;

interface Options {
  quick: boolean;
  only: string[] | null;
  anchors: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { quick: false, only: null, anchors: true };
  runtime.dist = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-anchors') options.anchors = false;
    else if (arg === '--dist') runtime.dist = true;
    else if (arg === '--source') runtime.dist = false;
    else if (arg === '--profile') runtime.profileDir = join(repoRoot, 'bench/results/profiles');
    else if (arg === '--entry' || arg.startsWith('--entry=')) {
      const entry = arg === '--entry' ? argv[++i] : arg.slice('--entry='.length);
      if (entry === undefined || entry === '') throw new Error('--entry needs a file, e.g. --entry ../other/src/main.ts');
      runtime.entry = entry;
    }
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (list === undefined || list === '') throw new Error('--only needs a list, e.g. --only a,e');
      options.only = list.split(',').map((id) => id.trim().toLowerCase()).filter((id) => id !== '');
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${usage}`);
  }
  const known = new Set([...anchors, ...scenarios].map((s) => s.id));
  for (const id of options.only ?? []) if (!known.has(id)) throw new Error(`unknown scenario ${id}; known: ${[...known].join(', ')}`);
  return options;
}

function plan(options: Options): Scenario[] {
  const chosen = options.only === null ? scenarios : scenarios.filter((s) => options.only!.includes(s.id));
  const anchorIds = new Set<string>(options.only?.filter((id) => anchors.some((a) => a.id === id)) ?? []);
  if (options.anchors) for (const scenario of chosen) for (const id of scenario.needs ?? []) anchorIds.add(id);
  if (options.anchors && options.only === null) for (const anchor of anchors) anchorIds.add(anchor.id);
  return [...anchors.filter((a) => anchorIds.has(a.id)), ...chosen];
}

function machineInfo(): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot }).toString().trim();
  } catch {
    // not a git checkout
  }
  const cpu = cpus();
  return {
    node: process.version,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    totalMemBytes: totalmem(),
    freeMemBytes: freemem(),
    loadavg: loadavg(),
    commit,
    server: runtime.entry ?? (runtime.dist ? 'dist/src/main.js' : 'src/main.ts via tsx'),
  };
}

async function main(): Promise<void> {
  // The replicated mode's own bench (etcd cluster, takeovers) takes its own options.
  if (process.argv.includes('--replicated')) {
    await import('./replicated.js');
    return;
  }
  const options = parseArgs(process.argv.slice(2));
  if (runtime.dist) buildDist();
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping children\n`);
    killAllNow();
    process.exit(130);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  process.on('exit', killAllNow);

  const started = new Date();
  const state: RunState = { rows: [], raw: {}, anchors: new Map(), anchorNotes: new Map() };
  const before = machineInfo();
  const timings: Record<string, number> = {};
  const todo = plan(options);
  for (const anchor of anchors) {
    if (!todo.includes(anchor)) state.anchorNotes.set(anchor.id, `${anchor.id} anchor not run in this invocation (--only without it, or --no-anchors)`);
  }
  process.stderr.write(`lockring bench (${options.quick ? 'quick' : 'full'}): ${todo.map((s) => s.id).join(', ')}\n`);
  for (const scenario of todo) {
    process.stderr.write(`> ${scenario.id}: ${scenario.title}\n`);
    const t0 = performance.now();
    const rowsBefore = state.rows.length;
    try {
      await scenario.run(makeContext(scenario, state, options.quick));
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.stderr.write(`  [${scenario.id}] failed: ${message}\n`);
      state.rows.push(skipRow(scenario.id, scenario.title, `failed: ${message.split('\n')[0]}`, 'error'));
    } finally {
      await stopAll();
    }
    const skipped = state.rows.slice(rowsBefore).find((row) => row.status === 'skip' || row.status === 'error');
    if (anchors.includes(scenario) && skipped?.note !== undefined) state.anchorNotes.set(scenario.id, skipped.note);
    timings[scenario.id] = Math.round(performance.now() - t0) / 1000;
    process.stderr.write(`  [${scenario.id}] ${timings[scenario.id]} s\n`);
  }
  const finished = new Date();
  const table = renderTable(state.rows);
  const counts = state.rows.reduce<Record<string, number>>((acc, row) => ({ ...acc, [row.status]: (acc[row.status] ?? 0) + 1 }), {});
  const wallSec = (finished.getTime() - started.getTime()) / 1000;
  process.stdout.write(`\n${table}\n\n`);
  process.stdout.write(`targets: ${counts['pass'] ?? 0} pass, ${counts['short'] ?? 0} short, ${counts['n/a'] ?? 0} n/a; ${counts['skip'] ?? 0} skipped, ${counts['error'] ?? 0} errors; ${wallSec.toFixed(0)} s\n`);

  const resultsDir = join(repoRoot, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const report = {
    command: process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench',
    mode: options.quick ? 'quick' : 'full',
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    wallSec,
    machine: { ...before, loadavgAtEnd: loadavg() },
    timingsSec: timings,
    rows: state.rows,
    anchors: Object.fromEntries(state.anchors),
    raw: state.raw,
    table,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`raw figures: ${file}\n`);
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll();
  process.exit(1);
});
