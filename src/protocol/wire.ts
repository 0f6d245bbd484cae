/**
 * The shapes on the wire, as the SDK sends and receives them: plain types with no
 * import, so that the client package (@lockring/client) compiles without any server
 * module. The WebSocket protocol takes its results and pushes from here; the views
 * the domain and the service declare themselves are pinned to these by
 * test/client/wire-types.test.ts (drift on either side fails the type check).
 */

/** `write` (the default) is exclusive; `read` shares a lock (limit 1) with other readers. */
export type LockMode = 'read' | 'write';

export interface HoldRef {
  readonly name: string;
  readonly token: number;
}

export interface MemberRef {
  readonly ring: string;
  readonly node: string;
}

/** A lock or semaphore permit as granted. */
export interface Grant {
  readonly name: string;
  readonly token: number;
  readonly leaseId: string;
  readonly owner: string;
  readonly limit: number;
  readonly mode: LockMode;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
  /** Present when the acquire bounded the hold: the server ends it this long after the grant. */
  readonly maxHoldMs?: number;
  /** Present when the acquire gave a priority above 0. */
  readonly priority?: number;
}

/** One name of a multi-lock acquire. */
export interface MultiLockItem {
  name: string;
  mode?: LockMode;
  limit?: number;
}

/** A multi-lock as granted: one lease, one grant (and fencing token) per name, in request order. */
export interface MultiGrant {
  readonly leaseId: string;
  readonly grants: readonly Grant[];
}

