import { hostname } from 'node:os';
import type { LockringClient } from '../client/client.js';
import { LockLostError, LockringClientError } from '../client/errors.js';
import type { LockHandle } from '../client/lock-handle.js';
import { formatDuration } from '../units.js';
import { UsageError, durationFlag, integerFlag, parseCommandArgs, splitAtDoubleDash, takePositionals } from './args.js';
import { Child, type ChildEnd, exitCodeOf, forwardedSignals, signalExitCode } from './child-process.js';
import { connect } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { describeClientError, print, say } from './output.js';

const options = {
  ttl: { type: 'string' },
  wait: { type: 'string' },
  limit: { type: 'string' },
  grace: { type: 'string' },
  owner: { type: 'string' },
  'lock-delay': { type: 'string' },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** One request waits at most this long; a longer `--wait` asks again. */
const waitChunkMs = 60_000;

interface LockPlan {
  readonly name: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly limit: number | undefined;
  readonly graceMs: number;
  readonly owner: string;
  readonly lockDelayMs: number | undefined;
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * `lockring lock NAME [options] -- CMD [ARGS...]`: acquire, run CMD with the
 * fencing token in its environment while the SDK's lock handle keeps the lease alive
 * (every TTL/3, with the local deadline of docs/cli.md), release when CMD exits and
 * exit with its code. Losing the lease (the handle's signal) terminates CMD.
 */
export async function lockCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { before, after } = splitAtDoubleDash(argv);
  const { values, positionals } = parseCommandArgs('lock', before, options);
  if (values.help === true) {
    print(helpFor('lock'));
    return exitCodes.ok;
  }
  const [name] = takePositionals('lock', positionals, ['NAME']);
  if (after === null || after.length === 0) {
    throw new UsageError('missing the command to run after "--": lockring lock NAME [options] -- CMD [ARGS...]', 'lock');
  }
  const plan: LockPlan = {
    name: name!,
    ttlMs: durationFlag('lock', 'ttl', values.ttl, 10_000, 100, 86_400_000),
    waitMs: durationFlag('lock', 'wait', values.wait, 0, 0, 86_400_000),
    limit: integerFlag('lock', 'limit', values.limit, undefined, 1, 10_000),
    graceMs: durationFlag('lock', 'grace', values.grace, 5_000, 0, 3_600_000),
    owner: values.owner ?? `${hostname()}:${process.pid}`,
    lockDelayMs: values['lock-delay'] === undefined ? undefined : durationFlag('lock', 'lock-delay', values['lock-delay'], 0, 0, 60_000),
    command: after[0]!,
    args: after.slice(1),
  };
  const client = connect('lock', values.url, env);
  const handle = await acquire(client, plan);
  if (typeof handle === 'number') return handle;
  return runHolding(client, plan, handle, env);
}

/** Acquires, asking again in chunks for a long `--wait`; a signal gives up. */
async function acquire(client: LockringClient, plan: LockPlan): Promise<LockHandle | number> {
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    controller.abort();
  };
  const gaveUp = (signal: NodeJS.Signals): number => {
    say(`interrupted by ${signal} while waiting for lock ${JSON.stringify(plan.name)}`);
    return signalExitCode(signal);
  };
  for (const signal of forwardedSignals) process.on(signal, onSignal);
  const deadlineMs = performance.now() + plan.waitMs;
  try {
    for (;;) {
      const waitMs = Math.max(0, Math.min(Math.floor(deadlineMs - performance.now()), waitChunkMs));
      let handle: LockHandle;
      try {
        handle = await client.acquire(plan.name, {
          ttlMs: plan.ttlMs, owner: plan.owner, waitMs, signal: controller.signal,
          ...(plan.limit !== undefined ? { limit: plan.limit } : {}),
          ...(plan.lockDelayMs !== undefined ? { lockDelayMs: plan.lockDelayMs } : {}),
        });
      } catch (error) {
        if (interrupted !== null) return gaveUp(interrupted);
        if (!(error instanceof LockringClientError) || error.transport) throw error;
        if (error.code === 'lock_held' && deadlineMs - performance.now() >= 1) continue;
        if (error.code === 'lock_held') {
          say(`${describeHeld(plan, error)}${plan.waitMs > 0 ? ` (waited ${formatDuration(plan.waitMs)})` : ''}; not running ${plan.command}`);
          return exitCodes.lockNotAcquired;
        }
        say(`cannot acquire lock ${JSON.stringify(plan.name)}: ${describeClientError(error)}`);
        return exitCodes.failure;
      }
      // The grant crossed the signal: the wait is abandoned all the same.
      if (interrupted !== null) {
        await handle.release().catch(() => {});
        return gaveUp(interrupted);
      }
      return handle;
    }
  } finally {
    for (const signal of forwardedSignals) process.off(signal, onSignal);
  }
}

/** Runs the command while the handle keeps the lease; see lockCommand. */
async function runHolding(client: LockringClient, plan: LockPlan, handle: LockHandle, env: NodeJS.ProcessEnv): Promise<number> {
  const lock = JSON.stringify(plan.name);
  if (handle.signal.aborted) {
    // A grant that waited in line is renewed before it is handed out: that failed.
    say(`lost lock ${lock} before running ${plan.command}: ${describeLoss(handle, plan)}`);
    await handle.release().catch(() => {});
    return exitCodes.leaseLost;
  }
  const child = new Child(plan.command, plan.args, {
    ...env,
    LOCKRING_LOCK: plan.name,
    LOCKRING_FENCING_TOKEN: String(handle.token),
    LOCKRING_LEASE_ID: handle.leaseId,
    LOCKRING_URL: client.url,
  });
  let lost = false;
  const onLost = (): void => {
    lost = true;
    say(
      `lost lock ${lock} (token ${handle.token}): ${describeLoss(handle, plan)}; terminating ${plan.command} ` +
        `(pid ${child.pid ?? '?'}) with SIGTERM${plan.graceMs > 0 ? `, then SIGKILL after ${formatDuration(plan.graceMs)}` : ''}`,
    );
    child.terminate(plan.graceMs);
  };
  const forward = (signal: NodeJS.Signals): void => child.signal(signal);
  handle.signal.addEventListener('abort', onLost, { once: true });
  for (const signal of forwardedSignals) process.on(signal, forward);
  const end = await child.ended;
  handle.signal.removeEventListener('abort', onLost);
  for (const signal of forwardedSignals) process.off(signal, forward);
  if (lost) {
    // Unconfirmed is not gone: the server may still count the hold, so hand it back
    // (the handle started that when it gave up; this waits for it).
    if (!gone(handle)) await handle.release().catch(() => {});
    say(`${plan.command} ${describeEnd(end)} after the lock was lost; exiting with ${exitCodes.leaseLost}`);
    return exitCodes.leaseLost;
  }
  try {
    await handle.release();
  } catch (error) {
    const why = error instanceof LockringClientError ? describeClientError(error) : String(error);
    say(`warning: releasing lock ${lock} (token ${handle.token}) failed: ${why}`);
  }
  if (end.kind === 'spawn_failed') say(`cannot run ${JSON.stringify(plan.command)}: ${end.error.code ?? end.error.message}`);
  return exitCodeOf(end);
}

/** Whether the server said the lease ended (rather than: no keepalive was confirmed in time). */
function gone(handle: LockHandle): boolean {
  return !(handle.signal.reason instanceof LockLostError && handle.signal.reason.reason === 'deadline');
}

function describeLoss(handle: LockHandle, plan: LockPlan): string {
  if (gone(handle)) return `the server no longer has lease ${handle.leaseId} (it expired or was revoked)`;
  const cause: unknown = (handle.signal.reason as LockLostError).cause;
  const problem = cause instanceof LockringClientError ? describeClientError(cause) : cause === undefined ? 'no answer' : String(cause);
  return `no keepalive was confirmed within the lease TTL (${formatDuration(plan.ttlMs)}); last problem: ${problem}`;
}

function describeHeld(plan: LockPlan, error: LockringClientError): string {
  const holders = Array.isArray(error.details['holders']) ? (error.details['holders'] as { token?: number; owner?: string }[]) : [];
  const who = holders.map((h) => `${h.owner !== undefined && h.owner !== '' ? h.owner : 'unnamed'} (token ${h.token ?? '?'})`).join(', ');
  const retryAfterMs = error.details['retryAfterMs'];
  const delay = typeof retryAfterMs === 'number' ? `, lock-delay for ${formatDuration(retryAfterMs)}` : '';
  return `lock ${JSON.stringify(plan.name)} is held${who !== '' ? ` by ${who}` : ''}${delay}`;
}

function describeEnd(end: ChildEnd): string {
  if (end.kind === 'spawn_failed') return `could not start (${end.error.code ?? end.error.message})`;
  return end.signal !== null ? `was killed by ${end.signal}` : `exited with code ${end.code ?? '?'}`;
}
