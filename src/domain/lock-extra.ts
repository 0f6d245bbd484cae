import type { HoldSlot } from './hold-table.js';
import type { Lock, LockDelay, Waiter } from './model.js';

/**
 * What few lock names have: a limit other than 1 (a semaphore), a holder Map (a second
 * holder joined: permits or readers), read holders, a running lock-delay, a queue of
 * waiters. Kept out of the lock itself, in an object made only for the names that have
 * one of them: every field of a V8 object costs 8 bytes, and the common name (a mutex
 * held in write mode, nobody waiting) carries a single null here instead of seven
 * fields. Dropped again once empty; a holder Map keeps it while the name lives
 * (lock-holders.ts), and so does a semaphore's limit.
 */
export interface LockExtra {
  readonly limit: number;
  /** Token -> the hold's row. */
  holderMap: Map<number, HoldSlot> | null;
  readers: number;
  delay: LockDelay | null;
  /** The queue of waiters, in grant order (waiter-order.ts). */
  waiterHead: Waiter | null;
  waiterTail: Waiter | null;
  waiterCount: number;
}

export function newLockExtra(limit: number): LockExtra {
  return { limit, holderMap: null, readers: 0, delay: null, waiterHead: null, waiterTail: null, waiterCount: 0 };
}

export const lockHolderMap = (lock: Lock): Map<number, HoldSlot> | null => lock.extra?.holderMap ?? null;
/** Holders in read mode (0 on a name never read-locked): the rest hold in write mode. */
export const lockReaders = (lock: Lock): number => lock.extra?.readers ?? 0;
/** The running lock-delay: no grant is made until its deadline. Null when none runs. */
export const lockDelay = (lock: Lock): LockDelay | null => lock.extra?.delay ?? null;

/** The lock's extra, made now if it had none. */
export function lockExtraOf(lock: Lock): LockExtra {
  return (lock.extra ??= newLockExtra(1));
}

/** Adds `count` (±1) read holders. */
export function addReaders(lock: Lock, count: number): void {
  const extra = lockExtraOf(lock);
  extra.readers += count;
  dropIfEmpty(lock);
}

export function clearDelay(lock: Lock): void {
  const extra = lock.extra;
  if (extra === null) return;
  extra.delay = null;
  dropIfEmpty(lock);
}

/** Drops the lock's extra when nothing is left in it. */
export function dropIfEmpty(lock: Lock): void {
  const extra = lock.extra;
  if (extra === null) return;
  if (extra.limit === 1 && extra.holderMap === null && extra.readers === 0 && extra.delay === null && extra.waiterCount === 0) lock.extra = null;
}