export interface HolderView {
  readonly token: number;
  readonly owner: string;
  readonly mode: LockMode;
  readonly leaseId: string;
  readonly acquiredAt: number;
  readonly expiresAt: number | null;
  /** The acquire's priority (0 by default). */
  readonly priority: number;
  /** Present while a yield request is pending: when the server ends the hold unless released first (epoch ms). */
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

/** One acquire in a name's queue (`GET /v1/locks/{name}/waiters`). */
export interface WaiterView {
  /** 1 for the next to be granted. */
  readonly position: number;
  readonly owner: string;
  readonly mode: LockMode;
  /** The lease it named; null when it asked for a lease of its own (`ttlMs`). */
  readonly leaseId: string | null;
  /** Higher priorities are queued first; FIFO within one. */
  readonly priority: number;
  readonly waitedMs: number;
  readonly timesOutInMs: number;
  readonly principal?: string;
}

export interface WaiterPage {
  readonly name: string;
  readonly total: number;
  readonly waiters: WaiterView[];
  readonly next?: number;
}

export interface LockPage {
  readonly locks: LockView[];
  readonly next?: string;
}

export interface LeaseDetail {
  readonly id: string;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
  readonly locks: HoldRef[];
  readonly members: MemberRef[];
}

export interface RingSummary {
  readonly name: string;
  readonly vnodes: number;
  readonly version: number;
  /** How keys are placed: the contract's xxHash placement, or libmemcached's ketama. */
  readonly algorithm: 'xxhash' | 'ketama';
}

export interface RingDetail extends RingSummary {
  readonly fingerprint: string;
  readonly nodes: { id: string; weight: number; meta: Readonly<Record<string, unknown>>; leaseId: string | null }[];
}

/** The arguments of every WebSocket op, as a client writes them (no `id`, no `op`). */
export interface OpArgsTable {
  'session.open': { ttlMs: number };
  'session.resume': { leaseId: string };
  'lease.grant': { ttlMs: number };
  'lease.keepalive': { leaseId: string; ttlMs?: number };
  'lease.revoke': { leaseId: string };
  'lock.acquire': {
    name: string; ttlMs?: number; leaseId?: string; owner?: string; waitMs?: number; limit?: number; lockDelayMs?: number; mode?: LockMode;
    maxHoldMs?: number; priority?: number; yieldGraceMs?: number;
    /** WebSocket only: with waitMs, the acquire is pushed its place in the queue while it waits. */
    positions?: boolean;
  };
  'lock.release': { name: string; token: number };
  'lock.check': { name: string; token: number; mode?: LockMode };
  'multilock.acquire': {
    locks: MultiLockItem[]; ttlMs?: number; leaseId?: string; owner?: string; waitMs?: number; lockDelayMs?: number; maxHoldMs?: number;
    /** WebSocket only: with waitMs, a position push per name as each of its queues moves. */
    positions?: boolean;
  };
  'multilock.release': { holds: HoldRef[] };
  'ring.lookup': { ring: string; key?: string; keys?: string[]; n?: number; version?: number; previous?: number };
  'ring.diff': { ring: string; from: number; to: number; n?: number; start?: number; limit?: number };
  watch: { topic: string; name?: string; prefix?: string; ring?: string };
  unwatch: { watchId: number };
  cancel: { requestId: unknown };
  auth: { token: string };
}

export type OpName = keyof OpArgsTable;
export type OpArgs<Op extends OpName> = OpArgsTable[Op];

export interface LeaseResult {
  readonly leaseId: string;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
}

export interface LookupOneResult {
  readonly ring: string;
  readonly version: number;
  readonly key: string;
  readonly nodes: string[];
  /** With `previous`: the owners at that version (handover). */
  readonly previous?: { readonly version: number; readonly nodes: string[] };
}

export interface LookupManyResult {
  readonly ring: string;
  readonly version: number;
  readonly nodes: string[][];
  readonly previous?: { readonly version: number; readonly nodes: string[][] };
}

/** A hash range [start, end] (inclusive) whose owners differ between two versions. */
export interface MovedRange {
  readonly start: number;
  readonly end: number;
  readonly before: string[];
  readonly after: string[];
}

export interface RingDiffBody {
  readonly ring: string;
  /** The ring's current version (from and to may both be older). */
  readonly version: number;
  readonly from: number;
  readonly to: number;
  readonly n: number;
  readonly ranges: MovedRange[];
  readonly next?: number;
}

/** Whether a token holds a name now; `yieldBy` while the hold was asked to yield (epoch ms). */
export interface CheckResult {
  readonly name: string;
  readonly token: number;
  readonly held: boolean;
  readonly yieldBy?: number;
}

/** What each op answers, beside `id` and `ok`. */
export interface OpResults {
  'session.open': LeaseResult;
  'session.resume': LeaseResult;
  'lease.grant': LeaseResult;
  'lease.keepalive': LeaseResult;
  'lease.revoke': { readonly leaseId: string; readonly released: HoldRef[]; readonly removed: MemberRef[] };
  'lock.acquire': Grant;
  'lock.release': { readonly name: string; readonly token: number; readonly released: true };
  'lock.check': CheckResult;
  'multilock.acquire': MultiGrant;
  'multilock.release': { readonly released: HoldRef[] };
  'ring.lookup': LookupOneResult | LookupManyResult;
  'ring.diff': RingDiffBody;
  watch: { readonly watchId: number };
  unwatch: Record<string, never>;
  cancel: { readonly cancelled: boolean };
  /** The token's name; null when the server runs without auth. */
  auth: { readonly name: string | null };
}

export type LockEventType = 'acquired' | 'released' | 'expired' | 'revoked' | 'max_hold' | 'preempted' | 'yield_requested';

export interface LockPush {
  readonly event: 'lock';
  readonly watchId: number;
  readonly type: LockEventType;
  readonly name: string;
  readonly token: number;
  readonly owner: string;
  /** Present for a read hold only. */
  readonly mode?: 'read';
  /** Present on `yield_requested`: when the server ends the hold unless released first (epoch ms). */
  readonly yieldBy?: number;
}

export interface RingPush {
  readonly event: 'ring';
  readonly watchId: number;
  readonly ring: string;
  readonly type: 'changed' | 'deleted';
  readonly version: number;
  readonly nodes: { id: string; weight: number }[];
}

export interface LeaseExpiredPush {
  readonly event: 'lease_expired';
  readonly leaseId: string;
  readonly reason: 'expired' | 'revoked';
  readonly released: HoldRef[];
}

/**
 * A hold ended while its lease may live on: it reached its maxHoldMs (`max_hold`), or
 * the grace of a yield request ran out (`preempted`). Sent to the sockets that hear
 * about its lease.
 */
export interface HoldEndedPush {
  readonly event: 'hold_ended';
  readonly leaseId: string;
  readonly name: string;
  readonly token: number;
  readonly reason: 'max_hold' | 'preempted';
}

/**
 * A waiting `lock.acquire` sent with `positions: true` moved in its queue (or was
 * just queued): `id` is that request's id. None comes after the acquire's reply.
 */
export interface PositionPush {
  readonly event: 'position';
  readonly id: number | string | null;
  readonly name: string;
  /** 1: the next to be granted. */
  readonly position: number;
  /** Waiters in the queue when the position was read. */
  readonly total: number;
}


/** A higher-priority waiter asked a hold to yield: sent to the sockets that hear about its lease. */
export interface YieldRequestedPush {
  readonly event: 'yield_requested';
  readonly leaseId: string;
  readonly name: string;
  readonly token: number;
  /** The grace the waiter gave. */
  readonly graceMs: number;
  /** When the server ends the hold unless released first (epoch ms). */
  readonly yieldBy: number;
}

export type Push = LockPush | RingPush | LeaseExpiredPush | HoldEndedPush | PositionPush | YieldRequestedPush;
