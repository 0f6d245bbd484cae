import { EndedHolds } from '../domain/ended-holds.js';
import type { HoldEnd, LeaseKind, LockMode } from '../domain/model.js';
import type { RingAlgorithm } from '../domain/ring-algorithm.js';
import type { RestoredHistory, RestoredMember } from '../domain/rings.js';
import { defaultLimits } from '../limits.js';
import { ImageHistory } from './image-history.js';
import type { StateMachine } from '../domain/state-machine.js';
import type { RecordVisitor, SnapshotEnd } from './record-codec.js';
import { StoreError } from './store-errors.js';

const leaseKinds: readonly LeaseKind[] = ['plain', 'session', 'hold', 'group'];
const kindCode: Readonly<Record<LeaseKind, number>> = { plain: 0, session: 1, hold: 2, group: 3 };

interface ImageHold {
  readonly name: string;
  readonly owner: string;
  readonly leaseId: string;
  readonly limit: number;
  readonly lockDelayMs: number;
  readonly acquiredAtWallMs: number;
  readonly principal: string | undefined;
  readonly mode: LockMode;
  readonly maxHoldMs: number;
  readonly priority: number;
}

/** A pending yield request of a hold (by its token). */
interface ImageYield {
  readonly name: string;
  readonly graceMs: number;
  readonly requestedAtWallMs: number;
}

interface ImageMember {
  readonly weight: number;
  readonly metaJson: string;
  readonly leaseId: string | null;
}

interface ImageRing {
  /** 0 while only members of it have been seen (see memberPut). */
  vnodes: number;
  version: number;
  algorithm: RingAlgorithm;
  readonly members: Map<string, ImageMember>;
  history: ImageHistory;
}

export interface RestoredCounts {
  readonly leases: number;
  readonly holds: number;
  readonly members: number;
  readonly rings: number;
}

/**
 * The durable state as plain data, built by replaying the snapshot and then the
 * log. Records are applied by id, absolutely, and deletes of what is missing are
 * no-ops: a fuzzy snapshot may already hold the effect of a replayed record, or
 * lack an object a replayed record refers to (it was ended before the snapshot
 * reached it, and the records that end it follow). Once the whole log is applied
 * the image must be consistent again; `check` makes sure before anything is
 * handed to the state machine.
 */
export class RecoveryImage implements RecordVisitor {
  /** ttlMs * 4 + kind code: a million leases without a million objects. */
  readonly leases = new Map<string, number>();
  /** Auth principals of the leases that have one (few, or none without auth). */
  readonly principals = new Map<string, string>();
  readonly holds = new Map<number, ImageHold>();
  /** Pending yield requests by hold token (few: only holds asked to yield). */
  readonly yields = new Map<number, ImageYield>();
  readonly rings = new Map<string, ImageRing>();
  /** Running lock-delays by name. */
  readonly delays = new Map<string, { readonly limit: number; readonly delayMs: number }>();
  /** Holds remembered as ended, as the machine remembers them (the last endedHoldsMax). */
  readonly ended: EndedHolds;
  maxToken = 0;
  snapshot: SnapshotEnd | null = null;

  /**
   * `historyVersionsMax`: steps kept per ring while replaying; `endedHoldsMax`: ended
   * holds kept (the machine's limits; the defaults otherwise).
   */
  constructor(
    private readonly historyVersionsMax = Number.POSITIVE_INFINITY,
    endedHoldsMax = defaultLimits.endedHoldsRemembered,
  ) {
    this.ended = new EndedHolds(endedHoldsMax);
  }

  leaseGranted(leaseId: string, ttlMs: number, kind: LeaseKind, principal: string | undefined): void {
    this.leases.set(leaseId, ttlMs * 4 + kindCode[kind]);
    if (principal !== undefined) this.principals.set(leaseId, principal);
    else if (this.principals.size > 0) this.principals.delete(leaseId);
  }

