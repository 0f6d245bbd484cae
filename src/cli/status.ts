import { LockringClientError } from '../client/errors.js';
import type { LockView } from '../protocol/wire.js';
import { parseCommandArgs, takePositionals } from './args.js';
import { connect, connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, printJson, relativeTime, table } from './output.js';

const options = connectionOptions;

/** What `status` shows: the server's view, or this for a free name (which it has no record of). */
type StatusView = Omit<LockView, 'limit'> & { readonly limit?: number };

/**
 * `lockring status NAME`: who holds a lock, who waits. A name nobody holds or waits
 * for is free (the server keeps no record of it): shown as such, exit 0.
 */
export async function statusCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('status', argv, options);
  if (values.help === true) {
    print(helpFor('status'));
    return exitCodes.ok;
  }
  const [name] = takePositionals('status', positionals, ['NAME']);
  const client = connect('status', values, env);
  let view: StatusView;
  try {
    view = await client.getLock(name!);
  } catch (error) {
    if (!(error instanceof LockringClientError) || error.code !== 'lock_not_found') throw error;
    view = { name: name!, holders: [], waiters: 0 };
  }
  if (values.json === true) printJson(view);
  else print(describeLock(view));
  return exitCodes.ok;
}

export function describeLock(view: StatusView, nowMs: number = Date.now()): string {
  if (view.holders.length === 0 && view.waiters === 0 && view.retryAfterMs === undefined) {
    return `lock ${JSON.stringify(view.name)} is free`;
  }
  const permits = view.limit !== undefined && view.limit > 1 ? `${view.holders.length} of ${view.limit} permits held` : view.holders.length > 0 ? 'held' : 'not held';
  const lines = [`lock ${JSON.stringify(view.name)}: ${permits}, ${view.waiters} waiting`];
  if (view.retryAfterMs !== undefined) lines.push(`lock-delay: no grant for another ${(view.retryAfterMs / 1000).toFixed(1)}s`);
  if (view.holders.length > 0) {
    // The MODE column shows only when someone reads: plain locks print as they always did.
    const modes = view.holders.some((h) => h.mode === 'read');
    const rows = [['TOKEN', 'OWNER', 'LEASE', 'ACQUIRED', 'EXPIRES', ...(modes ? ['MODE'] : [])]];
    for (const h of view.holders) {
      rows.push([
        String(h.token), h.owner === '' ? '-' : h.owner, h.leaseId, relativeTime(h.acquiredAt, nowMs), relativeTime(h.expiresAt, nowMs),
        ...(modes ? [h.mode] : []),
      ]);
    }
    lines.push('', table(rows));
  }
  return lines.join('\n');
}
