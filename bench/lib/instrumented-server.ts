/**
 * lockring as src/main.ts runs it (same config from LOCKRING_* env, the same
 * buildServer and server deps, so LOCKRING_DATA_DIR turns the write-ahead log on;
 * same expiry loop, real clock), plus what a benchmark needs and no client could do
 * quickly: it seeds leases straight through the state machine's door (a million
 * leases in seconds, not minutes of HTTP), and it records the exact lateness of
 * every expiry from the state machine's events. It also counts the garbage
 * collector's pauses and, when LOCKRING_BENCH_PROFILE_DIR is set, profiles the CPU
 * from the end of the seeding to the report, so a profile shows the storm alone.
 * Commands arrive as JSON lines on stdin; answers go to stdout as `@seeded {...}`,
 * `@reset {}` and `@report {...}`.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { serverDeps } from '../../src/cli/server-deps.js';
import { configFromEnv } from '../../src/config.js';
import { createLogger } from '../../src/ops/logger.js';
import { buildServer } from '../../src/server.js';
import { Recorder, prng, sleep } from './stats.js';

interface SeedCommand {
  readonly cmd: 'seed';
  readonly count: number;
  /** The first deadline, ms after the seeding (and its log records) is done. */
  readonly startInMs: number;
  /** Deadlines spread uniformly over this many ms. */
  readonly spreadMs: number;
}

type Command = SeedCommand | { readonly cmd: 'report' } | { readonly cmd: 'reset' };

/** perf_hooks' kind of a young-generation collection (a scavenge). */
const minorGc = 1;

/** Milliseconds and count of GC pauses since `reset`, and how much of it was scavenges. */
class GcPauses {
  ms = 0;
  count = 0;
  minorMs = 0;
  /** The longest pause, and its perf_hooks kind (1 scavenge, 2 mark-sweep-compact, 4 incremental, 8 weak callbacks). */
  longestMs = 0;
  longestKind = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind ?? 0;
      this.ms += entry.duration;
      this.count += 1;
      if (kind === minorGc) this.minorMs += entry.duration;
      if (entry.duration > this.longestMs) {
        this.longestMs = entry.duration;
        this.longestKind = kind;
      }
    }
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  reset(): void {
    this.ms = 0;
    this.count = 0;
    this.minorMs = 0;
    this.longestMs = 0;
    this.longestKind = 0;
  }
}

/** A CPU profile of one stretch of the run, through the inspector. */
class WindowProfile {
  private session: Session | null = null;

  constructor(private readonly dir: string | undefined) {}

