import type { Hold, Lease } from './model.js';

/**
 * The holds on a lease, as a list threaded through the holds themselves (each hold
 * knows the one before and after it on its lease). A lease with one hold, the common
 * case of `acquire {ttlMs}`, then costs two fields instead of a Set (about 140 B), and
 * a shared lease's holds cost two fields each instead of a Set entry. Order is grant
 * order; taking a hold out is O(1).
 */

export function linkHold(lease: Lease, hold: Hold): void {
  hold.leasePrev = lease.lastHold;
  hold.leaseNext = null;
  if (lease.lastHold === null) lease.firstHold = hold;
  else lease.lastHold.leaseNext = hold;
  lease.lastHold = hold;
  lease.holdCount += 1;
}

/** Takes `hold` out of its lease's list; it must be on it. */
export function unlinkHold(lease: Lease, hold: Hold): void {
  if (hold.leasePrev === null) lease.firstHold = hold.leaseNext;
  else hold.leasePrev.leaseNext = hold.leaseNext;
  if (hold.leaseNext === null) lease.lastHold = hold.leasePrev;
  else hold.leaseNext.leasePrev = hold.leasePrev;
  hold.leasePrev = hold.leaseNext = null;
  lease.holdCount -= 1;
}

/** The holds on `lease` in grant order, as a list of their own. */
export function holdsOnLease(lease: Lease): Hold[] {
  const list: Hold[] = [];
  for (let hold = lease.firstHold; hold !== null; hold = hold.leaseNext) list.push(hold);
  return list;
}
