import { dropIfEmpty, lockExtraOf } from './lock-extra.js';
import type { Lock, Waiter } from './model.js';

/**
 * The order of a name's queue: priority descending, arrival ascending within one
 * priority. Waiter ids rise with arrival, so the same (priority, id) order holds on
 * every name at once: two waiters never stand in opposite orders on two names.
 */

/**
 * Whether an acquire of `priority` would stand first in the queue of `lock`: it
 * goes behind every waiter of equal or higher priority.
 */
export function wouldLead(lock: Lock, priority: number): boolean {
  return lock.waiterHead === null || lock.waiterHead.priority < priority;
}

/**
 * Links `waiter` into its name's queue after every waiter of equal or higher
 * priority (stable: FIFO within a priority). The walk starts at the tail, so a queue
 * of one priority costs one step; it never exceeds the queue, which waitersPerLockMax
 * bounds.
 */
export function linkByPriority(lock: Lock, waiter: Waiter): void {
  const queue = lockExtraOf(lock);
  let before = queue.waiterTail;
  while (before !== null && before.priority < waiter.priority) before = before.prev;
  const after = before === null ? queue.waiterHead : before.next;
  waiter.prev = before;
  waiter.next = after;
  if (before !== null) before.next = waiter;
  else queue.waiterHead = waiter;
  if (after !== null) after.prev = waiter;
  else queue.waiterTail = waiter;
  queue.waiterCount += 1;
}

/** Takes `waiter` out of its name's queue; it must be in it. */
export function unlinkWaiter(lock: Lock, waiter: Waiter): void {
  const queue = lock.extra!;
  if (waiter.prev !== null) waiter.prev.next = waiter.next;
  else queue.waiterHead = waiter.next;
  if (waiter.next !== null) waiter.next.prev = waiter.prev;
  else queue.waiterTail = waiter.prev;
  waiter.prev = waiter.next = null;
  queue.waiterCount -= 1;
  dropIfEmpty(lock);
}
