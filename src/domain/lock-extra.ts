import type { HoldSlot } from './hold-table.js';
import type { Lock, LockDelay } from './model.js';

/**
 * What few lock names have: a holder Map (a second holder joined: semaphore permits or
 * readers), read holders, a running lock-delay. Kept out of the lock itself, in an
 * object made only for the names that have one of them: every field of a V8 object
 * costs 8 bytes, and the common name (a mutex held in write mode) carries a single null
 * here instead of three fields. Dropped again once empty; a holder Map keeps it while
 * the name lives (lock-holders.ts).
 */
export interface LockExtra {
  /** Token -> the hold's row. */
  holderMap: Map<number, HoldSlot> | null;
  readers: number;
  delay: LockDelay | null;
}

export const lockHolderMap = (lock: Lock): Map<number, HoldSlot> | null => lock.extra?.holderMap ?? null;
/** Holders in read mode (0 on a name never read-locked): the rest hold in write mode. */
export const lockReaders = (lock: Lock): number => lock.extra?.readers ?? 0;
/** The running lock-delay: no grant is made until its deadline. Null when none runs. */
export const lockDelay = (lock: Lock): LockDelay | null => lock.extra?.delay ?? null;

/** The lock's extra, made now if it had none. */
export function lockExtraOf(lock: Lock): LockExtra {
  return (lock.extra ??= { holderMap: null, readers: 0, delay: null });
}

/** Adds `count` (±1) read holders. */
export function addReaders(lock: Lock, count: number): void {
  const extra = lockExtraOf(lock);
  extra.readers += count;
  dropIfEmpty(lock, extra);
}

export function clearDelay(lock: Lock): void {
  const extra = lock.extra;
  if (extra === null) return;
  extra.delay = null;
  dropIfEmpty(lock, extra);
}

function dropIfEmpty(lock: Lock, extra: LockExtra): void {
  if (extra.holderMap === null && extra.readers === 0 && extra.delay === null) lock.extra = null;
}
