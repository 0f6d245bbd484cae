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
  let before = lock.waiterTail;
  while (before !== null && before.priority < waiter.priority) before = before.prev;
  const after = before === null ? lock.waiterHead : before.next;
  waiter.prev = before;
  waiter.next = after;
  if (before !== null) before.next = waiter;
  else lock.waiterHead = waiter;
  if (after !== null) after.prev = waiter;
  else lock.waiterTail = waiter;
}
