import type { DomainContext } from './context.js';
import { LockringError, assert, invalid, limitExceeded } from './errors.js';
import { type HoldRef, type LeaseEndedEvent, type MemberRef, copyHoldRefs, copyMemberRefs, noMemberRefs, principalField } from './events.js';
import { leaseMembers } from './lease-extra.js';
import { LeaseTable } from './lease-table.js';
import { Lease, type LeaseKind } from './model.js';

/** Why a lease ended. `released`: a hold's own lease, ended by releasing that hold. */
export type LeaseEnd = 'expired' | 'revoked' | 'released';

/** What hangs on leases; the state machine wires the lock and ring tables in. */
export interface LeaseDependents {
  /**
   * Ends every hold and wait on `lease`; returns the holds released, in a list lent
   * until the next call (the lease's end event carries it, then it is reused).
   */
  dropLocks(lease: Lease, reason: LeaseEnd): readonly HoldRef[];
  /** Removes every ring member bound to `lease`. */
  dropMembers(lease: Lease): readonly MemberRef[];
}

export interface LeaseEnding {
  readonly released: HoldRef[];
  readonly removed: MemberRef[];
}

/** The one `lease_ended` event of a Leases table, filled anew for every end (events are lent). */
type LeaseEndedSlot = { -readonly [K in keyof LeaseEndedEvent]: LeaseEndedEvent[K] };

export const leaseNotFound = (id: string): LockringError =>
  new LockringError('lease_not_found', `lease ${JSON.stringify(id)} does not exist or has ended`, { leaseId: id });

/** The lease table: grant, keepalive, revoke, expiry, sessions. */
export class Leases {
  readonly byId: LeaseTable;
  dependents: LeaseDependents | null = null;
  /**
   * Ending a lease allocates nothing: this event object is refilled and lent to the
   * sinks each time (an expiry storm ends 100,000 leases a second).
   */
  private readonly endedEvent: LeaseEndedSlot = {
    type: 'lease_ended', leaseId: '', kind: 'plain', reason: 'expired', released: [], removed: noMemberRefs, latenessMs: 0, principal: undefined,
  };
  /** True while `end` runs: the lent lists and event are in use. */
  private ending = false;
  /** Wall minus monotonic time as `expiresAt` shows it (see `wallOffsetMs`); NaN until first read. */
  private shownWallOffsetMs = Number.NaN;

  constructor(private readonly ctx: DomainContext) {
    this.byId = new LeaseTable(ctx.limits.leasesMax);
  }

  checkTtl(field: string, ttlMs: number): void {
    const { ttlMsMin, ttlMsMax } = this.ctx.limits;
    if (!Number.isInteger(ttlMs) || ttlMs < ttlMsMin || ttlMs > ttlMsMax) {
      throw invalid(`${field} must be an integer from ${ttlMsMin} to ${ttlMsMax}`, { field });
    }
  }

  /** Fails with limit_exceeded when one more lease would pass leasesMax. */
  checkRoom(): void {
    if (this.byId.size >= this.ctx.limits.leasesMax) throw limitExceeded('leasesMax', this.ctx.limits.leasesMax);
  }

  /** `principal`: the auth token's name that asks (auth on), recorded on the lease. */
  grant(ttlMs: number, kind: LeaseKind = 'plain', principal?: string): Lease {
    this.checkTtl('ttlMs', ttlMs);
    this.checkRoom();
    const lease = new Lease(this.ctx.newLeaseId(this.byId.nextSlot()), kind, ttlMs, principal, kind === 'session');
    assert(!this.byId.has(lease.id), 'lease id generated twice');
    this.byId.add(lease);
    if (!lease.attached) this.ctx.deadlines.schedule(lease, this.ctx.clock.monoMs() + ttlMs);
    this.ctx.emit({ type: 'lease_granted', leaseId: lease.id, ttlMs, kind, ...principalField(principal) });
    return lease;
  }

  /** True once the deadline has passed, whether or not the expiry has run yet. */
  isDead(lease: Lease): boolean {
    return lease.ended || (!lease.attached && this.ctx.deadlines.deadlineOf(lease) <= this.ctx.clock.monoMs());
  }

  /**
   * The lease `id` if it is alive. A lease past its deadline is expired here and
   * now, so nothing can revive it in the gap before the expiry loop runs.
   */
  live(id: string): Lease {
    const lease = this.byId.get(id);
    if (lease === undefined) throw leaseNotFound(id);
    if (this.isDead(lease)) {
      this.expire(lease);
      throw leaseNotFound(id);
    }
    return lease;
  }