  async start(): Promise<void> {
    if (this.dir === undefined || this.session !== null) return;
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<string | null> {
    if (this.dir === undefined || this.session === null) return null;
    const { profile } = await this.session.post('Profiler.stop');
    this.session.disconnect();
    this.session = null;
    const file = join(this.dir, `window-${process.pid}-${Date.now()}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }
}

/** Leases the warm-up expires, spread over its first second. */
const warmLeasesMax = 200_000;
const warmSpreadMs = 1_000;

/** The timeline covers the first 30 s of a window (the storm's is 10 s). */
const timelineTenthsMax = 300;

async function main(): Promise<void> {
  const config = configFromEnv();
  const logger = createLogger(config.logLevel);
  const lockring = await buildServer(config, { logger, ...serverDeps(config, logger) });
  const gc = new GcPauses();
  // The event loop's longest stall in the window, whatever its cause (GC or JavaScript).
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const profile = new WindowProfile(process.env['LOCKRING_BENCH_PROFILE_DIR']);
  let lateness = new Recorder(4_000_000);
  let expired = 0;
  let firstExpiryMs = NaN;
  let lastExpiryMs = NaN;
  let sentinelId = '';
  /** Worst lateness per 100 ms of the window, from its first expiry: where a backlog builds and drains. */
  let latenessByTenth: number[] = [];
  // Time inside the expiry loop's slices (every subscriber of an expiry runs in them):
  // what expiries cost, measured where they run rather than as a difference of two loads.
  let tickMs = 0;
  const machine = lockring.machine;
  const tick = machine.tick.bind(machine);
  machine.tick = (budget) => {
    const startedMs = performance.now();
    try {
      return tick(budget);
    } finally {
      tickMs += performance.now() - startedMs;
    }
  };
  lockring.machine.subscribe((event) => {
    if (event.type !== 'lease_ended' || event.reason !== 'expired' || event.kind !== 'plain') return;
    if (event.leaseId === sentinelId) return;
    lateness.add(event.latenessMs);
    expired += 1;
    const now = performance.now();
    if (Number.isNaN(firstExpiryMs)) firstExpiryMs = now;
    lastExpiryMs = now;
    const tenth = Math.floor((now - firstExpiryMs) / 100);
    if (tenth < timelineTenthsMax && event.latenessMs > (latenessByTenth[tenth] ?? -1)) latenessByTenth[tenth] = event.latenessMs;
  });
  await lockring.app.listen({ host: config.host, port: config.port, listenTextResolver: (address) => `lockring listening on ${address}` });
  await lockring.start();
  process.on('SIGTERM', () => {
    lockring.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  const resetCounts = (): void => {
    lateness = new Recorder(4_000_000);
    expired = 0;
    latenessByTenth = [];
    firstExpiryMs = NaN;
    lastExpiryMs = NaN;
  };

  /** Waits until the log (if any) is durable through every record made so far. */
  const settled = async (): Promise<void> => {
    await lockring.service.durability.settled();
  };

  /**
   * Grants `count` leases with a long TTL (as fast as this machine allows, however
   * long that takes), then moves each one's deadline into the window with a
   * keepalive carrying a new ttlMs. Both go through the machine's one door, so with
   * a data directory every change is logged; the window opens `startInMs` after the
   * log has made them all durable.
   */
  /**
   * Runs the expiry path hot before the window, as it is in a server that has been up a
   * while: without this the storm's first half second ran in the interpreter and baseline
   * compiler (the lock load warms only the request path) and made a backlog of its own.
   * Its expiries are not counted.
   */
  const warmExpiry = async (count: number): Promise<void> => {
    const random = prng(99);
    const { ttlMsMin } = config.limits;
    const before = lockring.machine.leases.byId.size;
    for (let i = 0; i < count; i++) lockring.machine.run((m) => m.leases.grant(ttlMsMin + Math.floor(random() * warmSpreadMs)));
    await settled();
    for (let waitedMs = 0; lockring.machine.leases.byId.size > before && waitedMs < 30_000; waitedMs += 50) await sleep(50);
    await settled();
    resetCounts();
  };

  const seed = async (command: SeedCommand): Promise<void> => {
    await warmExpiry(Math.min(warmLeasesMax, command.count));
    const started = performance.now();
    const ids: string[] = new Array<string>(command.count);
    for (let i = 0; i < command.count; i++) ids[i] = lockring.machine.run((m) => m.leases.grant(3_600_000).id);
    await settled();
    const granted = performance.now();
    const random = prng(1234);
    const { ttlMsMin } = config.limits;
    // Moving the deadlines and logging that takes about as long as the granting.
    const windowStart = granted + command.startInMs;
    for (const id of ids) {
      const deadline = windowStart + random() * command.spreadMs;
      lockring.machine.run((m) => m.leases.keepalive(id, Math.max(ttlMsMin, Math.round(deadline - performance.now()))));
    }
    // A sentinel at the window's start, kept alive through the service (which pokes
    // the expiry loop), arms the loop's timer for the window.
    sentinelId = lockring.machine.run((m) => m.leases.grant(Math.max(ttlMsMin, Math.round(windowStart - performance.now()))).id);
    await settled();
    await lockring.service.keepalive(sentinelId);
    const seededAt = performance.now();
    const memory = process.memoryUsage();
    gc.reset();
    loopDelay.reset();
    tickMs = 0;
    await profile.start();
    process.stdout.write(
      `@seeded ${JSON.stringify({
        count: command.count,
        grantMs: granted - started,
        rescheduleMs: seededAt - granted,
        windowStartsInMs: windowStart - seededAt,
        spreadMs: command.spreadMs,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      })}\n`,
    );
  };

  const report = async (): Promise<void> => {
    const gcMs = gc.ms;
    const gcCount = gc.count;
    const gcMinorMs = gc.minorMs;
    const profileFile = await profile.stop();
    process.stdout.write(
      `@report ${JSON.stringify({
        expired,
        lateness: lateness.summary(),
        expiringForMs: lastExpiryMs - firstExpiryMs,
        leasesLeft: lockring.machine.leases.byId.size,
        tickMs,
        latenessByTenth: Array.from(latenessByTenth, (ms) => Math.round((ms ?? 0) * 10) / 10),
        gcMs,
        gcCount,
        gcMinorMs,
        gcLongestMs: gc.longestMs,
        gcLongestKind: gc.longestKind,
        loopDelayMaxMs: loopDelay.max / 1e6,
        profileFile,
      })}\n`,
    );
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = JSON.parse(line) as Command;
    const done = (error: unknown): void => {
      process.stderr.write(`instrumented-server: ${command.cmd} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    };
    if (command.cmd === 'seed') seed(command).catch(done);
    else if (command.cmd === 'reset') {
      resetCounts();
      process.stdout.write('@reset {}\n');
    } else report().catch(done);
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`instrumented-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
