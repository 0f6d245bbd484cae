import type { DeadlineEntry } from './deadline-queue.js';
import { type HoldSlot, noHold } from './hold-table.js';
import type { LockringError } from './errors.js';
import { type LeaseExtra, newLeaseExtra } from './lease-extra.js';
import { type LockExtra, newLockExtra } from './lock-extra.js';
import type { Ring } from './ring.js';

/**
 * The records the state machine keeps. They reference each other directly
 * (a lease knows its holds, a hold its lease) so that ending a lease touches only
 * what hangs on it. Holds, the most numerous, are rows of a table (hold-table.ts)
 * rather than objects.
 */

/**
 * `plain` from a grant, `session` kept alive by a socket, `hold` made by an acquire with
 * ttlMs (it ends with the release of that hold, taking any other hold on it along),
 * `group` made by a multi-lock acquire with ttlMs (it ends with the last of its holds).
 */
export type LeaseKind = 'plain' | 'session' | 'hold' | 'group';

const leaseKinds: readonly LeaseKind[] = ['plain', 'session', 'hold', 'group'];
const kindMask = 3;
const attachedBit = 4;
const endedBit = 8;
const flagBits = 15;
/** The hold count sits above the kind and flags: at most holdsPerLeaseMax, which limits.ts keeps below 2^26. */
const holdCountShift = 4;

/**
 * A lease. A class rather than a literal so that what every lease has alike costs no
 * field: its `type` is on the prototype, its kind, two flags and hold count share one
 * small integer (`bits`), read through accessors, and its auth principal (auth on) sits
 * in the extra it shares with the few leases that carry ring members or waiters. Each
 * field of a V8 object is 8 bytes on 64-bit Node; a lease has 8 (it had 13).
 */
export class Lease implements DeadlineEntry {
  /** Its slot in the lease table (lease-table.ts), named by its id; -1 when the id names none. */
  slot = -1;
  /** The holds on this lease, in grant order: a list through the hold table's rows (hold-table.ts); noHold when none. */
  firstHold: HoldSlot = noHold;
  lastHold: HoldSlot = noHold;
  /** Its principal, ring members bound to it and acquires waiting on it; null while it has none (lease-extra.ts). */
  extra: LeaseExtra | null = null;
  heapIndex = -1;
  /** The kind's index in leaseKinds, attachedBit and endedBit, and above them the hold count. */
  private bits: number;

  constructor(
    readonly id: string,
    kind: LeaseKind,
    public ttlMs: number,
    principal: string | undefined,
    attached: boolean,
  ) {
    this.bits = leaseKinds.indexOf(kind) | (attached ? attachedBit : 0);
    if (principal !== undefined) this.extra = newLeaseExtra(principal);
  }

  /**
   * Name of the auth token that created the lease, when auth is on: only it (or an
   * unrestricted admin) may use the lease. A plain label to the domain.
   */
  get principal(): string | undefined {
    return this.extra === null ? undefined : this.extra.principal;
  }

  get type(): 'lease' {
    return 'lease';
  }

  get kind(): LeaseKind {
    return leaseKinds[this.bits & kindMask]!;
  }

  /** A session lease held by a live socket does not count down. */
  get attached(): boolean {
    return (this.bits & attachedBit) !== 0;
  }

  set attached(on: boolean) {
    this.bits = on ? this.bits | attachedBit : this.bits & ~attachedBit;
  }

  get ended(): boolean {
    return (this.bits & endedBit) !== 0;
  }

  set ended(on: boolean) {
    this.bits = on ? this.bits | endedBit : this.bits & ~endedBit;
  }

  /** How many holds are on the lease (the list from firstHold). */
  get holdCount(): number {
    return this.bits >>> holdCountShift;
  }

  set holdCount(count: number) {
    this.bits = (this.bits & flagBits) | (count << holdCountShift);
  }
}

/**
 * How a hold shares its name. `write` is exclusive of the other holders' permits (every
 * acquire that names no mode); `read` shares a limit-1 name with other readers only.
 */
export type LockMode = 'read' | 'write';

/**
 * The end of a bounded hold (acquire with maxHoldMs): the server ends the hold when it
 * passes, whatever the keepalives. An entry of the deadline queue of its own, made only
 * for holds that ask for it.
 */
export interface MaxHold extends DeadlineEntry {
  readonly type: 'max-hold';
  /** The hold's row, and its token: the row names this hold only while `HoldTable.holds(hold, token)`. */
  readonly hold: HoldSlot;
  readonly token: number;
  readonly maxHoldMs: number;
}

/**
 * A higher-priority waiter asked the hold to yield: unless released first, the server
 * ends it (reason `preempted`) when the grace runs out. An entry of the deadline queue
 * of its own, made only for holds that were asked.
 */
