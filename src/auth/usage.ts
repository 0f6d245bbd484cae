import { limitExceeded } from '../domain/errors.js';
import type { Limits } from '../limits.js';

/** What is counted per auth token, and the limit of each. */
const limitOf = {
  leases: 'leasesPerTokenMax',
  waiters: 'waitersPerTokenMax',
  sockets: 'wsSocketsPerTokenMax',
  watches: 'wsWatchesPerTokenMax',
} as const satisfies Record<string, keyof Limits>;

export type UsageKind = keyof typeof limitOf;

type Counts = Record<UsageKind, number>;

/**
 * How much of the server each auth token holds now: live leases it created, queued
 * acquires, open sockets, watches. With auth configured each is capped per token
 * (`leasesPerTokenMax`, ...), so one client cannot exhaust what everyone shares.
 * Entries go when they fall back to zero: the table is bounded by the token count.
 */
export class PrincipalUsage {
  private readonly counts = new Map<string, Counts>();

  constructor(private readonly limits: Limits) {}

  count(name: string, kind: UsageKind): number {
    return this.counts.get(name)?.[kind] ?? 0;
  }

  /** The limit's name when one more `kind` for `name` would pass it, else null. */
  full(name: string, kind: UsageKind): (typeof limitOf)[UsageKind] | null {
    const limit = limitOf[kind];
    return this.count(name, kind) >= this.limits[limit] ? limit : null;
  }

  /** Throws `429 limit_exceeded` naming the per-token limit when `name` is at it. */
  check(name: string, kind: UsageKind, counted?: (limit: string) => void): void {
    const limit = this.full(name, kind);
    if (limit === null) return;
    counted?.(limit);
    throw limitExceeded(limit, this.limits[limit]);
  }

  add(name: string, kind: UsageKind, delta: number): void {
    let counts = this.counts.get(name);
    if (counts === undefined) {
      if (delta <= 0) return;
      counts = { leases: 0, waiters: 0, sockets: 0, watches: 0 };
      this.counts.set(name, counts);
    }
    counts[kind] = Math.max(0, counts[kind] + delta);
    if (counts.leases === 0 && counts.waiters === 0 && counts.sockets === 0 && counts.watches === 0) this.counts.delete(name);
  }
}