  leaseEnded(leaseId: string): void {
    this.leases.delete(leaseId);
    if (this.principals.size > 0) this.principals.delete(leaseId);
  }

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
    maxHoldMs: number,
    priority: number,
  ): void {
    this.holds.set(token, { name, mode, owner, leaseId, limit, lockDelayMs, acquiredAtWallMs, principal, maxHoldMs, priority });
    if (token > this.maxToken) this.maxToken = token;
  }

  /** The first request a hold gets stands, as in the machine; one for a hold already gone is moot. */
  yieldRequested(name: string, token: number, graceMs: number, requestedAtWallMs: number): void {
    if (this.holds.has(token) && !this.yields.has(token)) this.yields.set(token, { name, graceMs, requestedAtWallMs });
  }

  lockReleased(token: number, reason: HoldEnd | undefined): void {
    const hold = this.holds.get(token);
    // The name comes from the hold; one the snapshot no longer held ended before the
    // walk reached its lock, so the snapshot's own ended holds have it.
    if (reason !== undefined && hold !== undefined) this.holdEnded(hold.name, token, reason);
    this.holds.delete(token);
    if (this.yields.size > 0) this.yields.delete(token);
  }

  holdEnded(name: string, token: number, reason: HoldEnd): void {
    // First word stands: a fuzzy snapshot and the log after it may both tell of one end.
    if (!this.ended.has(token)) this.ended.remember(token, name, reason);
  }

  ringConfigured(ring: string, vnodes: number, version: number, algorithm: RingAlgorithm): void {
    const existing = this.rings.get(ring);
    if (existing === undefined) {
      this.rings.set(ring, { vnodes, version, algorithm, members: new Map(), history: new ImageHistory(version, this.historyVersionsMax) });
      return;
    }
    existing.history.step({ version, kind: 'shape', before: { algorithm: existing.algorithm, vnodes: existing.vnodes }, after: { algorithm, vnodes } });
    existing.vnodes = vnodes;
    existing.version = version;
    existing.algorithm = algorithm;
  }

  ringHistory(ring: string, history: RestoredHistory): void {
    const target = this.rings.get(ring);
    if (target !== undefined) target.history = ImageHistory.from(history, this.historyVersionsMax);
  }

  memberPut(ring: string, node: string, weight: number, metaJson: string, leaseId: string | null, version: number): void {
    let target = this.rings.get(ring);
    if (target === undefined) {
      // Fuzzy snapshot: a ring deleted before the snapshot reached it; its
      // ring_deleted record follows, and `check` fails if it does not.
      target = { vnodes: 0, version, algorithm: 'xxhash', members: new Map(), history: new ImageHistory(version, this.historyVersionsMax) };
      this.rings.set(ring, target);
    }
    target.history.step({ version, kind: 'member', node, before: target.members.get(node)?.weight ?? null, after: weight });
    target.members.set(node, { weight, metaJson, leaseId });
    target.version = version;
  }

  memberRemoved(ring: string, node: string, version: number): void {
    const target = this.rings.get(ring);
    if (target === undefined) return;
    target.history.step({ version, kind: 'member', node, before: target.members.get(node)?.weight ?? null, after: null });
    target.members.delete(node);
    target.version = version;
  }

  ringDeleted(ring: string): void {
    this.rings.delete(ring);
  }

  lockDelayStarted(name: string, limit: number, delayMs: number): void {
    this.delays.set(name, { limit, delayMs });
  }

  lockDelayEnded(name: string): void {
    this.delays.delete(name);
  }

  snapshotEnd(end: SnapshotEnd): void {
    this.snapshot = end;
    if (end.lastToken > this.maxToken) this.maxToken = end.lastToken;
  }

  /**
   * Hands the image to a fresh machine through its restore paths (no events):
   * leases with their full TTL from now, rings and members with their exact
   * versions, holds with their tokens, and the fencing counter past every token
   * seen. Throws, leaving the machine to be discarded, if a hold or member hangs
   * on a lease the log ended or never granted, or a ring was never created.
   */
  restoreInto(machine: StateMachine): RestoredCounts {
    const restorer = machine.restorer();
    const principals = this.principals;
    for (const [id, packed] of this.leases) {
      restorer.lease(id, Math.floor(packed / 4), leaseKinds[packed % 4]!, principals.size > 0 ? principals.get(id) : undefined);
    }
    let members = 0;
    for (const [name, ring] of this.rings) {
      if (ring.vnodes < 1) throw inconsistent(`ring ${JSON.stringify(name)} has members but was never created`);
      const restored: RestoredMember[] = [];
      for (const [id, member] of ring.members) {
        if (member.leaseId !== null && restorer.leaseById(member.leaseId) === undefined) {
          throw inconsistent(`member ${JSON.stringify(id)} of ring ${JSON.stringify(name)} is on lease ${JSON.stringify(member.leaseId)}, which is not live`);
        }
        restored.push({ id, weight: member.weight, meta: parseMeta(member.metaJson), leaseId: member.leaseId });
      }
      restorer.ring(name, ring.vnodes, ring.version, restored, ring.algorithm, ring.history.toRestored());
      members += restored.length;
    }
    for (const [token, hold] of this.holds) {
      const lease = restorer.leaseById(hold.leaseId);
      if (lease === undefined) {
        throw inconsistent(`hold ${token} of lock ${JSON.stringify(hold.name)} is on lease ${JSON.stringify(hold.leaseId)}, which is not live`);
      }
      const { name, mode, owner, acquiredAtWallMs, lockDelayMs, principal, priority } = hold;
      restorer.hold({ name, mode, token, owner, lease, acquiredAtWallMs, lockDelayMs, principal, priority }, hold.limit, hold.maxHoldMs);
    }
    for (const [token, pending] of this.yields) restorer.yieldRequest(pending.name, token, pending.graceMs, pending.requestedAtWallMs);
    for (const [name, delay] of this.delays) restorer.lockDelay(name, delay.limit, delay.delayMs);
    for (const ended of this.ended.entries()) restorer.endedHold(ended.token, ended.name, ended.reason);
    restorer.tokenFloor(this.maxToken);
    return { leases: this.leases.size, holds: this.holds.size, members, rings: this.rings.size };
  }
}

function parseMeta(metaJson: string): Readonly<Record<string, unknown>> {
  return JSON.parse(metaJson) as Readonly<Record<string, unknown>>;
}

function inconsistent(detail: string): StoreError {
  return new StoreError('corrupt_log', `the log and snapshot do not add up to a consistent state: ${detail}`);
}
