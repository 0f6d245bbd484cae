import { holdEndCode, holdEnds } from '../domain/ended-holds.js';
import type { DomainEvent } from '../domain/events.js';
import type { HoldSlot, HoldTable } from '../domain/hold-table.js';
import type { HoldEnd, LeaseKind, LockMode } from '../domain/model.js';
import type { RingAlgorithm } from '../domain/ring-algorithm.js';
import type { RestoredHistory } from '../domain/rings.js';
import { type ByteReader, type ByteWriter, DecodeError } from './byte-buffer.js';
import { RingRecordType, decodeAlgorithm, decodeRingHistory, encodeRingShaped } from './ring-history-codec.js';

/**
 * The binary records of the log and of snapshots. Each is a type byte and its
 * fields; every record sets state absolutely (no deltas), so replaying a record
 * over a state that already holds it changes nothing. That is what lets a
 * snapshot be taken while the log keeps moving (a fuzzy snapshot, as ZooKeeper's).
 *
 * A lease's end is logged after the ends of its holds and members (the domain
 * emits them in that order), so `lease_ended` carries only the lease id.
 */
export const RecordType = {
  leaseGranted: 1,
  leaseEnded: 2,
  lockAcquired: 3,
  lockReleased: 4,
  ringConfigured: 5,
  memberPut: 6,
  memberRemoved: 7,
  ringDeleted: 8,
  /** Last record of a snapshot file. */
  snapshotEnd: 9,
  lockDelayStarted: 10,
  lockDelayEnded: 11,
  /**
   * A hold with options the plain record lacks (read mode): the lockAcquired fields,
   * then a flags varint whose bits say which option fields follow. A plain write hold
   * keeps the record it always had, so older logs and the hot path are unchanged.
   */
  lockAcquiredWith: 12,
  /** A hold was asked to yield: lock name, token, wall-clock time asked, grace. */
  yieldRequested: 13,
  /**
   * A hold ended, with how (lockReleased plus a reason byte): recovery remembers it
   * as the machine does, so a late release learns `released`, `expired`... after a
   * restart or a takeover too. Older logs keep lockReleased, which remembers nothing.
   */
  lockEnded: 16,
  /** Snapshot only: one of the machine's remembered ended holds (name, token, reason). */
  holdEnded: 17,
} as const;


function decodeHoldEnd(input: ByteReader, at: number): HoldEnd {
  const reason = holdEnds[input.u8()];
  if (reason === undefined) throw new DecodeError('unknown hold end', at);
  return reason;
}

/**
 * Flag bits of a lockAcquiredWith record. The option fields follow the flags in bit
 * order: maxHold a varint maxHoldMs, then priority a varint priority.
 */
const HoldFlag = { read: 1, maxHold: 2, priority: 4 } as const;
const knownHoldFlags = HoldFlag.read | HoldFlag.maxHold | HoldFlag.priority;

const leaseKinds: readonly LeaseKind[] = ['plain', 'session', 'hold', 'group'];
const kindCode: Readonly<Record<LeaseKind, number>> = { plain: 0, session: 1, hold: 2, group: 3 };

export interface SnapshotEnd {
  /** Every record up to this sequence number is reflected in the snapshot. */
  readonly startSeq: number;
  /** The log was durable through this sequence number when the snapshot was installed. */
  readonly endSeq: number;
  readonly lastToken: number;
  readonly leases: number;
  readonly holds: number;
  readonly members: number;
}

