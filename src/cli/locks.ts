import type { LockView, WaiterPage, WaiterView } from '../protocol/wire.js';
import { formatDuration } from '../units.js';
import { UsageError, integerFlag } from './args.js';
import { clientCommand } from './client-command.js';
import { connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, table } from './output.js';

const listOptions = {
  prefix: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  all: { type: 'boolean' },
  ...connectionOptions,
} as const;

const waitersOptions = {
  limit: { type: 'string' },
  after: { type: 'string' },
  all: { type: 'boolean' },
  ...connectionOptions,
} as const;

/** `--all` reads at most this many pages (of up to 1,000 locks or waiters each). */
const pagesMax = 1_000;

/** `lockring locks list [--prefix P] [--limit N] [--after NAME] [--all]`, `lockring locks waiters NAME [--limit N] [--after POS] [--all]` */
export async function locksCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'list') return list(rest, env);
  if (sub === 'waiters') return waiters(rest, env);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    print(helpFor('locks'));
    return sub === undefined ? exitCodes.usage : exitCodes.ok;
  }
  throw new UsageError(`unknown locks command ${JSON.stringify(sub)}: expected list or waiters`, 'locks');
}

function list(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('locks list', argv, env, listOptions, [], async ({ values, client }) => {
    const limit = integerFlag('locks list', 'limit', values.limit, undefined, 1, 1_000);
    const locks: LockView[] = [];
    let after = values.after;
    let next: string | undefined;
    for (let page = 0; page < (values.all === true ? pagesMax : 1); page++) {
      const found = await client.listLocks({ prefix: values.prefix, limit, after });
      locks.push(...found.locks);
      next = found.next;
      if (next === undefined) break;
      after = next;
    }
    const json = next === undefined ? { locks } : { locks, next };
    return { json, text: describeLocks(locks, next) };
  });
}

function describeLocks(locks: readonly LockView[], next: string | undefined): string {
  if (locks.length === 0) return 'no locks';
  const rows = [['NAME', 'LIMIT', 'HOLDERS', 'WAITERS', 'TOKENS']];
  for (const lock of locks) {
    rows.push([lock.name, String(lock.limit), String(lock.holders.length), String(lock.waiters), lock.holders.map((h) => h.token).join(',') || '-']);
  }
  return `${table(rows)}${next !== undefined ? `\n(more: --after ${JSON.stringify(next)}, or --all)` : ''}`;
}

/** One page of the queue, or with --all every page, following `next` (positions as of each page's read). */
function waiters(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('locks waiters', argv, env, waitersOptions, ['NAME'], async ({ values, positionals, client }) => {
    const name = positionals[0]!;
    const limit = integerFlag('locks waiters', 'limit', values.limit, undefined, 1, 1_000);
    let after = integerFlag('locks waiters', 'after', values.after, undefined, 0, Number.MAX_SAFE_INTEGER);
    const rows: WaiterView[] = [];
    let page: WaiterPage | undefined;
    for (let read = 0; read < (values.all === true ? pagesMax : 1); read++) {
      page = await client.getLockWaiters(name, { limit, after });
      rows.push(...page.waiters);
      if (page.next === undefined) break;
      after = page.next;
    }
    const { total, next } = page!;
    const json = next === undefined ? { name, total, waiters: rows } : { name, total, waiters: rows, next };
    return { json, text: describeWaiters(name, total, rows, next) };
  });
}

function describeWaiters(name: string, total: number, waiting: readonly WaiterView[], next: number | undefined): string {
  if (total === 0) return `nobody waits for ${JSON.stringify(name)}`;
  const rows = [['POSITION', 'OWNER', 'MODE', 'WAITED', 'TIMES OUT IN']];
  for (const waiter of waiting) {
    rows.push([String(waiter.position), waiter.owner || '-', waiter.mode, formatDuration(waiter.waitedMs), formatDuration(waiter.timesOutInMs)]);
  }
  const more = next !== undefined ? `; more: --after ${next}, or --all` : '';
  return `${table(rows)}\n(${total} waiting${more})`;
}
