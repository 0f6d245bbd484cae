import { type HoldSlot, type HoldTable, noHold } from './hold-table.js';
import { lockExtraOf, lockHolderMap } from './lock-extra.js';
import type { Lock } from './model.js';

/**
 * The holders of a lock, by fencing token. Most names have one holder at a time (a
 * mutex), so the lone holder's row sits in a field of the lock and a Map (about 180 B)
 * is made only when a second holder joins: a semaphore's permits or a lock's readers.
 * The Map then stays until the name is dropped, so holders that come and go around two
 * do not rebuild it each time. Either way iteration is in grant order.
 */

/** The hold of `token` on `lock`; `noHold` when it holds none. */
export function holderOf(holds: HoldTable, lock: Lock, token: number): HoldSlot {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) return holderMap.get(token) ?? noHold;
  const sole = lock.holder;
  return sole !== noHold && holds.token(sole) === token ? sole : noHold;
}

export function addHolder(holds: HoldTable, lock: Lock, slot: HoldSlot): void {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) {
    holderMap.set(holds.token(slot), slot);
  } else if (lock.holder === noHold) {
    lock.holder = slot;
  } else {
    lockExtraOf(lock).holderMap = new Map([[holds.token(lock.holder), lock.holder], [holds.token(slot), slot]]);
    lock.holder = noHold;
  }
}

/** Takes the hold of `token` out; it must be one of the lock's holders. */
export function removeHolder(lock: Lock, token: number): void {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) holderMap.delete(token);
  else lock.holder = noHold;
}

/**
 * The holders in grant order, as a list of their own: the caller may end holds while
 * it walks it (an allocation, for views and for walks that may end holds).
 */
export function holderList(lock: Lock): HoldSlot[] {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) return [...holderMap.values()];
  return lock.holder === noHold ? [] : [lock.holder];
}
