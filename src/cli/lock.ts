import { hostname } from 'node:os';
import { formatDuration } from '../units.js';
import { ApiClient, type ApiError, describeApiError, segment } from './api-client.js';
import { UsageError, durationFlag, integerFlag, parseCommandArgs, splitAtDoubleDash, takePositionals } from './args.js';
import { Child, type ChildEnd, exitCodeOf, forwardedSignals, signalExitCode } from './child-process.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { type LeaseLoss, LeaseKeeper } from './lease-keeper.js';
import { print, say } from './output.js';

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
const releaseTimeoutMs = 5_000;

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

interface Grant {
  readonly name: string;
  readonly token: number;
  readonly leaseId: string;
}

/**
 * `lockring lock NAME [options] -- CMD [ARGS...]`: acquire, run CMD with the
 * fencing token in its environment while a keepalive loop holds the lease, release
 * when CMD exits and exit with its code. Losing the lease terminates CMD.
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
  const client = ApiClient.fromOptions('lock', values.url, env);
  const grant = await acquire(client, plan);
  if (typeof grant === 'number') return grant;
  return runHolding(client, plan, grant, env);
}

/** Acquires, asking again in chunks for a long `--wait`; a signal gives up. */
async function acquire(client: ApiClient, plan: LockPlan): Promise<Grant | number> {
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
    controller.abort();
  };
  for (const signal of forwardedSignals) process.on(signal, onSignal);
  const deadlineMs = performance.now() + plan.waitMs;
  try {
    for (;;) {
      const remainingMs = Math.floor(deadlineMs - performance.now());
      const waitMs = Math.max(0, Math.min(remainingMs, waitChunkMs));
      const body = {
        ttlMs: plan.ttlMs, owner: plan.owner, waitMs,
        ...(plan.limit !== undefined ? { limit: plan.limit } : {}),
        ...(plan.lockDelayMs !== undefined ? { lockDelayMs: plan.lockDelayMs } : {}),
      };
      const response = await client.call<Grant>('POST', `/v1/locks/${segment(plan.name)}/acquire`, body, controller.signal);
      if (response.ok) return response.body;
      if (response.error.code === 'lock_held' && deadlineMs - performance.now() >= 1) continue;
      if (response.error.code === 'lock_held') {
        say(`${describeHeld(plan, response.error)}${plan.waitMs > 0 ? ` (waited ${formatDuration(plan.waitMs)})` : ''}; not running ${plan.command}`);
        return exitCodes.lockNotAcquired;
      }
      say(`cannot acquire lock ${JSON.stringify(plan.name)}: ${describeApiError(response.error)}`);
      return exitCodes.failure;
    }
  } catch (error) {
    if (interrupted !== null) {
      say(`interrupted by ${interrupted} while waiting for lock ${JSON.stringify(plan.name)}`);
      return signalExitCode(interrupted);
    }
    throw error;
  } finally {
    for (const signal of forwardedSignals) process.off(signal, onSignal);
  }
}

/** Runs the command while keeping the lease; see lockCommand. */
async function runHolding(client: ApiClient, plan: LockPlan, grant: Grant, env: NodeJS.ProcessEnv): Promise<number> {
  let child: Child | null = null;
  let loss: LeaseLoss | null = null;
  const keeper = new LeaseKeeper(client, grant.leaseId, plan.ttlMs, (lost) => {
    loss = lost;
    say(
      `lost lock ${JSON.stringify(plan.name)} (token ${grant.token}): ${lost.message}; terminating ${plan.command} ` +
        `(pid ${child?.pid ?? '?'}) with SIGTERM${plan.graceMs > 0 ? `, then SIGKILL after ${formatDuration(plan.graceMs)}` : ''}`,
    );
    child?.terminate(plan.graceMs);
  });
  const first = await keeper.confirm();
  if (first !== null) {
    say(`lost lock ${JSON.stringify(plan.name)} before running ${plan.command}: ${first.message}`);
    await release(client, grant, true);
    return exitCodes.leaseLost;
  }
  child = new Child(plan.command, plan.args, {
    ...env,
    LOCKRING_LOCK: plan.name,
    LOCKRING_FENCING_TOKEN: String(grant.token),
    LOCKRING_LEASE_ID: grant.leaseId,
    LOCKRING_URL: client.baseUrl,
  });
  const running = child;
  const forward = (signal: NodeJS.Signals): void => running.signal(signal);
  for (const signal of forwardedSignals) process.on(signal, forward);
  keeper.start();
  const end = await running.ended;
  keeper.stop();
  for (const signal of forwardedSignals) process.off(signal, forward);
  const lost = loss as LeaseLoss | null;
  if (lost !== null) {
    // `gone`: the server already ended it. `unconfirmed`: it may still exist; let it go.
    if (lost.kind === 'unconfirmed') await release(client, grant, true);
    say(`${plan.command} ${describeEnd(end)} after the lock was lost; exiting with ${exitCodes.leaseLost}`);
    return exitCodes.leaseLost;
  }
  await release(client, grant, false);
  if (end.kind === 'spawn_failed') say(`cannot run ${JSON.stringify(plan.command)}: ${end.error.code ?? end.error.message}`);
  return exitCodeOf(end);
}

async function release(client: ApiClient, grant: Grant, quiet: boolean): Promise<void> {
  try {
    const response = await client.call('POST', `/v1/locks/${segment(grant.name)}/release`, { token: grant.token }, AbortSignal.timeout(releaseTimeoutMs));
    if (!response.ok && !quiet) say(`warning: releasing lock ${JSON.stringify(grant.name)} (token ${grant.token}) failed: ${describeApiError(response.error)}`);
  } catch (error) {
    if (!quiet) say(`warning: releasing lock ${JSON.stringify(grant.name)} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function describeHeld(plan: LockPlan, error: ApiError): string {
  const holders = Array.isArray(error['holders']) ? (error['holders'] as { token?: number; owner?: string }[]) : [];
  const who = holders.map((h) => `${h.owner !== undefined && h.owner !== '' ? h.owner : 'unnamed'} (token ${h.token ?? '?'})`).join(', ');
  const delay = typeof error['retryAfterMs'] === 'number' ? `, lock-delay for ${formatDuration(error['retryAfterMs'])}` : '';
  return `lock ${JSON.stringify(plan.name)} is held${who !== '' ? ` by ${who}` : ''}${delay}`;
}

function describeEnd(end: ChildEnd): string {
  if (end.kind === 'spawn_failed') return `could not start (${end.error.code ?? end.error.message})`;
  return end.signal !== null ? `was killed by ${end.signal}` : `exited with code ${end.code ?? '?'}`;
}
