import { hostname } from 'node:os';
import type { LockringClient } from '../client/client.js';
import { LockLostError, LockringClientError } from '../client/errors.js';
import type { LockHandle } from '../client/lock-handle.js';
import type { MultiLockHandle } from '../client/multi-lock-handle.js';
import { formatDuration } from '../units.js';
import { UsageError, durationFlag, integerFlag, modeFlag, parseCommandArgs, splitAtDoubleDash, takePositionals } from './args.js';
import { Child, type ChildEnd, exitCodeOf, forwardedSignals, signalExitCode } from './child-process.js';
import { connect, connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { describeClientError, print, printJson, say } from './output.js';

const options = {
  ttl: { type: 'string' },
  wait: { type: 'string' },
  limit: { type: 'string' },
  grace: { type: 'string' },
  owner: { type: 'string' },
  'lock-delay': { type: 'string' },
  mode: { type: 'string' },
  'max-hold': { type: 'string' },
  priority: { type: 'string' },
  'yield-grace-ms': { type: 'string' },
  ...connectionOptions,
} as const;

interface LockPlan {
  /** What messages call the lock(s): the name, or the names comma-separated. */
  readonly name: string;
  /** Every name asked for; more than one is acquired all at once or not at all. */
  readonly names: readonly string[];
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly limit: number | undefined;
  readonly graceMs: number;
  readonly owner: string;
  readonly lockDelayMs: number | undefined;
  readonly mode: 'read' | 'write' | undefined;
  readonly maxHoldMs: number | undefined;
  readonly priority: number | undefined;
  readonly yieldGraceMs: number | undefined;
  readonly command: string;
  readonly args: readonly string[];
  /** Report lockring's own outcomes (not held, lost, refused) as JSON on stdout. */
  readonly json: boolean;
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
  const names = lockNames(positionals);
  if (after === null || after.length === 0) {
    throw new UsageError('missing the command to run after "--": lockring lock NAME [NAME...] [options] -- CMD [ARGS...]', 'lock');
  }
  const plan: LockPlan = {
    name: names.join(', '),
    names,
    ttlMs: durationFlag('lock', 'ttl', values.ttl, 10_000, 100, 86_400_000),
    waitMs: durationFlag('lock', 'wait', values.wait, 0, 0, 86_400_000),
    limit: integerFlag('lock', 'limit', values.limit, undefined, 1, 10_000),
    graceMs: durationFlag('lock', 'grace', values.grace, 5_000, 0, 3_600_000),
    owner: values.owner ?? `${hostname()}:${process.pid}`,
    lockDelayMs: values['lock-delay'] === undefined ? undefined : durationFlag('lock', 'lock-delay', values['lock-delay'], 0, 0, 60_000),
    mode: modeFlag('lock', values.mode),
    maxHoldMs: values['max-hold'] === undefined ? undefined : durationFlag('lock', 'max-hold', values['max-hold'], 0, 1, 86_400_000),
    priority: integerFlag('lock', 'priority', values.priority, undefined, 0, 1_000),
    yieldGraceMs: integerFlag('lock', 'yield-grace-ms', values['yield-grace-ms'], undefined, 0, 300_000),
    command: after[0]!,
    args: after.slice(1),
    json: values.json === true,
  };
  // Over the WebSocket: the whole --wait is one place in the server's FIFO queue, and
  // a lost lease is pushed the moment it happens (HTTP is the fallback).
  const client = connect('lock', values, env, true);
  try {
    const handle = await acquire(client, plan);
    if (typeof handle === 'number') return handle;
    return await runHolding(client, plan, handle, env);
  } finally {
    await client.close();
  }
}

/** One NAME or several, each once (the server refuses a name twice; say so before asking). */
function lockNames(positionals: readonly string[]): string[] {
  if (positionals.length === 0) takePositionals('lock', [], ['NAME']);
  const repeated = positionals.find((name, i) => positionals.indexOf(name) !== i);
  if (repeated !== undefined) throw new UsageError(`lock ${JSON.stringify(repeated)} is named twice`, 'lock');
  return [...positionals];
}

/** What runs CMD: one lock's handle, or a multi-lock's, seen the same way. */
interface Held {
  readonly signal: AbortSignal;
  readonly leaseId: string;
  readonly holds: readonly LockHandle[];
  release(): Promise<void>;
}

const heldOne = (handle: LockHandle): Held => ({ signal: handle.signal, leaseId: handle.leaseId, holds: [handle], release: () => handle.release() });
const heldAll = (handle: MultiLockHandle): Held => handle;

/** lockring's own outcome: one line on stderr, or `{"error": ...}` on stdout with --json. */
function report(plan: LockPlan, code: string, message: string, details: Readonly<Record<string, unknown>> = {}): void {
  if (plan.json) printJson({ error: { code, message, ...details } });
  else say(message);
}

/**
 * One acquire for the whole `--wait`: it keeps its place in the server's queue from
 * start to end. The server keeps a waiter at most its `waitMsMax` (5 minutes by
 * default); a longer --wait is refused by it, reported as bad usage. A signal gives up.
 */
async function acquire(client: LockringClient, plan: LockPlan): Promise<Held | number> {
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    controller.abort();
  };
  const gaveUp = (signal: NodeJS.Signals): number => {
    report(plan, 'interrupted', `interrupted by ${signal} while waiting for lock ${JSON.stringify(plan.name)}`, { signal });
    return signalExitCode(signal);
  };
  for (const signal of forwardedSignals) process.on(signal, onSignal);
  try {
    let handle: Held;
    try {
      const options = {
        ttlMs: plan.ttlMs, owner: plan.owner, waitMs: plan.waitMs, signal: controller.signal,
        ...(plan.lockDelayMs !== undefined ? { lockDelayMs: plan.lockDelayMs } : {}),
        ...(plan.maxHoldMs !== undefined ? { maxHoldMs: plan.maxHoldMs } : {}),
      };
      // Priority and yield requests are single-name: a multi-lock takes neither.
      const ranked = {
        ...(plan.priority !== undefined ? { priority: plan.priority } : {}),
        ...(plan.yieldGraceMs !== undefined ? { yieldGraceMs: plan.yieldGraceMs } : {}),
      };
      const item = { ...(plan.limit !== undefined ? { limit: plan.limit } : {}), ...(plan.mode !== undefined ? { mode: plan.mode } : {}) };
      // Pushed over the WebSocket as the queue moves; nothing over HTTP.
      const onPosition = (position: number, total: number): void => say(`waiting for lock ${JSON.stringify(plan.names[0])}: position ${position} of ${total}`);
      // Several names: one multi-lock, granted all at once or not at all (--limit and --mode apply to each).
      handle = plan.names.length === 1
        ? heldOne(await client.acquire(plan.names[0]!, { ...options, ...item, ...ranked, onPosition }))
        : heldAll(await client.acquireAll(plan.names.map((name) => ({ name, ...item })), {
          ...options,
          onPosition: (name, position, total) => say(`waiting for lock ${JSON.stringify(name)}: position ${position} of ${total}`),
        }));
    } catch (error) {
      if (interrupted !== null) return gaveUp(interrupted);
      if (!(error instanceof LockringClientError) || error.transport) throw error;
      return refused(plan, error);
    }
    // The grant crossed the signal: the wait is abandoned all the same.
    if (interrupted !== null) {
      await handle.release().catch(() => {});
      return gaveUp(interrupted);
    }
    return handle;
  } finally {
    for (const signal of forwardedSignals) process.off(signal, onSignal);
  }
}

