/**
 * lockring as src/main.ts runs it (same config from LOCKRING_* env, same
 * buildServer, same expiry loop, real clock), plus two things a benchmark needs
 * and no client could do quickly: it seeds leases straight through the service
 * (the call the HTTP route makes, minus HTTP), and it records the exact lateness
 * of every expiry from the state machine's events. Commands arrive as JSON lines
 * on stdin; answers go to stdout as `@seeded {...}`, `@reset {}` and `@report {...}`.
 */
import { createInterface } from 'node:readline';
import { configFromEnv } from '../../src/config.js';
import { createLogger } from '../../src/ops/logger.js';
import { buildServer } from '../../src/server.js';
import { Recorder, prng } from './stats.js';

interface SeedCommand {
  readonly cmd: 'seed';
  readonly count: number;
  /** The first deadline, ms after the seeding is done. */
  readonly startInMs: number;
  /** Deadlines spread uniformly over this many ms. */
  readonly spreadMs: number;
}

type Command = SeedCommand | { readonly cmd: 'report' } | { readonly cmd: 'reset' };

async function main(): Promise<void> {
  const config = configFromEnv();
  const logger = createLogger(config.logLevel);
  const lockring = await buildServer(config, { logger });
  let lateness = new Recorder(4_000_000);
  let expired = 0;
  let firstExpiryMs = NaN;
  let lastExpiryMs = NaN;
  let sentinelId = '';
  lockring.machine.subscribe((event) => {
    if (event.type !== 'lease_ended' || event.reason !== 'expired' || event.kind !== 'plain') return;
    if (event.leaseId === sentinelId) return;
    lateness.add(event.latenessMs);
    expired += 1;
    const now = performance.now();
    if (Number.isNaN(firstExpiryMs)) firstExpiryMs = now;
    lastExpiryMs = now;
  });
  await lockring.app.listen({ host: config.host, port: config.port, listenTextResolver: (address) => `lockring listening on ${address}` });
  await lockring.start();
  process.on('SIGTERM', () => {
    lockring.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });

  /**
   * Grants `count` leases with a long TTL (as fast as this machine allows, however
   * long that takes), then moves each one's deadline into the window with a
   * keepalive carrying a new ttlMs, the route a client would use. Only the second
   * pass has to fit before the window opens, and it allocates nothing.
   */
  const seed = (command: SeedCommand): void => {
    const started = performance.now();
    const ids: string[] = new Array<string>(command.count);
    for (let i = 0; i < command.count; i++) {
      const lease = lockring.service.grantLease(3_600_000);
      if (lease instanceof Promise) throw new Error('the instrumented server seeds in memory only');
      ids[i] = lease.id;
    }
    const granted = performance.now();
    const random = prng(1234);
    const windowStart = granted + command.startInMs;
    const { ttlMsMin } = config.limits;
    // Arms the expiry loop's timer for the window whether or not keepalive re-arms it.
    const sentinel = lockring.service.grantLease(Math.max(ttlMsMin, Math.round(windowStart - performance.now())));
    if (!(sentinel instanceof Promise)) sentinelId = sentinel.id;
    for (const id of ids) {
      const deadline = windowStart + random() * command.spreadMs;
      lockring.service.keepalive(id, Math.max(ttlMsMin, Math.round(deadline - performance.now())));
    }
    const seededAt = performance.now();
    const memory = process.memoryUsage();
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

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = JSON.parse(line) as Command;
    if (command.cmd === 'seed') seed(command);
    else if (command.cmd === 'reset') {
      lateness = new Recorder(4_000_000);
      expired = 0;
      firstExpiryMs = NaN;
      lastExpiryMs = NaN;
      process.stdout.write('@reset {}\n');
    } else {
      process.stdout.write(
        `@report ${JSON.stringify({
          expired,
          lateness: lateness.summary(),
          expiringForMs: lastExpiryMs - firstExpiryMs,
          leasesLeft: lockring.machine.leases.byId.size,
        })}\n`,
      );
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`instrumented-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