/** What a decoded record does; recovery's image implements it. */
export interface RecordVisitor {
  leaseGranted(leaseId: string, ttlMs: number, kind: LeaseKind, principal: string | undefined): void;
  leaseEnded(leaseId: string): void;
  lockAcquired(
    name: string,
    token: number,
    owner: string,
    leaseId: string,
    limit: number,
    lockDelayMs: number,
    acquiredAtWallMs: number,
    principal: string | undefined,
    mode: LockMode,
    /** 0 for an unbounded hold. */
    maxHoldMs: number,
    priority: number,
  ): void;
  /** The hold `token` of `name` was asked to yield: it ends graceMs after requestedAtWallMs. */
  yieldRequested(name: string, token: number, graceMs: number, requestedAtWallMs: number): void;
  /** A hold ended; `reason` is absent in records older than lockEnded. */
  lockReleased(token: number, reason: HoldEnd | undefined): void;
  /** Snapshots only: a hold the machine remembers as ended, oldest first. */
  holdEnded(name: string, token: number, reason: HoldEnd): void;
  ringConfigured(ring: string, vnodes: number, version: number, algorithm: RingAlgorithm): void;
  /** Snapshots only: the ring's kept history, after its members. */
  ringHistory(ring: string, history: RestoredHistory): void;
  memberPut(ring: string, node: string, weight: number, metaJson: string, leaseId: string | null, version: number): void;
  memberRemoved(ring: string, node: string, version: number): void;
  ringDeleted(ring: string): void;
  /** A lock-delay runs on `name` (limit kept for a name with no holders left) for `delayMs`. */
  lockDelayStarted(name: string, limit: number, delayMs: number): void;
  lockDelayEnded(name: string): void;
  snapshotEnd(end: SnapshotEnd): void;
}

/**
 * Appends the record for `event` to `out`. Returns false (writing nothing) for
 * events that change no durable state: waiters coming and going.
 */
export function encodeEvent(out: ByteWriter, event: DomainEvent): boolean {
  switch (event.type) {
    case 'lease_granted':
    case 'lease_ttl_changed':
      // Records set state absolutely: a changed TTL is the lease granted again.
      encodeLease(out, event.leaseId, event.ttlMs, event.kind, event.principal);
      return true;
    case 'lease_ended':
      out.u8(RecordType.leaseEnded);
      out.string(event.leaseId);
      return true;
    case 'lock_acquired':
      encodeHold(
        out, event.name, event.token, event.owner, event.leaseId, event.limit, event.lockDelayMs, event.acquiredAtWallMs, event.principal,
        event.mode ?? 'write', event.maxHoldMs ?? 0, event.priority ?? 0,
      );
      return true;
    case 'yield_requested':
      encodeYieldRequest(out, event.name, event.token, event.graceMs, event.requestedAtWallMs);
      return true;
    case 'lock_released':
      out.u8(RecordType.lockEnded);
      out.varint(event.token);
      out.u8(holdEndCode[event.reason]);
      return true;
    case 'ring_configured':
      encodeRing(out, event.ring, event.vnodes, event.version, event.algorithm);
      return true;
    case 'member_put':
      encodeMember(out, event.ring, event.node, event.weight, JSON.stringify(event.meta), event.leaseId, event.version);
      return true;
    case 'member_removed':
      out.u8(RecordType.memberRemoved);
      out.string(event.ring);
      out.string(event.node);
      out.varint(event.version);
      return true;
    case 'ring_deleted':
      out.u8(RecordType.ringDeleted);
      out.string(event.ring);
      return true;
    case 'lock_delay_started':
      encodeLockDelay(out, event.name, event.limit, event.delayMs);
      return true;
    case 'lock_delay_ended':
      out.u8(RecordType.lockDelayEnded);
      out.string(event.name);
      return true;
    case 'waiter_left':
      return false;
  }
}

export function encodeLease(out: ByteWriter, leaseId: string, ttlMs: number, kind: LeaseKind, principal: string | undefined): void {
  out.u8(RecordType.leaseGranted);
  out.string(leaseId);
  out.varint(ttlMs);
  out.u8(kindCode[kind]);
  optionalString(out, principal);
}

/** A presence byte, then the string if present (auth principals, lease ids of members). */
function optionalString(out: ByteWriter, value: string | null | undefined): void {
  if (value === null || value === undefined) {
    out.u8(0);
    return;
  }
  out.u8(1);
  out.string(value);
}

