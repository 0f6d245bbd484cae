import type { Lease, Member, Waiter } from './model.js';

/**
 * What few leases have: an auth principal, ring members bound to them, acquires waiting
 * on them. Kept out of the lease itself, in an object made on first use: every field of
 * a V8 object costs 8 bytes, and the common lease (auth off, it carries holds only) keeps
 * a single null here. Once made it stays with the lease, as its sets do.
 */
export interface LeaseExtra {
  /** Name of the auth token that created the lease (auth on); see Lease.principal. */
  readonly principal: string | undefined;
  members: Set<Member> | null;
  waiters: Set<Waiter> | null;
}

export function newLeaseExtra(principal: string | undefined): LeaseExtra {
  return { principal, members: null, waiters: null };
}

export const leaseMembers = (lease: Lease): Set<Member> | null => lease.extra?.members ?? null;
export const leaseWaiters = (lease: Lease): Set<Waiter> | null => lease.extra?.waiters ?? null;

/** The lease's member set, made now if it had none. */
export function leaseMembersOf(lease: Lease): Set<Member> {
  const extra = (lease.extra ??= newLeaseExtra(undefined));
  return (extra.members ??= new Set());
}

/** The lease's waiter set, made now if it had none. */
export function leaseWaitersOf(lease: Lease): Set<Waiter> {
  const extra = (lease.extra ??= newLeaseExtra(undefined));
  return (extra.waiters ??= new Set());
}