/** The server said no: held for the whole wait (3), a --wait beyond its limit (2), anything else (1). */
function refused(plan: LockPlan, error: LockringClientError): number {
  if (error.code === 'lock_held') {
    const waited = plan.waitMs > 0 ? ` (waited ${formatDuration(plan.waitMs)})` : '';
    report(plan, error.code, `${describeHeld(plan, error)}${waited}; not running ${plan.command}`, error.details);
    return exitCodes.lockNotAcquired;
  }
  if (error.code === 'invalid_request' && error.details['field'] === 'waitMs') {
    report(plan, 'usage', `--wait ${formatDuration(plan.waitMs)} is longer than this server keeps a waiter in its queue (${error.message}); ` +
      'waiting longer would mean asking again at the back of the line (see \'lockring lock --help\')', error.details);
    return exitCodes.usage;
  }
  report(plan, error.code, `cannot acquire lock ${JSON.stringify(plan.name)}: ${describeClientError(error)}`, error.details);
  return exitCodes.failure;
}

/** Runs the command while the handle keeps the lease; see lockCommand. */
async function runHolding(client: LockringClient, plan: LockPlan, handle: Held, env: NodeJS.ProcessEnv): Promise<number> {
  const lock = plan.names.map((name) => JSON.stringify(name)).join(', ');
  const first = handle.holds[0]!;
  const tokens = handle.holds.map((hold) => hold.token).join(', ');
  if (handle.signal.aborted) {
    // A grant that waited in line is renewed before it is handed out: that failed.
    report(plan, 'lease_lost', `lost lock ${lock} before running ${plan.command}: ${describeLoss(handle, plan)}`);
    await handle.release().catch(() => {});
    return exitCodes.leaseLost;
  }
  const child = new Child(plan.command, plan.args, {
    ...env,
    LOCKRING_LOCK: first.name,
    LOCKRING_FENCING_TOKEN: String(first.token),
    LOCKRING_LEASE_ID: handle.leaseId,
    LOCKRING_LOCK_MODE: first.mode,
    LOCKRING_URL: client.url,
    // Every name's token, for a command that holds several: {"name": token, ...}.
    LOCKRING_FENCING_TOKENS: JSON.stringify(Object.fromEntries(handle.holds.map((hold) => [hold.name, hold.token]))),
  });
  let lost = false;
  const onLost = (): void => {
    lost = true;
    say(
      `lost lock ${lock} (token ${tokens}): ${describeLoss(handle, plan)}; terminating ${plan.command} ` +
        `(pid ${child.pid ?? '?'}) with SIGTERM${plan.graceMs > 0 ? `, then SIGKILL after ${formatDuration(plan.graceMs)}` : ''}`,
    );
    child.terminate(plan.graceMs);
  };
  const forward = (signal: NodeJS.Signals): void => child.signal(signal);
  // Asked to yield: CMD gets SIGTERM now, to finish within the grace and exit; if it
  // is still running when the server ends the hold, it is stopped as on a lost lease.
  const stopsYielding = handle.holds.map((hold) => hold.onYieldRequested((notice) => {
    say(`lock ${JSON.stringify(hold.name)} (token ${hold.token}) was asked to yield by a higher-priority waiter: sending ${plan.command} ` +
      `(pid ${child.pid ?? '?'}) SIGTERM; the server ends the hold in ${formatDuration(notice.graceMs)} unless it exits first`);
    child.signal('SIGTERM');
  }));
  handle.signal.addEventListener('abort', onLost, { once: true });
  for (const signal of forwardedSignals) process.on(signal, forward);
  const end = await child.ended;
  handle.signal.removeEventListener('abort', onLost);
  for (const stop of stopsYielding) stop();
  for (const signal of forwardedSignals) process.off(signal, forward);
  if (lost) {
    // Unconfirmed is not gone: the server may still count the hold, so hand it back
    // (the handle started that when it gave up; this waits for it).
    if (!gone(handle)) await handle.release().catch(() => {});
    report(plan, 'lease_lost', `${plan.command} ${describeEnd(end)} after the lock was lost; exiting with ${exitCodes.leaseLost}`);
    return exitCodes.leaseLost;
  }
  try {
    await handle.release();
  } catch (error) {
    const why = error instanceof LockringClientError ? describeClientError(error) : String(error);
    say(`warning: releasing lock ${lock} (token ${tokens}) failed: ${why}`);
  }
  if (end.kind === 'spawn_failed') say(`cannot run ${JSON.stringify(plan.command)}: ${end.error.code ?? end.error.message}`);
  return exitCodeOf(end);
}