export interface YieldRequest extends DeadlineEntry {
  readonly type: 'yield';
  /** The hold's row, and its token (see MaxHold). */
  readonly hold: HoldSlot;
  readonly token: number;
  readonly graceMs: number;
  /** When it was asked, on the wall clock: recovery counts the grace from it. */
  readonly requestedAtWallMs: number;
  /** When it ends the hold, on the wall clock, fixed when made: every view shows the same instant. */
  readonly yieldByWallMs: number;
}

/** How a hold ended: what `not_holder` reports and what watchers see. */
export type HoldEnd = 'released' | 'expired' | 'revoked' | 'max_hold' | 'preempted';

/**
 * A name with holders, waiters or a running lock-delay. The common one (a mutex with
 * one holder and nobody waiting) is three fields: its name, its lone holder's row and a
 * null `extra`. A limit other than 1, a holder Map, read holders, a lock-delay and a
 * queue of waiters live in the extra (lock-extra.ts), made only for the names that
 * have one of them; the accessors read through it.
 */
export class Lock {
  /** The lone holder's row (lock-holders.ts); noHold when there is none, or when the holders are in the extra's Map. */
  holder: HoldSlot = noHold;
  extra: LockExtra | null = null;

  constructor(
    readonly name: string,
    limit: number,
  ) {
    if (limit !== 1) this.extra = newLockExtra(limit);
  }

  get limit(): number {
    return this.extra === null ? 1 : this.extra.limit;
  }

  get holderCount(): number {
    const holderMap = this.extra === null ? null : this.extra.holderMap;
    if (holderMap !== null) return holderMap.size;
    return this.holder === noHold ? 0 : 1;
  }

  /** The queue, in grant order (waiter-order.ts). */
  get waiterHead(): Waiter | null {
    return this.extra === null ? null : this.extra.waiterHead;
  }

  get waiterCount(): number {
    return this.extra === null ? 0 : this.extra.waiterCount;
  }
}

/**
 * A lock-delay running on a name after a hold of it expired: an entry of the deadline
 * heap of its own, made only for names that have one, so that the others carry no
 * deadline fields.
 */
export interface LockDelay extends DeadlineEntry {
  readonly type: 'lock-delay';
  readonly lock: Lock;
}

export interface Grant {
  readonly name: string;
  readonly token: number;
  readonly leaseId: string;
  readonly owner: string;
  readonly limit: number;
  readonly mode: LockMode;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
  /** Present when the acquire bounded the hold. */
  readonly maxHoldMs?: number;
  /** Present when the acquire gave a priority above 0. */
  readonly priority?: number;
}

export type WaiterOutcome =
  | { readonly ok: true; readonly grant: Grant }
  | { readonly ok: false; readonly error: LockringError };

export interface Waiter extends DeadlineEntry {
  readonly type: 'waiter';
  readonly id: number;
  readonly lock: Lock;
  readonly owner: string;
  readonly mode: LockMode;
  /** Set when the waiter names a lease; otherwise `ttlMs` makes one at grant. */
  readonly lease: Lease | null;
  readonly ttlMs: number;
  readonly lockDelayMs: number;
  /** 0: the hold it gets is unbounded. */
  readonly maxHoldMs: number;
  /** Queue order: higher first, arrival order within one priority. */
  readonly priority: number;
  /** The grace it gives the lower-priority holds it asks to yield; null: it asks none. */
  readonly yieldGraceMs: number | null;
  readonly enqueuedAtMonoMs: number;
  /** Name of the auth token that queued this acquire (auth on). */
  readonly principal?: string | undefined;
  prev: Waiter | null;
  next: Waiter | null;
  queued: boolean;
  /** Set by the transport; called exactly once when the wait ends. */
  onSettle: ((outcome: WaiterOutcome) => void) | null;
  /** The multi-lock this entry is one name of; null for a single acquire. */
  group: WaiterGroup | null;
}

/** A multi-lock granted: one lease, one hold (and fencing token) per name, in request order. */
export interface MultiGrant {
  readonly leaseId: string;
  readonly grants: readonly Grant[];
}

export type GroupOutcome =
  | { readonly ok: true; readonly granted: MultiGrant }
  | { readonly ok: false; readonly error: LockringError };

/**
 * A waiting multi-lock: one waiter per name, all queued in the same command, granted
 * together (in `flush`, as single waiters) once each is at the head of its queue and
 * fits, or all taken out together (timeout, cancel, the lease's end).
 */
export interface WaiterGroup {
  /** In request order; their `onSettle` stays null: the group settles once. */
  readonly members: readonly Waiter[];
  readonly lease: Lease | null;
  /** Set by the transport; called exactly once when the wait ends. */
  onSettle: ((outcome: GroupOutcome) => void) | null;
}

export interface Member {
  readonly ring: Ring;
  readonly id: string;
  weight: number;
  meta: Readonly<Record<string, unknown>>;
  metaJson: string;
  lease: Lease | null;
}

export type DeadlineItem = Lease | Waiter | LockDelay | MaxHold | YieldRequest;
