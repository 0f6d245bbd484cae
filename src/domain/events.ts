import type { HoldEnd, LeaseKind } from './model.js';
import type { RingAlgorithm } from './ring-algorithm.js';

/**
 * What a command caused, in order. Transports turn these into WebSocket pushes and
 * metrics; the store logs the state-changing ones and replays them on recovery, so
 * each carries everything needed to redo it.
 *
 * An event is lent to each sink for the length of the call: the machine may fill
 * the same object (and its `released` and `removed` lists) again for the next event
 * of its kind, so that ending a lease allocates nothing. A sink that keeps an event,
 * or defers work that reads it, keeps `copyEvent(event)` instead.
 */
export type DomainEvent =
  | {
      readonly type: 'lease_granted';
      readonly leaseId: string;
      readonly ttlMs: number;
      readonly kind: LeaseKind;
      /** The auth token's name that created it; absent without auth. */
      readonly principal?: string;
    }
  | {
      /** A keepalive changed the lease's ttlMs: logged so recovery restores the new one. */
      readonly type: 'lease_ttl_changed';
      readonly leaseId: string;
      readonly ttlMs: number;
      readonly kind: LeaseKind;
      readonly principal?: string;
    }
  | {
      readonly type: 'lease_ended';
      readonly leaseId: string;
      readonly kind: LeaseKind;
      /** `released`: a hold's own lease, ended by releasing that hold. */
      readonly reason: 'expired' | 'revoked' | 'released';
      readonly released: readonly HoldRef[];
      readonly removed: readonly MemberRef[];
      /** How long after its deadline the expiry ran (0 for a revoke). */
      readonly latenessMs: number;
      readonly principal?: string;
    }
  | {
      readonly type: 'lock_acquired';
      readonly name: string;
      readonly token: number;
      readonly owner: string;
      readonly leaseId: string;
      readonly limit: number;
      readonly lockDelayMs: number;
      readonly acquiredAtWallMs: number;
      /** Time spent queued, 0 for an immediate grant. */
      readonly waitedMs: number;
      readonly principal?: string;
      /** Present for a read hold only: a write hold's event is as it always was. */
      readonly mode?: 'read';
      /** Present for a bounded hold only. */
      readonly maxHoldMs?: number;
      /** Present for a hold acquired with a priority above 0. */
      readonly priority?: number;
    }
  | {
      readonly type: 'lock_released';
      readonly name: string;
      readonly token: number;
      readonly owner: string;
      readonly leaseId: string;
      readonly reason: HoldEnd;
      readonly heldMs: number;
      readonly principal?: string;
      readonly mode?: 'read';
    }
  | {
      /**
       * Logged: a higher-priority waiter asked the hold to yield. Unless released first,
       * it ends (reason `preempted`) `graceMs` after `requestedAtWallMs`.
       */
      readonly type: 'yield_requested';
      readonly name: string;
      readonly token: number;
      readonly owner: string;
      readonly leaseId: string;
      readonly graceMs: number;
      readonly requestedAtWallMs: number;
      /** When the hold ends unless released first, on the wall clock (for pushes). */
      readonly yieldByWallMs: number;
      /** The priority of the hold asked, and of the waiter that asked. */
      readonly priority: number;
      readonly askedBy: number;
      readonly mode?: 'read';
    }
  | {
      /** Logged: a lock-delay is state, it survives a restart (counted again from it). */
      readonly type: 'lock_delay_started';
      readonly name: string;
      readonly limit: number;
      readonly delayMs: number;
    }
  | { readonly type: 'lock_delay_ended'; readonly name: string }
  | { readonly type: 'waiter_left'; readonly name: string; readonly reason: 'timeout' | 'cancelled' | 'lease_ended' | 'rejected' }
  | {
      readonly type: 'ring_configured';
      readonly ring: string;
      readonly vnodes: number;
      readonly version: number;
      /** Absent for the default placement (xxhash). */
      readonly algorithm?: RingAlgorithm;
    }
  | {
      readonly type: 'member_put';
      readonly ring: string;
      readonly node: string;
      readonly weight: number;
      readonly meta: Readonly<Record<string, unknown>>;
      readonly leaseId: string | null;
      readonly version: number;
    }
  | { readonly type: 'member_removed'; readonly ring: string; readonly node: string; readonly version: number }
  | { readonly type: 'ring_deleted'; readonly ring: string };

export interface HoldRef {
  readonly name: string;
  readonly token: number;
}

export interface MemberRef {
  readonly ring: string;
  readonly node: string;
}

export type EventSink = (event: DomainEvent) => void;

export type LeaseEndedEvent = Extract<DomainEvent, { readonly type: 'lease_ended' }>;
export type LockReleasedEvent = Extract<DomainEvent, { readonly type: 'lock_released' }>;
export type YieldRequestedEvent = Extract<DomainEvent, { readonly type: 'yield_requested' }>;

/** The lists of a lease that had no holds or no members: shared, never written. */
export const noHoldRefs: readonly HoldRef[] = Object.freeze([]);
export const noMemberRefs: readonly MemberRef[] = Object.freeze([]);

export function copyHoldRefs(refs: readonly HoldRef[]): HoldRef[] {
  return refs.map((ref) => ({ name: ref.name, token: ref.token }));
}

export function copyMemberRefs(refs: readonly MemberRef[]): MemberRef[] {
  return refs.map((ref) => ({ ring: ref.ring, node: ref.node }));
}

/** An event of one's own, for a sink that keeps it past the call (events are lent). */
export function copyEvent(event: DomainEvent): DomainEvent {
  switch (event.type) {
    case 'lease_ended': {
      const { principal, ...rest } = event;
      return { ...rest, released: copyHoldRefs(event.released), removed: copyMemberRefs(event.removed), ...principalField(principal) };
    }
    case 'lock_released': {
      // The lent event has every key; a copy has only those with a value, as an event made afresh.
      const { principal, mode, ...rest } = event;
      return { ...rest, ...principalField(principal), ...readField(mode ?? 'write') };
    }
    default:
      return { ...event };
  }
}

const noFields = {} as const;

/** `{maxHoldMs}` for a bounded hold, else nothing (shared empty object: no allocation). */
export function maxHoldField(maxHoldMs: number): { readonly maxHoldMs?: number } {
  return maxHoldMs === 0 ? noFields : { maxHoldMs };
}

/** `{priority}` for a hold or waiter above the default 0, else nothing (no allocation). */
export function priorityField(priority: number): { readonly priority?: number } {
  return priority === 0 ? noFields : { priority };
}

/** `{principal}` when there is one, else nothing: events without auth stay as they were. */
export function principalField(principal: string | undefined): { readonly principal?: string } {
  return principal === undefined ? {} : { principal };
}

const readMode = { mode: 'read' } as const;
const noMode = {} as const;

/** `{mode: 'read'}` for a read hold, else nothing (one shared object each: no allocation). */
export function readField(mode: 'read' | 'write'): { readonly mode?: 'read' } {
  return mode === 'read' ? readMode : noMode;
}
