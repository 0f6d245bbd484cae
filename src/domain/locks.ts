import BTreeModule from 'sorted-btree';
import type { DomainContext } from './context.js';
import { EndedHolds } from './ended-holds.js';
import { LockringError, invalid, limitExceeded } from './errors.js';
import { type HoldRef, type LockReleasedEvent, maxHoldField, noHoldRefs, principalField, priorityField, readField } from './events.js';
import { newHoldExtra } from './hold-extra.js';
import { type HoldRecord, type HoldSlot, HoldTable, noHold } from './hold-table.js';
import { LentHoldRefs } from './lent-hold-refs.js';
import { leaseWaiters, leaseWaitersOf } from './lease-extra.js';
import { type LeaseEnd, Leases } from './leases.js';
import { addReaders, clearDelay, lockDelay, lockExtraOf, lockHolderMap, lockReaders } from './lock-extra.js';
import { addHolder, holderList, holderOf, removeHolder } from './lock-holders.js';
import { LockGroups, type MultiAcquireRequest, type MultiAcquireResult } from './lock-groups.js';
import { type LockEntry, type LockNames, lockNames } from './lock-names.js';
import { type Grant, type HoldEnd, type Lease, Lock, type LockMode, type MaxHold, type Waiter, type WaiterGroup, type WaiterOutcome, type YieldRequest } from './model.js';
import { checkLabel, checkName, compareUtf8 } from './names.js';
import { linkByPriority, unlinkWaiter, wouldLead } from './waiter-order.js';
import { YieldRequests } from './yield-requests.js';

// sorted-btree is CommonJS: Node hands its module.exports over as the default import.
const BTree = BTreeModule.default;

/** Names waiting for the ordered index at most: bounds the set and the work of one move. */
const unindexedMax = 4096;

export interface AcquireRequest {
  readonly name: string;
  readonly ttlMs?: number | undefined;
  readonly leaseId?: string | undefined;
  readonly owner?: string | undefined;
  readonly waitMs?: number | undefined;
  readonly limit?: number | undefined;
  readonly lockDelayMs?: number | undefined;
  /** `read` shares a limit-1 name with other readers; absent means `write` (exclusive). */
  readonly mode?: LockMode | undefined;
  /** The server ends the hold this long after its grant, whatever the keepalives. */
  readonly maxHoldMs?: number | undefined;
  /** Queue order, 0 to priorityMax (default 0): higher first, FIFO within one. */
  readonly priority?: number | undefined;
  /** A waiting acquire with a priority: asks lower-priority holds in its way to yield within this. */
  readonly yieldGraceMs?: number | undefined;
  /** The auth token's name that asks (auth on): recorded on the hold, waiter and new lease. */
  readonly principal?: string | undefined;
}

/** A hold as the log keeps it (recovery); no priority is priority 0. */
export type RestoredHold = Pick<HoldRecord, 'name' | 'mode' | 'token' | 'owner' | 'lease' | 'acquiredAtWallMs' | 'principal' | 'lockDelayMs'> & {
  readonly priority?: number;
};

export type AcquireResult = { readonly granted: Grant } | { readonly waiter: Waiter };

export interface HolderView {
  readonly token: number;
  readonly owner: string;
  readonly mode: LockMode;
  readonly leaseId: string;
  readonly acquiredAt: number;
  readonly expiresAt: number | null;
  readonly priority: number;
  /** Present while a yield request is pending: when the server ends the hold unless released first. */
  readonly yieldBy?: number;
  /** The auth token's name that acquired it; only when auth is on. */
  readonly principal?: string;
}

export interface LockView {
  readonly name: string;
  readonly limit: number;
  readonly holders: HolderView[];
  readonly waiters: number;
  readonly retryAfterMs?: number;
}

export interface LockPage {
  readonly locks: LockView[];
  readonly next?: string;
}

/** What a hold is granted with beyond its lease: lock-delay after an expiry, its longest life (0: none), its priority. */
export interface HoldTerms {
  readonly lockDelayMs: number;
  readonly maxHoldMs: number;
  readonly priority: number;
}

/** One acquire in a name's queue, as an inspect of the queue shows it. */
export interface WaiterView {
  /** 1 for the next to be granted. */
  readonly position: number;
  readonly owner: string;
  readonly mode: LockMode;
  /** The lease it named; null when it asked for a lease of its own (`ttlMs`). */
  readonly leaseId: string | null;
  readonly priority: number;
  readonly waitedMs: number;
  /** Until its `waitMs` runs out and it is answered `lock_held`. */
  readonly timesOutInMs: number;
  readonly principal?: string;
}

export interface WaiterPage {
  readonly name: string;
  /** Every waiter of the name, not only this page's. */
  readonly total: number;
  readonly waiters: WaiterView[];
  /** The position to pass as `after` for the next page; absent on the last page. */
  readonly next?: number;
}

const lockNotFound = (name: string): LockringError =>
  new LockringError('lock_not_found', `lock ${JSON.stringify(name)} does not exist`, { name });

const modeMismatch = (lock: Lock): LockringError =>
  new LockringError(
    'mode_mismatch',
    `lock ${JSON.stringify(lock.name)} is a semaphore (limit ${lock.limit}): mode "read" needs a lock of limit 1`,
    { name: lock.name, limit: lock.limit, mode: 'read' },
  );