  keepalive(id: string, ttlMs?: number): Lease {
    if (ttlMs !== undefined) this.checkTtl('ttlMs', ttlMs);
    const lease = this.live(id);
    if (ttlMs !== undefined && ttlMs !== lease.ttlMs) this.changeTtl(lease, ttlMs);
    if (!lease.attached) this.ctx.deadlines.schedule(lease, this.ctx.clock.monoMs() + lease.ttlMs);
    return lease;
  }

  private changeTtl(lease: Lease, ttlMs: number): void {
    lease.ttlMs = ttlMs;
    const principal = lease.principal === undefined ? {} : { principal: lease.principal };
    this.ctx.emit({ type: 'lease_ttl_changed', leaseId: lease.id, ttlMs, kind: lease.kind, ...principal });
  }

  /** Ends the lease `id` now; the answer gets its own copy of what ended with it. */
  revoke(id: string): LeaseEnding {
    this.end(this.live(id), 'revoked');
    // The lent lists stay as they are until the next lease ends: copy them now.
    const event = this.endedEvent;
    return { released: copyHoldRefs(event.released), removed: copyMemberRefs(event.removed) };
  }

  /**
   * Runs a due expiry (from the loop, which has popped its deadline, or found dead on
   * the way); returns the holds and members it ended.
   */
  expire(lease: Lease, deadlineMs: number = this.ctx.deadlines.deadlineOf(lease)): number {
    const latenessMs = Math.max(0, this.ctx.clock.monoMs() - deadlineMs);
    return this.end(lease, 'expired', latenessMs);
  }

  /** Ends a lease and everything on it, at once; returns how many holds and members ended with it. */
  end(lease: Lease, reason: LeaseEnd, latenessMs = 0): number {
    assert(!lease.ended, 'lease ended twice');
    assert(!this.ending, 'a lease ended while another one was ending');
    this.ending = true;
    try {
      lease.ended = true;
      this.byId.remove(lease);
      this.ctx.deadlines.remove(lease);
      const dependents = this.dependents!;
      const released = dependents.dropLocks(lease, reason);
      const removed = leaseMembers(lease) === null ? noMemberRefs : dependents.dropMembers(lease);
      const event = this.endedEvent;
      event.leaseId = lease.id;
      event.kind = lease.kind;
      event.reason = reason;
      event.released = released;
      event.removed = removed;
      event.latenessMs = latenessMs;
      event.principal = lease.principal;
      this.ctx.emit(event);
      return released.length + removed.length;
    } finally {
      this.ending = false;
    }
  }

  /** Wall-clock deadline for display; null while a socket keeps a session alive. */
  expiresAt(lease: Lease): number | null {
    if (lease.attached) return null;
    return Math.round(this.ctx.deadlines.deadlineOf(lease) + this.wallOffsetMs());
  }

  /**
   * Wall minus monotonic time, held steady: the wall clock counts whole milliseconds
   * and the monotonic one fractions, so their difference read afresh wobbles by up to
   * 1 ms, and one deadline would show as two `expiresAt` values from one read to the
   * next. It is read afresh only when the wall clock has really moved (a step of more
   * than 2 ms), which `expiresAt` then shows.
   */
  private wallOffsetMs(): number {
    const offsetMs = this.ctx.clock.wallMs() - this.ctx.clock.monoMs();
    if (!(Math.abs(offsetMs - this.shownWallOffsetMs) <= 2)) this.shownWallOffsetMs = offsetMs;
    return this.shownWallOffsetMs;
  }

  /** A session lease, kept alive by its socket until `detach`. */
  openSession(ttlMs: number, principal?: string): Lease {
    return this.grant(ttlMs, 'session', principal);
  }

  /** A socket takes over a session lease: it stops counting down. */
  attach(id: string): Lease {
    const lease = this.live(id);
    if (lease.kind !== 'session') {
      throw invalid(`lease ${JSON.stringify(id)} is not a session lease`, { field: 'leaseId' });
    }
    lease.attached = true;
    this.ctx.deadlines.remove(lease);
    return lease;
  }

  /** Its socket went away: the session lease now expires ttlMs from now. */
  detach(id: string): void {
    const lease = this.byId.get(id);
    if (lease === undefined || !lease.attached) return;
    lease.attached = false;
    this.ctx.deadlines.schedule(lease, this.ctx.clock.monoMs() + lease.ttlMs);
  }

  /** Restores a lease from the log with its full TTL counted from now (recovery). */
  restore(id: string, ttlMs: number, kind: LeaseKind, principal?: string): Lease {
    const lease = new Lease(id, kind, ttlMs, principal, false);
    assert(!this.byId.has(id), 'lease restored twice');
    this.byId.add(lease);
    this.ctx.deadlines.schedule(lease, this.ctx.clock.monoMs() + ttlMs);
    return lease;
  }
}
