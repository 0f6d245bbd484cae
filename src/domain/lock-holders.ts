import { lockExtraOf, lockHolderMap } from './lock-extra.js';
import type { Hold, Lock } from './model.js';

/**
 * The holders of a lock, by fencing token. Most names have one holder at a time (a
 * mutex), so the lone holder sits in a field of the lock and a Map (about 180 B) is
 * made only when a second holder joins: a semaphore's permits or a lock's readers. The
 * Map then stays until the name is dropped, so holders that come and go around two do
 * not rebuild it each time. Either way iteration is in grant order.
 */

export function holderOf(lock: Lock, token: number): Hold | undefined {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) return holderMap.get(token);
  const sole = lock.holder;
  return sole !== null && sole.token === token ? sole : undefined;
}

export function addHolder(lock: Lock, hold: Hold): void {
  lock.holderCount += 1;
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) {
    holderMap.set(hold.token, hold);
  } else if (lock.holder === null) {
    lock.holder = hold;
  } else {
    lockExtraOf(lock).holderMap = new Map([[lock.holder.token, lock.holder], [hold.token, hold]]);
    lock.holder = null;
  }
}

/** Takes `hold` out; it must be one of the lock's holders. */
export function removeHolder(lock: Lock, hold: Hold): void {
  lock.holderCount -= 1;
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) holderMap.delete(hold.token);
  else lock.holder = null;
}

/**
 * The holders in grant order, as a list of their own: the caller may end holds while
 * it walks it (an allocation, for views and for walks that may end holds).
 */
export function holderList(lock: Lock): Hold[] {
  const holderMap = lockHolderMap(lock);
  if (holderMap !== null) return [...holderMap.values()];
  return lock.holder === null ? [] : [lock.holder];
}