function lostReason(handle: Held): string | undefined {
  const reason: unknown = handle.signal.reason;
  return reason instanceof LockLostError ? reason.reason : undefined;
}

/** Whether the server said the lease ended (rather than: no keepalive was confirmed in time). */
function gone(handle: Held): boolean {
  return !(handle.signal.reason instanceof LockLostError && handle.signal.reason.reason === 'deadline');
}

function describeLoss(handle: Held, plan: LockPlan): string {
  if (lostReason(handle) === 'max_hold') return `the hold reached --max-hold ${formatDuration(plan.maxHoldMs ?? 0)}`;
  if (lostReason(handle) === 'preempted') return 'a higher-priority waiter asked it to yield and the grace ran out';
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
  // A multi-lock's refusal names the names that blocked, and their holders per name.
  const names = Array.isArray(error.details['names']) ? (error.details['names'] as string[]) : null;
  if (names !== null) return `${names.map((name) => `lock ${JSON.stringify(name)}`).join(', ')} ${names.length === 1 ? 'is' : 'are'} held`;
  return `lock ${JSON.stringify(plan.name)} is held${who !== '' ? ` by ${who}` : ''}${delay}`;
}

function describeEnd(end: ChildEnd): string {
  if (end.kind === 'spawn_failed') return `could not start (${end.error.code ?? end.error.message})`;
  return end.signal !== null ? `was killed by ${end.signal}` : `exited with code ${end.code ?? '?'}`;
}
