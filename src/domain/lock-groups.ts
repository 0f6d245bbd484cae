import type { DomainContext } from './context.js';
import { LockringError, invalid, limitExceeded } from './errors.js';
import type { HoldRef } from './events.js';
import { leaseNotFound, type Leases } from './leases.js';
import { lockDelay } from './lock-extra.js';
import { type HoldSlot, noHold } from './hold-table.js';
import type { AcquireRequest, HoldTerms } from './locks.js';
import type { Grant, GroupOutcome, Lease, Lock, LockMode, MultiGrant, Waiter, WaiterGroup } from './model.js';
import { checkName } from './names.js';

/** One name of a multi-lock: how it is held, as a single acquire would ask. */
export interface MultiAcquireItem {
  readonly name: string;
  readonly mode?: LockMode | undefined;
  readonly limit?: number | undefined;
}

/** The names, and the options a single acquire takes, shared by all of them. */
export interface MultiAcquireRequest extends Omit<AcquireRequest, 'name' | 'mode' | 'limit'> {
  readonly locks: readonly MultiAcquireItem[];
}

export type MultiAcquireResult = { readonly granted: MultiGrant } | { readonly group: WaiterGroup };

/** The steps of Locks that a multi-lock is made of: the same checks, grants and queues as one name's. */
export interface GroupHost {
  /** The Lock of a name (a lone hold's name gets one now); undefined when idle. */
  lockNamed(name: string): Lock | undefined;
  /** Names with holders, waiters or a lock-delay. */
  nameCount(): number;
  holdCount(): number;
  waiterCount(): number;
  checkRequest(request: AcquireRequest): void;
  leaseFor(request: AcquireRequest): Lease | null;
  reaped(name: string): Lock | undefined;
  checkLock(lock: Lock | undefined, request: AcquireRequest): void;
  checkHoldsOn(lease: Lease | null, more: number): void;
  grantable(lock: Lock, mode: LockMode): boolean;
  fits(lock: Lock, mode: LockMode): boolean;
  create(name: string, limit: number): Lock;
  grant(lock: Lock, lease: Lease, owner: string, mode: LockMode, terms: HoldTerms, waitedMs: number, principal: string | undefined): Grant;
  enqueue(lock: Lock, lease: Lease | null, request: AcquireRequest): Waiter;
  dequeue(waiter: Waiter): void;
  held(lock: Lock): LockringError;
  schedulePump(lock: Lock): void;
  holderSlot(name: string, token: number): HoldSlot;
  endIfPast(hold: HoldSlot): boolean;
  heldHold(name: string, token: number): HoldSlot;
  /** What a release of the hold answers, read before it ends. */
  holdView(hold: HoldSlot): Grant;
  /** Ends row `hold` as released, its own lease with it, if it is still the hold of `token`. */
  endHeld(hold: HoldSlot, token: number): void;
}

/** The fields of one name a single acquire's check reports: moved under `locks.<i>`. */
const itemFields: ReadonlySet<unknown> = new Set(['name', 'mode', 'limit']);

/**
 * Multi-locks: several names granted in one command, all or none, on one lease, with
 * a fencing token per name. One that cannot have every name now queues one waiter in
 * each name's FIFO queue, all in the same command, and is granted when it heads every
 * one of them and fits in each. Until then it holds the queues it heads: nobody
 * behind it passes (FIFO). That cannot deadlock: a group's entries join the tails of
 * their queues at one instant, so every queue agrees with one global order of
 * arrival, and the earliest waiter of all heads each of its queues; once its names
 * are free it is granted, then the next. No group holds a name while it waits.
 */
export class LockGroups {
  constructor(
    private readonly ctx: DomainContext,
    private readonly leases: Leases,
    private readonly host: GroupHost,
  ) {}

  acquire(request: MultiAcquireRequest): MultiAcquireResult {
    const items = this.checkItems(request);
    const lease = this.host.leaseFor(items[0]!);
    // Reaped first, all of them: ending a due lease on one name may free another.
    for (const item of items) this.host.reaped(item.name);
    if (lease !== null && lease.ended) throw leaseNotFound(lease.id);
    const locks = items.map((item) => this.host.lockNamed(item.name));
    items.forEach((item, i) => this.host.checkLock(locks[i], item));
    this.host.checkHoldsOn(lease, items.length);
    const blocked = locks.filter((lock, i): lock is Lock => lock !== undefined && !this.host.grantable(lock, items[i]!.mode ?? 'write'));
    if (blocked.length === 0) return { granted: this.grantNow(items, locks, lease, request) };
    if ((request.waitMs ?? 0) === 0) throw this.heldError(blocked);
    return { group: this.enqueue(items, locks, lease) };
  }

