import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { pino, type Logger } from 'pino';
import { type OpenLogFile, openLogFile } from '../../src/store/log-file.js';
import { ManualClock } from '../../src/domain/clock.js';
import { LockringError } from '../../src/domain/errors.js';
import type { Hashing } from '../../src/domain/hashing.js';
import { StateMachine } from '../../src/domain/state-machine.js';
import { makeLimits } from '../../src/limits.js';
import { type OpenedStore, type StoreOptions, openStore } from '../../src/store/index.js';
import { loadHashing } from '../../src/xxhash.js';

let hashing: Hashing | null = null;

export const silent: Logger = pino({ level: process.env['LOCKRING_LOG_LEVEL'] ?? 'silent' });

/** A fresh machine on a manual clock; lease ids carry a per-machine prefix so runs never collide. */
export async function makeMachine(prefix = `m${Math.random().toString(36).slice(2, 8)}`): Promise<{ machine: StateMachine; clock: ManualClock }> {
  hashing ??= await loadHashing();
  const clock = new ManualClock();
  let n = 0;
  const machine = new StateMachine({ clock, limits: makeLimits(), hashing, newLeaseId: () => `${prefix}-${++n}` });
  return { machine, clock };
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lockring-store-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A maker of temporary data directories, every one removed when the test file ends. */
export function dirsRemovedAfter(): () => Promise<string> {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await removeDir(dir);
  });
  return async () => {
    const dir = await tempDir();
    dirs.push(dir);
    return dir;
  };
}

/**
 * Opens a store over `dir` into a fresh machine. Without spare segments unless asked
 * (`spareSegmentBytesMin`): most of these tests find frames by the segment's size, which a
 * spare made in the background would change at a moment of its own; spare-segment.test.ts
 * and the crash tests run with them.
 */
export async function open(
  dir: string,
  options: Partial<Omit<StoreOptions, 'dataDir' | 'machine' | 'log'>> = {},
): Promise<{ store: OpenedStore; machine: StateMachine; clock: ManualClock }> {
  const { machine, clock } = await makeMachine();
  const store = await openStore({ dataDir: dir, machine, log: silent, spareSegmentBytesMin: 0, ...options });
  return { store, machine, clock };
}

/** Waits until everything appended is durable. */
export async function settle(store: OpenedStore): Promise<void> {
  for (let p = store.settled(); p !== undefined; p = store.settled()) await p;
}

export interface Digest {
  readonly leases: string[];
  readonly holds: string[];
  readonly rings: string[];
  readonly lastToken: number;
}

/** What recovery must bring back, as sorted strings (deadlines excluded: restored leases get a full TTL). */
export function digest(machine: StateMachine): Digest {
  const leases = [...machine.leases.byId.values()].map((l) => `${l.id} ttl=${l.ttlMs} kind=${l.kind} by=${l.principal ?? '-'}`).sort();
  const holds: string[] = [];
  for (const name of machine.locks.byName.keys()) {
    const entry = machine.locks.byName.entry(name)!;
    const limit = typeof entry === 'number' ? 1 : entry.limit;
    for (const h of machine.locks.holdersNamed(name)) {
      holds.push(`${h.name} #${h.token} owner=${h.owner} lease=${h.lease.id} limit=${limit} delay=${h.lockDelayMs} at=${h.acquiredAtWallMs} by=${h.principal ?? '-'}`);
    }
  }
  const rings: string[] = [];
  for (const ring of machine.rings.byName.values()) {
    const members = ring.sortedMembers().map((m) => `${m.id}:${m.weight}:${m.metaJson}:${m.lease?.id ?? '-'}`);
    rings.push(`${ring.name} v${ring.version} vnodes=${ring.vnodes} fp=${ring.fingerprint()} [${members.join(' ')}]`);
  }
  return { leases, holds: holds.sort(), rings: rings.sort(), lastToken: machine.lastToken };
}


export { random } from '../helpers/random.js';

/** One random command: grants, acquires, releases, revokes, expiries, ring changes. */
export function step({ machine, clock }: { readonly machine: StateMachine; readonly clock: ManualClock }, rand: () => number): void {
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
  const leases = [...machine.leases.byId.keys()];
  const roll = rand();
  try {
    machine.run((m) => {
      if (roll < 0.15) m.leases.grant(1_000 + Math.floor(rand() * 5_000), rand() < 0.3 ? 'session' : 'plain', rand() < 0.3 ? 'team-a' : undefined);
      else if (roll < 0.4) m.locks.acquire({ name: `lock-${Math.floor(rand() * 40)}`, ttlMs: 500 + Math.floor(rand() * 3_000), owner: 'w', principal: rand() < 0.3 ? 'team-b' : undefined });
      else if (roll < 0.5 && leases.length > 0) m.locks.acquire({ name: `sem-${Math.floor(rand() * 5)}`, leaseId: pick(leases)!, limit: 3 });
      else if (roll < 0.62) {
        const name = pick([...m.locks.byName.keys()]);
        const hold = name === undefined ? undefined : pick(m.locks.holdersNamed(name));
        if (hold !== undefined) m.locks.release(hold.name, hold.token);
      } else if (roll < 0.68 && leases.length > 0) m.leases.revoke(pick(leases)!);
      else if (roll < 0.8) {
        const leaseId = rand() < 0.4 ? pick(leases) : undefined;
        m.rings.putMember(`ring-${Math.floor(rand() * 4)}`, `node-${Math.floor(rand() * 12)}`, { weight: Math.floor(rand() * 4), leaseId, meta: { r: Math.floor(rand() * 3) } });
      } else if (roll < 0.86) {
        const ring = pick([...m.rings.byName.values()]);
        const member = ring === undefined ? undefined : pick([...ring.members.keys()]);
        if (member !== undefined) m.rings.removeMember(ring!.name, member);
      } else if (roll < 0.89) {
        const ring = pick([...m.rings.byName.keys()]);
        if (ring !== undefined) m.rings.delete(ring);
      } else if (roll < 0.92) m.rings.put(`ring-${Math.floor(rand() * 4)}`, 1 + Math.floor(rand() * 200));
      else {
        clock.advance(Math.floor(rand() * 400));
        m.tick();
      }
    });
  } catch (error) {
    if (!(error instanceof LockringError)) throw error;
  }
}

/**
 * A log whose fdatasyncs return only when told: frames are written ahead of them.
 * Records the byte offset of each frame written and the order of writes and
 * syncs; `held` lets the oldest held fdatasync return.
 */
export function heldSyncs(): {
  openFile: OpenLogFile;
  starts: number[];
  events: string[];
  held: Array<() => void>;
  until(ok: () => boolean): Promise<void>;
} {
  const starts: number[] = [];
  const events: string[] = [];
  const held: Array<() => void> = [];
  const openFile: OpenLogFile = async (path) => {
    const file = await openLogFile(path);
    return {
      write: async (buf, length, position) => {
        starts.push(position);
        await file.write(buf, length, position);
        events.push('write');
      },
      datasync: async () => {
        events.push('sync');
        await file.datasync();
        await new Promise<void>((resolve) => held.push(resolve));
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  };
  // Real file I/O runs on libuv's pool: poll, bounded.
  const until = async (ok: () => boolean): Promise<void> => {
    for (let poll = 0; poll < 5_000 && !ok(); poll++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.ok(ok(), `stuck after ${events.join(',')}`);
  };
  return { openFile, starts, events, held, until };
}
