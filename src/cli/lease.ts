import type { LockringClient } from '../client/client.js';
import { LockringClientError } from '../client/errors.js';
import type { LeaseDetail } from '../protocol/wire.js';
import { UsageError, durationFlag, integerFlag } from './args.js';
import { clientCommand } from './client-command.js';
import { connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, relativeTime, table } from './output.js';

const ttlOptions = { ttl: { type: 'string' }, ...connectionOptions } as const;
const keepaliveOptions = { ttl: { type: 'string' }, once: { type: 'boolean' }, ...connectionOptions } as const;
const listOptions = { limit: { type: 'string' }, ...connectionOptions } as const;

const ttlMsMax = 86_400_000;
/** `lease list` reads at most this many pages of locks looking for leases. */
const lockPagesMax = 100;

/** `lockring lease grant|revoke|keepalive|list ...` */
export async function leaseCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'grant') return grant(rest, env);
  if (sub === 'revoke') return revoke(rest, env);
  if (sub === 'keepalive') return keepalive(rest, env);
  if (sub === 'list') return list(rest, env);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    print(helpFor('lease'));
    return sub === undefined ? exitCodes.usage : exitCodes.ok;
  }
  throw new UsageError(`unknown lease command ${JSON.stringify(sub)}: expected grant, revoke, keepalive or list`, 'lease');
}

function grant(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('lease grant', argv, env, ttlOptions, [], async ({ values, client }) => {
    const granted = await client.grantLease(durationFlag('lease grant', 'ttl', values.ttl, 10_000, 100, ttlMsMax));
    return { json: granted, text: granted.leaseId };
  });
}

function revoke(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('lease revoke', argv, env, connectionOptions, ['LEASE'], async ({ positionals: [leaseId], client }) => {
    const revoked = await client.revokeLease(leaseId!);
    const text = `revoked lease ${revoked.leaseId}: released ${revoked.released.length} lock(s), removed ${revoked.removed.length} ring member(s)`;
    return { json: revoked, text };
  });
}

/**
 * Renews LEASE every third of its TTL until SIGINT/SIGTERM (exit 0), or once with
 * --once. A lease that is gone ends it with exit 4. One line (or JSON line) per renewal.
 */
function keepalive(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('lease keepalive', argv, env, keepaliveOptions, ['LEASE'], async ({ values, positionals: [leaseId], client }) => {
    const ttlMs = values.ttl === undefined ? undefined : durationFlag('lease keepalive', 'ttl', values.ttl, 0, 100, ttlMsMax);
    const stop = stopSignal();
    try {
      for (;;) {
        let renewed;
        try {
          renewed = await client.keepalive(leaseId!, ttlMs);
        } catch (error) {
          if (error instanceof LockringClientError && error.code === 'lease_not_found') {
            return { json: { error: { code: error.code, message: error.message } }, text: `lease ${leaseId} is gone: ${error.message}`, exit: exitCodes.leaseLost };
          }
          throw error;
        }
        if (values.once === true) return { json: renewed, text: `renewed lease ${renewed.leaseId} for ${renewed.ttlMs} ms` };
        if (values.json === true) process.stdout.write(`${JSON.stringify(renewed)}\n`);
        else print(`renewed lease ${renewed.leaseId} for ${renewed.ttlMs} ms`);
        if (await stop.sleep(Math.max(1, Math.floor(renewed.ttlMs / 3)))) return { json: undefined, text: '' };
      }
    } finally {
      stop.dispose();
    }
  });
}

/** A sleep that SIGINT/SIGTERM cut short (resolving true). */
function stopSignal(): { sleep(ms: number): Promise<boolean>; dispose(): void } {
  let stopped = false;
  let wake: (() => void) | null = null;
  const onSignal = (): void => {
    stopped = true;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    sleep: (ms) => new Promise<boolean>((resolve) => {
      if (stopped) return resolve(true);
      const timer = setTimeout(() => resolve(false), ms);
      wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    }),
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * The leases that hold a lock or a ring member, with their TTLs. The server has no
 * list-of-leases route, so a lease with nothing bound to it is not shown.
 */
function list(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('lease list', argv, env, listOptions, [], async ({ values, client }) => {
    const limit = integerFlag('lease list', 'limit', values.limit, 100, 1, 1_000)!;
    const ids = await boundLeaseIds(client, limit);
    const leases: LeaseDetail[] = [];
    for (const id of ids) {
      try {
        leases.push(await client.getLease(id));
      } catch (error) {
        // Ended between the listing and the read: not a lease any more.
        if (!(error instanceof LockringClientError) || error.code !== 'lease_not_found') throw error;
      }
    }
    return { json: { leases }, text: describeLeases(leases) };
  });
}

async function boundLeaseIds(client: LockringClient, limit: number): Promise<string[]> {
  const ids = new Set<string>();
  let after: string | undefined;
  for (let page = 0; page < lockPagesMax && ids.size < limit; page++) {
    const found = await client.listLocks({ limit: 1_000, after });
    for (const lock of found.locks) for (const holder of lock.holders) ids.add(holder.leaseId);
    if (found.next === undefined) break;
    after = found.next;
  }
  for (const ring of (await client.listRings()).rings) {
    if (ids.size >= limit) break;
    for (const node of (await client.getRing(ring.name)).nodes) if (node.leaseId !== null) ids.add(node.leaseId);
  }
  return [...ids].slice(0, limit);
}

function describeLeases(leases: readonly LeaseDetail[]): string {
  if (leases.length === 0) return 'no leases with locks or ring members';
  const rows = [['LEASE', 'TTL', 'EXPIRES', 'LOCKS', 'MEMBERS']];
  for (const lease of leases) {
    rows.push([
      lease.id, `${lease.ttlMs}ms`, relativeTime(lease.expiresAt),
      lease.locks.map((l) => `${l.name}#${l.token}`).join(',') || '-', lease.members.map((m) => `${m.ring}/${m.node}`).join(',') || '-',
    ]);
  }
  return table(rows);
}