  /**
   * A group's entry heads a queue (Locks.pump): grants the group if it heads every
   * queue and fits in each name. True when the group left the queues (granted,
   * rejected, or its lease found dead), false when it must wait on.
   */
  pumpHead(group: WaiterGroup): boolean {
    if (group.lease !== null && this.leases.isDead(group.lease)) {
      this.leases.expire(group.lease);
      return true;
    }
    if (!group.members.every((member) => this.ready(member))) return false;
    this.leave(group);
    const outcome = this.grantWaiting(group);
    if (!outcome.ok) this.emitLeft(group, 'rejected');
    this.settle(group, outcome);
    return true;
  }

  cancel(group: WaiterGroup): void {
    if (!group.members[0]!.queued) return;
    this.leave(group);
    this.emitLeft(group, 'cancelled');
  }

  /** Its waitMs ran out: `lock_held`, naming the names that kept it waiting. */
  timeout(group: WaiterGroup): void {
    const blocked = group.members.filter((member) => !this.ready(member)).map((member) => member.lock);
    const error = this.heldError(blocked.length > 0 ? blocked : group.members.map((member) => member.lock));
    this.leave(group);
    this.emitLeft(group, 'timeout');
    this.settle(group, { ok: false, error });
  }

  /** The lease the group named is ending. */
  drop(group: WaiterGroup, lease: Lease): void {
    this.leave(group);
    this.emitLeft(group, 'lease_ended');
    this.settle(group, { ok: false, error: new LockringError('lease_not_found', `lease ${JSON.stringify(lease.id)} ended while waiting`, { leaseId: lease.id }) });
  }

  /** Releases every hold named or none; not_holder names the first (in request order) that is not held. */
  release(refs: readonly HoldRef[]): Grant[] {
    this.checkRefs(refs);
    // Due ends first, all of them: one may end a lease another hold of the list is on.
    for (const ref of refs) {
      const hold = this.host.holderSlot(ref.name, ref.token);
      if (hold !== noHold) this.host.endIfPast(hold);
    }
    const holds = refs.map((ref) => this.host.heldHold(ref.name, ref.token));
    const grants = holds.map((hold) => this.host.holdView(hold));
    // Releasing one may end another: a hold taken on the first one's own lease goes with it.
    holds.forEach((hold, i) => this.host.endHeld(hold, refs[i]!.token));
    return grants;
  }

  /** Every name valid, none twice, the shared options valid: before anything changes. */
  private checkItems(request: MultiAcquireRequest): AcquireRequest[] {
    const { locks: list, ...options } = request;
    this.checkCount('locks', list);
    const seen = new Set<string>();
    return list.map((item, i) => {
      const single: AcquireRequest = { ...options, name: item.name, mode: item.mode, limit: item.limit };
      try {
        this.host.checkRequest(single);
      } catch (error) {
        throw itemError(error, i);
      }
      if (seen.has(item.name)) throw invalid(`locks.${i}.name: ${JSON.stringify(item.name)} is named twice`, { field: `locks.${i}.name` });
      seen.add(item.name);
      return single;
    });
  }

  private checkRefs(refs: readonly HoldRef[]): void {
    this.checkCount('holds', refs);
    const seen = new Set<string>();
    refs.forEach((ref, i) => {
      checkName(`holds.${i}.name`, ref.name, this.ctx.limits.nameBytesMax);
      if (!Number.isSafeInteger(ref.token) || ref.token < 1) {
        throw invalid(`holds.${i}.token must be a positive integer`, { field: `holds.${i}.token` });
      }
      const key = `${ref.token}:${ref.name}`;
      if (seen.has(key)) throw invalid(`holds.${i} names the same hold twice`, { field: `holds.${i}` });
      seen.add(key);
    });
  }

  private checkCount(field: string, list: readonly unknown[]): void {
    const max = this.ctx.limits.namesPerAcquireMax;
    if (!Array.isArray(list) || list.length < 1 || list.length > max) {
      throw invalid(`${field} must hold 1 to ${max} entries (namesPerAcquireMax)`, { field });
    }
  }