export function encodeHold(
  out: ByteWriter,
  name: string,
  token: number,
  owner: string,
  leaseId: string,
  limit: number,
  lockDelayMs: number,
  acquiredAtWallMs: number,
  principal: string | undefined,
  mode: LockMode,
  maxHoldMs: number,
  priority = 0,
): void {
  const flags = (mode === 'read' ? HoldFlag.read : 0) | (maxHoldMs > 0 ? HoldFlag.maxHold : 0) | (priority > 0 ? HoldFlag.priority : 0);
  out.u8(flags === 0 ? RecordType.lockAcquired : RecordType.lockAcquiredWith);
  out.string(name);
  out.varint(token);
  out.string(owner);
  out.string(leaseId);
  out.varint(limit);
  out.varint(lockDelayMs);
  out.varint(acquiredAtWallMs);
  optionalString(out, principal);
  if (flags !== 0) out.varint(flags);
  if (maxHoldMs > 0) out.varint(maxHoldMs);
  if (priority > 0) out.varint(priority);
}

/**
 * A live hold as a snapshot keeps it, read from its row (no copy per hold: a snapshot
 * walks every one): its record, then its pending yield request, if any. Returns the
 * records written.
 */
export function encodeLiveHold(out: ByteWriter, holds: HoldTable, hold: HoldSlot, limit: number): number {
  const name = holds.name(hold);
  const token = holds.token(hold);
  encodeHold(
    out, name, token, holds.owner(hold), holds.lease(hold).id, limit, holds.lockDelayMs(hold), holds.acquiredAtWallMs(hold),
    holds.principal(hold), holds.mode(hold), holds.maxHold(hold)?.maxHoldMs ?? 0, holds.priority(hold),
  );
  const request = holds.yieldRequest(hold);
  if (request === null) return 1;
  encodeYieldRequest(out, name, token, request.graceMs, request.requestedAtWallMs);
  return 2;
}

/** A remembered ended hold, as a snapshot keeps it. */
export function encodeHoldEnded(out: ByteWriter, name: string, token: number, reason: HoldEnd): void {
  out.u8(RecordType.holdEnded);
  out.string(name);
  out.varint(token);
  out.u8(holdEndCode[reason]);
}

export function encodeYieldRequest(out: ByteWriter, name: string, token: number, graceMs: number, requestedAtWallMs: number): void {
  out.u8(RecordType.yieldRequested);
  out.string(name);
  out.varint(token);
  out.varint(requestedAtWallMs);
  out.varint(graceMs);
}

export function encodeRing(out: ByteWriter, ring: string, vnodes: number, version: number, algorithm: RingAlgorithm = 'xxhash'): void {
  if (algorithm !== 'xxhash') {
    encodeRingShaped(out, ring, vnodes, version, algorithm);
    return;
  }
  out.u8(RecordType.ringConfigured);
  out.string(ring);
  out.varint(vnodes);
  out.varint(version);
}

export function encodeMember(
  out: ByteWriter,
  ring: string,
  node: string,
  weight: number,
  metaJson: string,
  leaseId: string | null,
  version: number,
): void {
  out.u8(RecordType.memberPut);
  out.string(ring);
  out.string(node);
  out.f64(weight);
  out.string(metaJson);
  optionalString(out, leaseId);
  out.varint(version);
}

export function encodeLockDelay(out: ByteWriter, name: string, limit: number, delayMs: number): void {
  out.u8(RecordType.lockDelayStarted);
  out.string(name);
  out.varint(limit);
  out.varint(delayMs);
}

export function encodeSnapshotEnd(out: ByteWriter, end: SnapshotEnd): void {
  out.u8(RecordType.snapshotEnd);
  out.varint(end.startSeq);
  out.varint(end.endSeq);
  out.varint(end.lastToken);
  out.varint(end.leases);
  out.varint(end.holds);
  out.varint(end.members);
}