/** An optional integer field within [min, max], or invalid_request naming it. */
function checkRange(field: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}`, { field });
  }
}

/**
 * Locks and semaphores: holders by token, a FIFO queue of waiters per name, lock-delay
 * after an expiry. A name exists only while it has holders, waiters or a running
 * lock-delay. Grants to waiters happen in `flush`, after a command's own changes, so
 * no grant is made in the middle of ending a lease.
 */
export class Locks {
  /** Every name with holders, waiters or a lock-delay: its Lock, or a lone hold's row (lock-names.ts). */
  private readonly entries = new Map<string, LockEntry>();
  /** The names, for tests and tools. */
  readonly byName: LockNames = lockNames(this.entries, (name) => this.lockNamed(name));
  /** Every live hold, a row each (hold-table.ts). */
  readonly holdTable = new HoldTable();
  /**
   * Names in order, for listings by prefix; a name joins it late (see `unindexed`). Keys
   * only: a B-tree whose values are all undefined shares one empty values array among
   * its leaves (8 B less per name); a listing finds the lock by name.
   */
  private readonly index = new BTree<string, undefined>(undefined, compareUtf8);
  /**
   * Names made since the index last took them in. Most names live for one acquire and
   * its release and leave from here, never costing the B-tree an insert and a delete
   * (about a tenth of a WebSocket lock cycle's CPU); a listing, or this set reaching
   * unindexedMax, moves them into the index first.
   */
  private readonly unindexed = new Set<string>();
  private readonly ended: EndedHolds;
  private readonly pending = new Set<Lock>();
  private waiterSeq = 0;
  /** Lent to the sinks by every hold's end (events are lent). */
  private readonly releasedEvent: { -readonly [K in keyof LockReleasedEvent]: LockReleasedEvent[K] } = {
    type: 'lock_released', name: '', token: 0, owner: '', leaseId: '', reason: 'released', heldMs: 0, principal: undefined, mode: undefined,
  };
  private readonly lentRefs = new LentHoldRefs();
  private readonly groups: LockGroups;
  private readonly yields: YieldRequests;
  holdCount = 0;
  waiterCount = 0;
  /**
   * Told the lock whose queue just changed (a waiter joined or left), inside the
   * command: a transport reads the queue after the command, the domain only says where.
   */
  onQueueChanged: ((lock: Lock) => void) | null = null;

  constructor(
    private readonly ctx: DomainContext,
    private readonly leases: Leases,
  ) {
    this.ended = new EndedHolds(ctx.limits.endedHoldsRemembered);
    // Multi-locks (lock-groups.ts) work through the same steps as a single acquire.
    this.groups = new LockGroups(ctx, leases, {
      lockNamed: (name) => this.lockNamed(name),
      nameCount: () => this.entries.size,
      holdCount: () => this.holdCount,
      waiterCount: () => this.waiterCount,
      checkRequest: (request) => this.checkRequest(request),
      leaseFor: (request) => this.leaseFor(request),
      reaped: (name) => this.reaped(name),
      checkLock: (lock, request) => this.checkLock(lock, request),
      checkHoldsOn: (lease, more) => this.checkHoldsOn(lease, more),
      grantable: (lock, mode) => this.grantable(lock, mode, 0),
      fits: (lock, mode) => this.fits(lock, mode),
      create: (name, limit) => this.create(name, limit),
      grant: (lock, lease, owner, mode, terms, waitedMs, principal) => this.grant(lock, lease, owner, mode, terms, waitedMs, principal),
      enqueue: (lock, lease, request) => this.enqueue(lock, lease, request),
      dequeue: (waiter) => this.dequeue(waiter),
      held: (lock) => this.held(lock),
      schedulePump: (lock) => this.schedulePump(lock),
      holderSlot: (name, token) => this.holderSlot(name, token),
      endIfPast: (hold) => this.endIfPast(hold),
      heldHold: (name, token) => this.heldHold(name, token),
      holdView: (hold) => this.grantView(hold, this.limitOf(hold)),
      endHeld: (hold, token) => this.endHeld(hold, token),
    });
    this.yields = new YieldRequests(ctx, this.holdTable);
  }

  acquire(request: AcquireRequest): AcquireResult {
    const { limits } = this.ctx;
    this.checkRequest(request);
    const lease = this.leaseFor(request);
    const entry = this.reapedEntry(request.name);
    this.checkLock(entry, request);
    const mode = request.mode ?? 'write';
    if (lease !== null) this.checkHoldsOn(lease);
    const priority = request.priority ?? 0;
    // A lone hold's name has no room for another hold of either mode.
    if (entry === undefined || (typeof entry !== 'number' && this.grantable(entry, mode, priority))) {
      if (this.holdCount >= limits.holdsMax) throw limitExceeded('holdsMax', limits.holdsMax);
      const limit = request.limit ?? 1;
      const target = entry !== undefined ? this.asLock(entry) : limit === 1 && mode === 'write' ? this.createLone(request.name) : this.create(request.name, limit);
      const holdLease = lease ?? this.leases.grant(request.ttlMs!, 'hold', request.principal);
      const terms = { lockDelayMs: request.lockDelayMs ?? 0, maxHoldMs: request.maxHoldMs ?? 0, priority };
      return { granted: this.grant(target, holdLease, request.owner ?? '', mode, terms, 0, request.principal) };
    }
    if ((request.waitMs ?? 0) === 0) throw this.held(entry);
    // A lone hold's name gets its Lock now: its queue starts.
    const lock = this.asLock(entry);
    const waiter = this.enqueue(lock, lease, request);
    this.yields.ask(lock, waiter);
    return { waiter };
  }

  release(name: string, token: number): Grant {
    return this.releaseHold(this.heldHold(name, token));
  }

  /**
   * Several names at once, all granted in this command or none (see lock-groups.ts):
   * granted now, or queued as one group of waiters.
   */
  acquireAll(request: MultiAcquireRequest): MultiAcquireResult {
    return this.groups.acquire(request);
  }

  /** Releases every hold named, or none: not_holder names the first that is not held. */
  releaseAll(holds: readonly HoldRef[]): Grant[] {
    return this.groups.release(holds);
  }

  /** Removes a waiting multi-lock whose client went away: every name's entry at once. */
  cancelAll(group: WaiterGroup): void {
    this.groups.cancel(group);
  }

  /** Whether `token` holds `name` now (in `mode`, when one is asked for). */
  check(name: string, token: number, mode?: LockMode): boolean {
    const hold = this.holderSlot(name, token);
    if (hold === noHold || (mode !== undefined && this.holdTable.mode(hold) !== mode)) return false;
    if (!this.endIfPast(hold)) return true;
    // A check may come outside `run`; nothing else would hand the freed permits on.
    this.flush();
    return false;
  }

  /** When `token`'s hold of `name` ends by a pending yield request (wall clock); undefined when none. */
  yieldBy(name: string, token: number): number | undefined {
    const holder = this.holderSlot(name, token);
    const request = holder === noHold ? null : this.holdTable.yieldRequest(holder);
    return request === null ? undefined : request.yieldByWallMs;
  }

  /**
   * A bounded hold reached its maxHoldMs (`max_hold`), or a hold asked to yield its
   * grace (`preempted`): it ends now, its own lease with it.
   */
  endBound(entry: MaxHold | YieldRequest): number {
    const hold = entry.hold;
    if (!this.isHeld(hold, entry.token)) return 0;
    const lease = this.holdTable.lease(hold);
    if (this.leases.isDead(lease)) {
      // Its lease ran out first (or in the same millisecond): that is the end to report.
      return this.leases.expire(lease);
    }
    this.end(hold, entry.type === 'max-hold' ? 'max_hold' : 'preempted');
    this.endOwnLease(lease);
    return 1;
  }

  inspect(name: string): LockView {
    const entry = this.reapedEntry(name);
    if (entry === undefined) throw lockNotFound(name);
    return this.view(entry);
  }

  list(prefix: string, after: string | undefined, pageMax: number): LockPage {
    checkRange('limit', pageMax, 1, this.ctx.limits.listPageMax);
    const locks: LockView[] = [];
    this.indexNames();
    let key = this.firstKey(prefix, after);
    for (; key !== undefined && key.startsWith(prefix); key = this.index.nextHigherKey(key)) {
      // Reaped before counted: a name whose holders all died is neither listed nor a
      // reason to promise another page.
      const entry = this.reapedEntry(key);
      if (entry === undefined) continue;
      if (locks.length === pageMax) return { locks, next: locks[pageMax - 1]!.name };
      locks.push(this.view(entry));
    }
    return { locks };
  }

  /**
   * A page of the queue of `name` in grant order, from the waiter after position
   * `after`. Positions are those of the moment of the read: the queue moves between
   * pages. Walking to `after` is bounded by waitersPerLockMax.
   */
  waiters(name: string, after: number, pageMax: number): WaiterPage {
    checkRange('limit', pageMax, 1, this.ctx.limits.listPageMax);
    checkRange('after', after, 0, this.ctx.limits.waitersPerLockMax);
    const entry = this.reapedEntry(name);
    if (entry === undefined) throw lockNotFound(name);
    if (typeof entry === 'number') return { name, total: 0, waiters: [] };
    const lock = entry;
    const now = this.ctx.clock.monoMs();
    const waiters: WaiterView[] = [];
    let position = 0;
    for (let waiter = lock.waiterHead; waiter !== null; waiter = waiter.next) {
      position += 1;
      if (position <= after) continue;
      if (waiters.length === pageMax) return { name, total: lock.waiterCount, waiters, next: position - 1 };
      waiters.push({
        position, owner: waiter.owner, mode: waiter.mode, leaseId: waiter.lease?.id ?? null, priority: waiter.priority,
        waitedMs: now - waiter.enqueuedAtMonoMs, timesOutInMs: Math.max(0, Math.ceil(this.ctx.deadlines.deadlineOf(waiter) - now)),
        ...principalField(waiter.principal),
      });
    }
    return { name, total: lock.waiterCount, waiters };
  }

  /** Removes a waiter whose client went away (HTTP close, socket close). */
  cancel(waiter: Waiter): void {
    if (!waiter.queued) return;
    if (waiter.group !== null) return this.groups.cancel(waiter.group);
    this.dequeue(waiter);
    this.ctx.emit({ type: 'waiter_left', name: waiter.lock.name, reason: 'cancelled' });
    this.schedulePump(waiter.lock);
  }

  /** A waiter's deadline passed: it gets `lock_held`, as a try-lock would. */
  timeout(waiter: Waiter): void {
    if (!waiter.queued) return;
    if (waiter.group !== null) return this.groups.timeout(waiter.group);
    this.dequeue(waiter);
    this.ctx.emit({ type: 'waiter_left', name: waiter.lock.name, reason: 'timeout' });
    this.settle(waiter, { ok: false, error: this.held(waiter.lock) });
    this.schedulePump(waiter.lock);
  }

  /** A lock-delay ran out: the queue may move again. */
  endDelay(lock: Lock): void {
    clearDelay(lock);
    this.ctx.emit({ type: 'lock_delay_ended', name: lock.name });
    this.schedulePump(lock);
  }

  /**
   * Ends every hold and wait on a lease that is ending (LeaseDependents). The list
   * of released holds is lent (see LentHoldRefs): nothing is allocated for a lease
   * with no waiters and a few holds, the common expiry.
   */
  dropLease(lease: Lease, reason: LeaseEnd): readonly HoldRef[] {
    const waiters = leaseWaiters(lease);
    if (waiters !== null && waiters.size > 0) this.dropWaiters(lease, waiters);
    if (lease.holdCount === 0) return noHoldRefs;
    const released = this.lentRefs.take(lease.holdCount);
    const holdEnd: HoldEnd = reason === 'released' ? 'revoked' : reason;
    let index = 0;
    const table = this.holdTable;
    // Ending a hold unlinks it: the walk takes the next one first.
    for (let hold = lease.firstHold, next = noHold; hold !== noHold; hold = next) {
      next = table.nextOnLease(hold);
      this.lentRefs.set(released, index++, table.name(hold), table.token(hold));
      this.end(hold, holdEnd);
    }
    return released;
  }

  private dropWaiters(lease: Lease, waiters: Set<Waiter>): void {
    for (const waiter of [...waiters]) {
      // A multi-lock leaves with its first entry met here, all its names at once.
      if (!waiter.queued) continue;
      if (waiter.group !== null) {
        this.groups.drop(waiter.group, lease);
        continue;
      }
      this.dequeue(waiter);
      this.ctx.emit({ type: 'waiter_left', name: waiter.lock.name, reason: 'lease_ended' });
      this.settle(waiter, { ok: false, error: new LockringError('lease_not_found', `lease ${JSON.stringify(lease.id)} ended while waiting`, { leaseId: lease.id }) });
      this.schedulePump(waiter.lock);
    }
  }

  /** Grants freed permits to waiters, oldest first; runs after every command. */
  flush(): void {
    for (const lock of this.pending) {
      this.pending.delete(lock);
      this.pump(lock);
    }
  }

  /**
   * Restores a hold from the log (recovery): same token, same lease. A bounded hold's
   * end is acquiredAt + maxHoldMs on the wall clock, the one clock that spans a
   * restart: what is left of it counts from now (none left: it ends at the first
   * tick), never more than maxHoldMs should the wall clock have stepped back.
   */
  restore(hold: RestoredHold, limit: number, maxHoldMs = 0): void {
    const existing = this.entries.get(hold.name);
    const lone = existing === undefined && limit === 1 && hold.mode === 'write';
    const lock = lone ? this.createLone(hold.name) : existing === undefined ? this.create(hold.name, limit) : this.asLock(existing);
    const nowMs = this.ctx.clock.monoMs();
    const extra = newHoldExtra(hold.lockDelayMs, hold.priority ?? 0, hold.principal);
    const restored = this.holdTable.add(lock, hold.lease, hold.token, hold.mode, hold.owner, hold.acquiredAtWallMs, extra);
    this.addHold(lock, restored, hold.mode);
    this.holdCount += 1;
    if (maxHoldMs === 0) return;
    const leftMs = Math.min(maxHoldMs, Math.max(0, hold.acquiredAtWallMs + maxHoldMs - this.ctx.clock.wallMs()));
    this.bound(restored, maxHoldMs, nowMs + leftMs);
  }

  /** Restores a pending yield request of a restored hold (recovery; see YieldRequests.restore). */
  restoreYield(name: string, token: number, graceMs: number, requestedAtWallMs: number): void {
    const hold = this.holderSlot(name, token);
    if (hold !== noHold && this.holdTable.yieldRequest(hold) === null) this.yields.restore(hold, graceMs, requestedAtWallMs);
  }

  /** Restores a running lock-delay from the log (recovery), `delayMs` from now. */
  /** Remembers how a hold ended before a restart or takeover (recovery), oldest first. */
  restoreEnded(token: number, name: string, reason: HoldEnd): void {
    if (!this.ended.has(token)) this.ended.remember(token, name, reason);
  }

  /** The holds remembered as ended, oldest first (what a snapshot keeps). */
  endedHolds(): IterableIterator<{ readonly token: number; readonly name: string; readonly reason: HoldEnd }> {
    return this.ended.entries();
  }

  restoreDelay(name: string, limit: number, delayMs: number): void {
    const lock = this.lockNamed(name) ?? this.create(name, limit);
    this.extendDelay(lock, this.ctx.clock.monoMs() + delayMs);
  }

  /** `more` holds on `lease` (one by default) must stay within holdsPerLeaseMax. */
  private checkHoldsOn(lease: Lease | null, more = 1): void {
    const { holdsPerLeaseMax } = this.ctx.limits;
    if ((lease?.holdCount ?? 0) + more > holdsPerLeaseMax) throw limitExceeded('holdsPerLeaseMax', holdsPerLeaseMax);
  }

  /** The name as it stands must take this acquire's limit and mode (a lone hold's name has limit 1). */
  private checkLock(entry: LockEntry | undefined, request: AcquireRequest): void {
    if (entry === undefined) return;
    const limit = typeof entry === 'number' ? 1 : entry.limit;
    if (request.limit !== undefined && request.limit !== limit) {
      throw new LockringError(
        'limit_mismatch',
        `lock ${JSON.stringify(request.name)} has limit ${limit}, not ${request.limit}`,
        { name: request.name, limit },
      );
    }
    if (request.mode === 'read' && typeof entry !== 'number' && entry.limit !== 1) throw modeMismatch(entry);
  }

  /** The hold of `token` on `name` as it stands, whether or not a deadline of it has passed (a copy). */
  holderOf(name: string, token: number): HoldRecord | undefined {
    const hold = this.holderSlot(name, token);
    return hold === noHold ? undefined : this.holdTable.record(hold);
  }

  /** The holders of `lock` in grant order (copies, for tests and tools; snapshots read the rows). */
  holdersOf(lock: Lock): HoldRecord[] {
    return holderList(lock).map((hold) => this.holdTable.record(hold));
  }

  /** The holds on `lease` in grant order (copies). */
  holdsOn(lease: Lease): HoldRecord[] {
    return this.holdTable.onLease(lease).map((hold) => this.holdTable.record(hold));
  }

  /** The row of the hold of `token` on `name`; noHold when there is none. */
  private holderSlot(name: string, token: number): HoldSlot {
    const entry = this.entries.get(name);
    if (entry === undefined) return noHold;
    if (typeof entry === 'number') return this.holdTable.token(entry) === token ? entry : noHold;
    return holderOf(this.holdTable, entry, token);
  }

  /** The hold of `token` on `name`, after ending it if a deadline passed; else not_holder. */
  private heldHold(name: string, token: number): HoldSlot {
    const hold = this.holderSlot(name, token);
    if (hold !== noHold) this.endIfPast(hold);
    // A bounded or preempted hold may have ended while its lease lives on.
    if (hold === noHold || !this.isHeld(hold, token)) {
      const reason = this.ended.reason(token, name) ?? 'unknown';
      throw new LockringError('not_holder', `token ${token} does not hold ${JSON.stringify(name)} (${reason})`, {
        name,
        token,
        reason,
      });
    }
    return hold;
  }

  private releaseHold(hold: HoldSlot): Grant {
    const view = this.grantView(hold, this.limitOf(hold));
    this.endHeld(hold, view.token);
    return view;
  }

  private endHeld(hold: HoldSlot, token: number): void {
    if (!this.isHeld(hold, token)) return;
    const lease = this.holdTable.lease(hold);
    this.end(hold, 'released');
    this.endOwnLease(lease);
  }

  /**
   * The lease an acquire with ttlMs brought ends with its hold: a single acquire's
   * (kind `hold`) with that hold, revoking any other hold taken on it by its id; a
   * multi-lock's (kind `group`) with the last of its holds.
   */
  private endOwnLease(lease: Lease): void {
    if (lease.ended) return;
    if (lease.kind === 'hold' || (lease.kind === 'group' && lease.holdCount === 0)) this.leases.end(lease, 'released');
  }

  /** Bad input gets a clear error and changes nothing, whichever transport sent it. */
  private checkRequest(request: AcquireRequest): void {
    const { limits } = this.ctx;
    checkName('name', request.name, limits.nameBytesMax);
    if (request.owner !== undefined) checkLabel('owner', request.owner, limits.ownerBytesMax);
    checkRange('limit', request.limit, 1, limits.permitsMax);
    checkRange('waitMs', request.waitMs, 0, limits.waitMsMax);
    checkRange('lockDelayMs', request.lockDelayMs, 0, limits.lockDelayMsMax);
    checkRange('maxHoldMs', request.maxHoldMs, 1, limits.maxHoldMsMax);
    checkRange('priority', request.priority, 0, limits.priorityMax);
    checkRange('yieldGraceMs', request.yieldGraceMs, 0, limits.yieldGraceMsMax);
    if (request.yieldGraceMs !== undefined && ((request.priority ?? 0) === 0 || (request.waitMs ?? 0) === 0)) {
      throw invalid('yieldGraceMs needs a priority above 0 and a waitMs above 0: only a waiting acquire with a priority asks holds to yield', {
        field: 'yieldGraceMs',
      });
    }
    if (request.mode !== undefined && request.mode !== 'read' && request.mode !== 'write') {
      throw invalid('mode must be "read" or "write"', { field: 'mode' });
    }
    if (request.mode === 'read' && request.limit !== undefined && request.limit !== 1) {
      throw invalid('mode "read" needs limit 1: a semaphore has no readers', { field: 'mode' });
    }
  }

  /** Where a listing page starts: the first name after `after`, within `prefix`. */
  private firstKey(prefix: string, after: string | undefined): string | undefined {
    if (after !== undefined && compareUtf8(after, prefix) >= 0) return this.index.nextHigherKey(after);
    return this.index.has(prefix) ? prefix : this.index.nextHigherKey(prefix);
  }

  private leaseFor(request: AcquireRequest): Lease | null {
    if ((request.ttlMs === undefined) === (request.leaseId === undefined)) {
      throw invalid('exactly one of ttlMs and leaseId is required', { field: 'ttlMs' });
    }
    if (request.leaseId !== undefined) return this.leases.live(request.leaseId);
    this.leases.checkTtl('ttlMs', request.ttlMs!);
    this.leases.checkRoom();
    return null;
  }

  /** The lock `name` after expiring holders whose deadlines have passed; a lone hold's name gets its Lock. */
  private reaped(name: string): Lock | undefined {
    const entry = this.reapedEntry(name);
    return entry === undefined ? undefined : this.asLock(entry);
  }

  /** The entry of `name` after expiring holders whose deadlines have passed. */
  private reapedEntry(name: string): LockEntry | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    if (typeof entry === 'number') {
      this.endIfPast(entry);
      this.flush();
      return this.entries.get(name);
    }
    const lock = entry;
    const holderMap = lockHolderMap(lock);
    if (holderMap !== null) {
      // Ending a holder while iterating its Map is safe: iteration goes on with the next.
      for (const hold of holderMap.values()) this.endIfPast(hold);
    } else if (lock.holder !== noHold) {
      this.endIfPast(lock.holder);
    }
    const delay = lockDelay(lock);
    if (delay !== null && this.ctx.deadlines.deadlineOf(delay) <= this.ctx.clock.monoMs()) {
      this.ctx.deadlines.remove(delay);
      this.endDelay(lock);
    }
    this.flush();
    return this.entries.get(name);
  }

  /** The Lock of `name`, made now for a lone hold; undefined when the name is idle. */
  private lockNamed(name: string): Lock | undefined {
    const entry = this.entries.get(name);
    return entry === undefined ? undefined : this.asLock(entry);
  }

  /** The entry's Lock: a lone hold's name gets one now, holding that hold. */
  private asLock(entry: LockEntry): Lock {
    if (typeof entry !== 'number') return entry;
    const lock = new Lock(this.holdTable.name(entry), 1);
    lock.holder = entry;
    this.entries.set(lock.name, lock);
    this.holdTable.setLock(entry, lock);
    return lock;
  }

  /** The limit of the name a hold holds (1 for a lone hold). */
  private limitOf(hold: HoldSlot): number {
    const lock = this.holdTable.lockOrName(hold);
    return typeof lock === 'string' ? 1 : lock.limit;
  }

  /** Every name's entry, for the snapshot walk and shutdown: nothing is made for a lone hold. */
  states(): IterableIterator<LockEntry> {
    return this.entries.values();
  }

  /** The holders of `name` in grant order (copies, for tests and tools); none when idle. */
  holdersNamed(name: string): HoldRecord[] {
    const entry = this.entries.get(name);
    if (entry === undefined) return [];
    if (typeof entry === 'number') return [this.holdTable.record(entry)];
    return this.holdersOf(entry);
  }

  /** Granted at once when nothing delays the name, it would stand first in the queue, and it fits. */
  private grantable(lock: Lock, mode: LockMode, priority: number): boolean {
    return lockDelay(lock) === null && wouldLead(lock, priority) && this.fits(lock, mode);
  }

  /**
   * Whether a hold in `mode` fits beside the current holders: a write takes one of the
   * name's permits, a read joins readers only (never a writer) up to readersPerLockMax.
   */
  private fits(lock: Lock, mode: LockMode): boolean {
    if (mode === 'write') return lock.holderCount < lock.limit;
    const readers = lockReaders(lock);
    return lock.holderCount === readers && readers < this.ctx.limits.readersPerLockMax;
  }

  private create(name: string, limit: number): Lock {
    this.checkNameRoom();
    const lock = new Lock(name, limit);
    this.entries.set(name, lock);
    this.addName(name);
    return lock;
  }

  /** A name for a lone hold: no Lock; the entry gets the hold's row once it is granted (addHold). */
  private createLone(name: string): string {
    this.checkNameRoom();
    return name;
  }

  private checkNameRoom(): void {
    const { locksMax } = this.ctx.limits;
    if (this.entries.size >= locksMax) throw limitExceeded('locksMax', locksMax);
  }

  private addName(name: string): void {
    this.unindexed.add(name);
    if (this.unindexed.size >= unindexedMax) this.indexNames();
  }

  /** Takes a name out of the map and the ordered index: it is idle. */
  private dropName(name: string): void {
    this.entries.delete(name);
    if (!this.unindexed.delete(name)) this.index.delete(name);
  }

  /** Adds a new hold's row to its name: a lone hold's entry, or one of a Lock's holders. */
  private addHold(lock: Lock | string, hold: HoldSlot, mode: LockMode): void {
    if (typeof lock === 'string') {
      this.entries.set(lock, hold);
      this.addName(lock);
      return;
    }
    addHolder(this.holdTable, lock, hold);
    if (mode === 'read') addReaders(lock, 1);
  }

  /** Names in the ordered index or waiting for it: always every name (the invariant tests check). */
  get orderedNameCount(): number {
    return this.index.size + this.unindexed.size;
  }

  /** Moves the names made since the last time into the ordered index. */
  private indexNames(): void {
    for (const name of this.unindexed) this.index.set(name, undefined);
    this.unindexed.clear();
  }

  /** Grants a hold of `lock` (a name alone: a lone hold, see createLone). */
  private grant(
    lock: Lock | string, lease: Lease, owner: string, mode: LockMode, terms: HoldTerms, waitedMs: number, principal: string | undefined,
  ): Grant {
    const token = this.ctx.fencing.next();
    const { lockDelayMs, maxHoldMs, priority } = terms;
    const acquiredAtWallMs = this.ctx.clock.wallMs();
    const hold = this.holdTable.add(lock, lease, token, mode, owner, acquiredAtWallMs, newHoldExtra(lockDelayMs, priority, principal));
    this.addHold(lock, hold, mode);
    this.holdCount += 1;
    if (maxHoldMs > 0) this.bound(hold, maxHoldMs, this.ctx.clock.monoMs() + maxHoldMs);
    const lone = typeof lock === 'string';
    const limit = lone ? 1 : lock.limit;
    this.ctx.emit({
      type: 'lock_acquired', name: lone ? lock : lock.name, token, owner, leaseId: lease.id, limit,
      lockDelayMs, acquiredAtWallMs, waitedMs, ...principalField(principal), ...readField(mode), ...maxHoldField(maxHoldMs),
      ...priorityField(priority),
    });
    return this.grantView(hold, limit);
  }

  /** Schedules the end of a bounded hold at monotonic `untilMs`. */
  private bound(hold: HoldSlot, maxHoldMs: number, untilMs: number): void {
    const entry: MaxHold = { type: 'max-hold', hold, token: this.holdTable.token(hold), maxHoldMs, heapIndex: -1 };
    this.holdTable.extraOf(hold).maxHold = entry;
    this.ctx.deadlines.schedule(entry, untilMs);
  }

  /** Whether row `hold` is still the hold of `token`, on a lease not ending. */
  private isHeld(hold: HoldSlot, token: number): boolean {
    return this.holdTable.holds(hold, token) && !this.holdTable.lease(hold).ended;
  }

  /**
   * Ends `hold` if a deadline of it has passed, whether or not the expiry loop got to
   * it yet: its lease's (expired), its maxHoldMs (max_hold) or its yield request's
   * (preempted). True when it ended.
   */
  private endIfPast(hold: HoldSlot): boolean {
    const lease = this.holdTable.lease(hold);
    if (this.leases.isDead(lease)) {
      this.leases.expire(lease);
      return true;
    }
    const bound = this.firstBound(hold);
    if (bound === null || this.ctx.deadlines.deadlineOf(bound) > this.ctx.clock.monoMs()) return false;
    this.ctx.deadlines.remove(bound);
    this.endBound(bound);
    return true;
  }

  /** The earlier of a hold's own deadlines (maxHoldMs, yield request); null when it has neither. */
  private firstBound(hold: HoldSlot): MaxHold | YieldRequest | null {
    const extra = this.holdTable.extra(hold);
    if (extra === null) return null;
    const { maxHold, yieldRequest } = extra;
    if (maxHold === null || yieldRequest === null) return maxHold ?? yieldRequest;
    const deadlines = this.ctx.deadlines;
    return deadlines.deadlineOf(yieldRequest) < deadlines.deadlineOf(maxHold) ? yieldRequest : maxHold;
  }

  private grantView(hold: HoldSlot, limit: number): Grant {
    const table = this.holdTable;
    const lease = table.lease(hold);
    const grant: Grant = {
      name: table.name(hold), token: table.token(hold), leaseId: lease.id, owner: table.owner(hold), limit, mode: table.mode(hold),
      ttlMs: lease.ttlMs, expiresAt: this.leases.expiresAt(lease), ...priorityField(table.priority(hold)),
    };
    const maxHold = table.maxHold(hold);
    return maxHold === null ? grant : { ...grant, maxHoldMs: maxHold.maxHoldMs };
  }

  private end(hold: HoldSlot, reason: HoldEnd): void {
    const table = this.holdTable;
    const lockOrName = table.lockOrName(hold);
    // A lone hold's name has no Lock: it is idle once the hold ends.
    const lock = typeof lockOrName === 'string' ? null : lockOrName;
    const name = table.name(hold);
    const token = table.token(hold);
    const mode = table.mode(hold);
    const extra = table.extra(hold);
    if (lock === null) this.dropName(name);
    else removeHolder(lock, token);
    if (extra !== null) {
      if (extra.maxHold !== null) this.ctx.deadlines.remove(extra.maxHold);
      if (extra.yieldRequest !== null) this.ctx.deadlines.remove(extra.yieldRequest);
    }
    if (mode === 'read') addReaders(lock!, -1);
    this.holdCount -= 1;
    this.ended.remember(token, name, reason);
    // Refilled and lent, not allocated: an expiry storm ends a hold per lease.
    const event = this.releasedEvent;
    event.name = name;
    event.token = token;
    event.owner = table.owner(hold);
    event.leaseId = table.lease(hold).id;
    event.reason = reason;
    // On the wall clock, as the hold keeps no monotonic start (a column more per hold):
    // a restored hold counts from its first grant, and a clock step shifts one sample.
    event.heldMs = Math.max(0, this.ctx.clock.wallMs() - table.acquiredAtWallMs(hold));
    event.principal = extra?.principal;
    event.mode = mode === 'read' ? 'read' : undefined;
    // The row goes before the event: what the sinks read, the machine no longer holds.
    table.remove(hold);
    this.ctx.emit(event);
    const lockDelayMs = extra?.lockDelayMs ?? 0;
    if (reason === 'expired' && lockDelayMs > 0) {
      // A lone hold's name comes back as a Lock for its delay (the entry went above).
      const delayed = lock ?? this.create(name, 1);
      this.startDelay(delayed, lockDelayMs);
      this.schedulePump(delayed);
    } else if (lock !== null) {
      this.schedulePump(lock);
    }
  }

  private startDelay(lock: Lock, delayMs: number): void {
    if (!this.extendDelay(lock, this.ctx.clock.monoMs() + delayMs)) return;
    this.ctx.emit({ type: 'lock_delay_started', name: lock.name, limit: lock.limit, delayMs });
  }

  /** Runs the lock-delay of `lock` until monotonic `untilMs`, unless one runs that long already; true when it was set. */
  private extendDelay(lock: Lock, untilMs: number): boolean {
    const extra = lockExtraOf(lock);
    if (extra.delay === null) extra.delay = { type: 'lock-delay', lock, heapIndex: -1 };
    else if (untilMs <= this.ctx.deadlines.deadlineOf(extra.delay)) return false;
    this.ctx.deadlines.schedule(extra.delay, untilMs);
    return true;
  }

  /** `lock_held` with the name's holders (a lone hold's name shows its one holder, limit 1). */
  private held(entry: LockEntry): LockringError {
    const table = this.holdTable;
    const lone = typeof entry === 'number';
    const lock = lone ? null : entry;
    const name = lone ? table.name(entry) : entry.name;
    const holders = (lone ? [entry] : holderList(entry)).map((hold) => ({
      token: table.token(hold),
      owner: table.owner(hold),
      mode: table.mode(hold),
      expiresAt: this.leases.expiresAt(table.lease(hold)),
      ...principalField(table.principal(hold)),
    }));
    const details: Record<string, unknown> = { name, holders, limit: lock === null ? 1 : lock.limit };
    const retryAfterMs = lock === null ? undefined : this.retryAfterMs(lock);
    if (retryAfterMs !== undefined) details['retryAfterMs'] = retryAfterMs;
    return new LockringError('lock_held', `lock ${JSON.stringify(name)} is held`, details);
  }

  private retryAfterMs(lock: Lock): number | undefined {
    return lockDelay(lock) === null ? undefined : this.delayLeftMs(lock);
  }

  /** What is left of the name's running lock-delay, in whole ms; 0 when none runs. */
  delayLeftMs(lock: Lock): number {
    const delay = lockDelay(lock);
    if (delay === null) return 0;
    return Math.max(0, Math.ceil(this.ctx.deadlines.deadlineOf(delay) - this.ctx.clock.monoMs()));
  }

  private enqueue(lock: Lock, lease: Lease | null, request: AcquireRequest): Waiter {
    const { waitersMax, waitersPerLockMax } = this.ctx.limits;
    if (lock.waiterCount >= waitersPerLockMax) throw limitExceeded('waitersPerLockMax', waitersPerLockMax);
    if (this.waiterCount >= waitersMax) throw limitExceeded('waitersMax', waitersMax);
    const now = this.ctx.clock.monoMs();
    const waiter: Waiter = {
      type: 'waiter', id: ++this.waiterSeq, lock, owner: request.owner ?? '', mode: request.mode ?? 'write', lease,
      ttlMs: request.ttlMs ?? 0, lockDelayMs: request.lockDelayMs ?? 0, maxHoldMs: request.maxHoldMs ?? 0, enqueuedAtMonoMs: now, principal: request.principal,
      priority: request.priority ?? 0, yieldGraceMs: request.yieldGraceMs ?? null,
      prev: null, next: null, queued: true, onSettle: null, group: null,
      heapIndex: -1,
    };
    linkByPriority(lock, waiter);
    this.waiterCount += 1;
    if (lease !== null) leaseWaitersOf(lease).add(waiter);
    this.ctx.deadlines.schedule(waiter, now + request.waitMs!);
    this.onQueueChanged?.(lock);
    return waiter;
  }

  private dequeue(waiter: Waiter): void {
    const lock = waiter.lock;
    unlinkWaiter(lock, waiter);
    waiter.queued = false;
    this.waiterCount -= 1;
    if (waiter.lease !== null) leaseWaiters(waiter.lease)?.delete(waiter);
    this.ctx.deadlines.remove(waiter);
    this.onQueueChanged?.(lock);
  }

  private settle(waiter: Waiter, outcome: WaiterOutcome): void {
    const onSettle = waiter.onSettle;
    waiter.onSettle = null;
    onSettle?.(outcome);
  }

  private schedulePump(lock: Lock): void {
    this.pending.add(lock);
  }

  /** Hands free permits to the oldest live waiters, then drops the name if idle. */
  private pump(lock: Lock): void {
    // FIFO across both modes: a reader behind a waiting writer waits for it, so readers
    // never starve a writer; readers at the head are granted together, one loop each.
    while (lock.waiterHead !== null && lockDelay(lock) === null && this.fits(lock, lock.waiterHead.mode)) {
      const waiter = lock.waiterHead;
      if (waiter.group !== null) {
        // A multi-lock goes only with all its names: until then it holds this queue (FIFO).
        if (!this.groups.pumpHead(waiter.group)) break;
        continue;
      }
      if (waiter.lease !== null && this.leases.isDead(waiter.lease)) {
        this.leases.expire(waiter.lease);
        continue;
      }
      this.dequeue(waiter);
      const outcome = this.grantWaiter(lock, waiter);
      if (!outcome.ok) this.ctx.emit({ type: 'waiter_left', name: lock.name, reason: 'rejected' });
      this.settle(waiter, outcome);
    }
    if (lock.holderCount === 0 && lock.waiterCount === 0 && lockDelay(lock) === null && this.entries.get(lock.name) === lock) {
      this.dropName(lock.name);
    }
  }

  private grantWaiter(lock: Lock, waiter: Waiter): WaiterOutcome {
    const { holdsMax } = this.ctx.limits;
    try {
      if (this.holdCount >= holdsMax) throw limitExceeded('holdsMax', holdsMax);
      if (waiter.lease !== null) this.checkHoldsOn(waiter.lease);
      const lease = waiter.lease ?? this.leases.grant(waiter.ttlMs, 'hold', waiter.principal);
      const waitedMs = this.ctx.clock.monoMs() - waiter.enqueuedAtMonoMs;
      const terms = { lockDelayMs: waiter.lockDelayMs, maxHoldMs: waiter.maxHoldMs, priority: waiter.priority };
      return { ok: true, grant: this.grant(lock, lease, waiter.owner, waiter.mode, terms, waitedMs, waiter.principal) };
    } catch (error) {
      if (error instanceof LockringError) return { ok: false, error };
      throw error;
    }
  }

  /** What a read of a name shows; a lone hold's name is shown without making its Lock. */
  private view(entry: LockEntry): LockView {
    if (typeof entry === 'number') return { name: this.holdTable.name(entry), limit: 1, holders: this.holderViews([entry]), waiters: 0 };
    const lock = entry;
    const view: LockView = { name: lock.name, limit: lock.limit, holders: this.holderViews(holderList(lock)), waiters: lock.waiterCount };
    const retryAfterMs = this.retryAfterMs(lock);
    return retryAfterMs === undefined ? view : { ...view, retryAfterMs };
  }

  private holderViews(holds: readonly HoldSlot[]): HolderView[] {
    const table = this.holdTable;
    return holds.map((hold) => {
      const yieldRequest = table.yieldRequest(hold);
      const lease = table.lease(hold);
      return {
        token: table.token(hold),
        owner: table.owner(hold),
        mode: table.mode(hold),
        leaseId: lease.id,
        acquiredAt: table.acquiredAtWallMs(hold),
        expiresAt: this.leases.expiresAt(lease),
        priority: table.priority(hold),
        ...(yieldRequest === null ? {} : { yieldBy: yieldRequest.yieldByWallMs }),
        ...principalField(table.principal(hold)),
      };
    });
  }
}