  private grantNow(items: readonly AcquireRequest[], locks: readonly (Lock | undefined)[], lease: Lease | null, request: MultiAcquireRequest): MultiGrant {
    this.checkHoldRoom(items.length);
    this.checkLockRoom(locks);
    const holdLease = lease ?? this.leases.grant(request.ttlMs!, 'group', request.principal);
    // A multi-lock has no priority of its own: its holds rank as 0.
    const terms = { lockDelayMs: request.lockDelayMs ?? 0, maxHoldMs: request.maxHoldMs ?? 0, priority: 0 };
    const grants = items.map((item, i) => {
      const lock = locks[i] ?? this.host.create(item.name, item.limit ?? 1);
      return this.host.grant(lock, holdLease, item.owner ?? '', item.mode ?? 'write', terms, 0, item.principal);
    });
    return { leaseId: holdLease.id, grants };
  }

  private enqueue(items: readonly AcquireRequest[], locks: readonly (Lock | undefined)[], lease: Lease | null): WaiterGroup {
    const { waitersMax, waitersPerLockMax } = this.ctx.limits;
    for (const lock of locks) {
      if (lock !== undefined && lock.waiterCount >= waitersPerLockMax) throw limitExceeded('waitersPerLockMax', waitersPerLockMax);
    }
    if (this.host.waiterCount() + items.length > waitersMax) throw limitExceeded('waitersMax', waitersMax);
    this.checkLockRoom(locks);
    const members = items.map((item, i) => this.host.enqueue(locks[i] ?? this.host.create(item.name, item.limit ?? 1), lease, item));
    const group: WaiterGroup = { members, lease, onSettle: null };
    for (const member of members) member.group = group;
    return group;
  }

  /** Whether this entry heads its queue and a hold in its mode fits there now. */
  private ready(member: Waiter): boolean {
    const lock = member.lock;
    return lock.waiterHead === member && lockDelay(lock) === null && this.host.fits(lock, member.mode);
  }

  /** Takes every entry out of its queue; the queues behind them may move. */
  private leave(group: WaiterGroup): void {
    for (const member of group.members) {
      if (!member.queued) continue;
      this.host.dequeue(member);
      this.host.schedulePump(member.lock);
    }
  }

  private grantWaiting(group: WaiterGroup): GroupOutcome {
    const first = group.members[0]!;
    try {
      this.checkHoldRoom(group.members.length);
      this.host.checkHoldsOn(group.lease, group.members.length);
      const lease = group.lease ?? this.leases.grant(first.ttlMs, 'group', first.principal);
      const waitedMs = this.ctx.clock.monoMs() - first.enqueuedAtMonoMs;
      const terms = { lockDelayMs: first.lockDelayMs, maxHoldMs: first.maxHoldMs, priority: 0 };
      const grants = group.members.map((member) =>
        this.host.grant(member.lock, lease, member.owner, member.mode, terms, waitedMs, member.principal));
      return { ok: true, granted: { leaseId: lease.id, grants } };
    } catch (error) {
      if (error instanceof LockringError) return { ok: false, error };
      throw error;
    }
  }

  private checkHoldRoom(count: number): void {
    const { holdsMax } = this.ctx.limits;
    if (this.host.holdCount() + count > holdsMax) throw limitExceeded('holdsMax', holdsMax);
  }

  /** Room for the names that do not exist yet, checked before the first is made. */
  private checkLockRoom(locks: readonly (Lock | undefined)[]): void {
    const { locksMax } = this.ctx.limits;
    const missing = locks.filter((lock) => lock === undefined).length;
    if (this.host.nameCount() + missing > locksMax) throw limitExceeded('locksMax', locksMax);
  }

  private heldError(blocked: readonly Lock[]): LockringError {
    const names = blocked.map((lock) => lock.name);
    const locks = blocked.map((lock) => this.host.held(lock).details);
    return new LockringError('lock_held', `${names.map((name) => JSON.stringify(name)).join(', ')} ${names.length === 1 ? 'is' : 'are'} held`, {
      name: names[0], names, locks,
    });
  }

  private emitLeft(group: WaiterGroup, reason: 'timeout' | 'cancelled' | 'lease_ended' | 'rejected'): void {
    for (const member of group.members) this.ctx.emit({ type: 'waiter_left', name: member.lock.name, reason });
  }

  private settle(group: WaiterGroup, outcome: GroupOutcome): void {
    const onSettle = group.onSettle;
    group.onSettle = null;
    onSettle?.(outcome);
  }
}

/** A single acquire's complaint about `name`, `mode` or `limit`, moved to the item it is about. */
function itemError(error: unknown, index: number): unknown {
  if (!(error instanceof LockringError) || error.code !== 'invalid_request' || !itemFields.has(error.details['field'])) return error;
  const field = `locks.${index}.${String(error.details['field'])}`;
  return invalid(`${field}: ${error.message}`, { ...error.details, field });
}