/** Decodes one record at the reader's position, hands it to `visitor`, returns its type. */
export function decodeRecord(input: ByteReader, visitor: RecordVisitor): number {
  const at = input.pos;
  const type = input.u8();
  switch (type) {
    case RecordType.leaseGranted: {
      const leaseId = input.string();
      const ttlMs = input.varint();
      const kind = leaseKinds[input.u8()];
      if (kind === undefined) throw new DecodeError('unknown lease kind', at);
      visitor.leaseGranted(leaseId, ttlMs, kind, input.u8() === 0 ? undefined : input.string());
      return type;
    }
    case RecordType.leaseEnded:
      visitor.leaseEnded(input.string());
      return type;
    case RecordType.lockAcquired:
    case RecordType.lockAcquiredWith: {
      const name = input.string();
      const token = input.varint();
      const owner = input.string();
      const leaseId = input.string();
      const limit = input.varint();
      const lockDelayMs = input.varint();
      const acquiredAtWallMs = input.varint();
      const principal = input.u8() === 0 ? undefined : input.string();
      const flags = type === RecordType.lockAcquiredWith ? input.varint() : 0;
      if ((flags & ~knownHoldFlags) !== 0) throw new DecodeError(`unknown hold flags ${flags}`, at);
      const maxHoldMs = flags & HoldFlag.maxHold ? input.varint() : 0;
      const priority = flags & HoldFlag.priority ? input.varint() : 0;
      const mode = flags & HoldFlag.read ? 'read' : 'write';
      visitor.lockAcquired(name, token, owner, leaseId, limit, lockDelayMs, acquiredAtWallMs, principal, mode, maxHoldMs, priority);
      return type;
    }
    case RecordType.yieldRequested: {
      const name = input.string();
      const token = input.varint();
      const requestedAtWallMs = input.varint();
      visitor.yieldRequested(name, token, input.varint(), requestedAtWallMs);
      return type;
    }
    case RecordType.lockReleased:
      visitor.lockReleased(input.varint(), undefined);
      return type;
    case RecordType.lockEnded: {
      const token = input.varint();
      visitor.lockReleased(token, decodeHoldEnd(input, at));
      return type;
    }
    case RecordType.holdEnded: {
      const name = input.string();
      const token = input.varint();
      visitor.holdEnded(name, token, decodeHoldEnd(input, at));
      return type;
    }
    case RecordType.ringConfigured:
      visitor.ringConfigured(input.string(), input.varint(), input.varint(), 'xxhash');
      return type;
    case RingRecordType.ringShaped:
      visitor.ringConfigured(input.string(), input.varint(), input.varint(), decodeAlgorithm(input));
      return type;
    case RingRecordType.ringHistory: {
      const { ring, history } = decodeRingHistory(input);
      visitor.ringHistory(ring, history);
      return type;
    }
    case RecordType.memberPut: {
      const ring = input.string();
      const node = input.string();
      const weight = input.f64();
      const metaJson = input.string();
      const leaseId = input.u8() === 0 ? null : input.string();
      visitor.memberPut(ring, node, weight, metaJson, leaseId, input.varint());
      return type;
    }
    case RecordType.memberRemoved:
      visitor.memberRemoved(input.string(), input.string(), input.varint());
      return type;
    case RecordType.ringDeleted:
      visitor.ringDeleted(input.string());
      return type;
    case RecordType.lockDelayStarted:
      visitor.lockDelayStarted(input.string(), input.varint(), input.varint());
      return type;
    case RecordType.lockDelayEnded:
      visitor.lockDelayEnded(input.string());
      return type;
    case RecordType.snapshotEnd:
      visitor.snapshotEnd({
        startSeq: input.varint(), endSeq: input.varint(), lastToken: input.varint(),
        leases: input.varint(), holds: input.varint(), members: input.varint(),
      });
      return type;
    default:
      throw new DecodeError(`unknown record type ${type}`, at);
  }
}
