import type { HoldEnd, LeaseKind, LockMode } from '../domain/model.js';
import type { Restorer } from '../domain/restorer.js';
import type { RingAlgorithm } from '../domain/ring-algorithm.js';
import type { RestoredHistory, RestoredMember } from '../domain/rings.js';
import type { StateMachine } from '../domain/state-machine.js';
import type { RecordVisitor, SnapshotEnd } from './record-codec.js';
import type { RestoredCounts } from './recovery-image.js';
import { StoreError } from './store-errors.js';

interface PendingRing {
  readonly name: string;
  readonly vnodes: number;
  version: number;
  readonly members: RestoredMember[];
  readonly algorithm: RingAlgorithm;
  history?: RestoredHistory;
}

/**
 * Streams a snapshot with nothing logged after it (a clean close) straight into
 * the machine's restore paths, skipping the recovery image: such a snapshot was
 * written with the log still, so it is consistent by itself. A million holds
 * load without a million intermediate objects.
 */
export class MachineLoader implements RecordVisitor {
  snapshot: SnapshotEnd | null = null;
  private ring: PendingRing | null = null;
  private leases = 0;
  private holds = 0;
  private members = 0;
  private rings = 0;
  private maxToken = 0;

  private readonly restorer: Restorer;

  constructor(machine: StateMachine) {
    this.restorer = machine.restorer();
  }

  leaseGranted(leaseId: string, ttlMs: number, kind: LeaseKind, principal: string | undefined): void {
    this.restorer.lease(leaseId, ttlMs, kind, principal);
    this.leases += 1;
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
    const lease = this.restorer.leaseById(leaseId);
    if (lease === undefined) throw notInSnapshot(`hold ${token} of lock ${JSON.stringify(name)} is on lease ${JSON.stringify(leaseId)}, which it lacks`);
    this.restorer.hold({ name, mode, token, owner, lease, acquiredAtWallMs, lockDelayMs, principal, priority }, limit, maxHoldMs);
    if (token > this.maxToken) this.maxToken = token;
    this.holds += 1;
  }

  /** In a snapshot a pending yield request follows its hold's record. */
  yieldRequested(name: string, token: number, graceMs: number, requestedAtWallMs: number): void {
    this.restorer.yieldRequest(name, token, graceMs, requestedAtWallMs);
  }

  ringConfigured(ring: string, vnodes: number, version: number, algorithm: RingAlgorithm): void {
    this.flushRing();
    this.ring = { name: ring, vnodes, version, members: [], algorithm };
  }

  ringHistory(ring: string, history: RestoredHistory): void {
    const pending = this.ring;
    if (pending === null || pending.name !== ring) throw notInSnapshot(`the history of ring ${JSON.stringify(ring)} comes before the ring`);
    pending.history = history;
  }

  memberPut(ring: string, node: string, weight: number, metaJson: string, leaseId: string | null, version: number): void {
    const pending = this.ring;
    if (pending === null || pending.name !== ring) throw notInSnapshot(`member ${JSON.stringify(node)} comes before its ring ${JSON.stringify(ring)}`);
    if (leaseId !== null && this.restorer.leaseById(leaseId) === undefined) {
      throw notInSnapshot(`member ${JSON.stringify(node)} of ring ${JSON.stringify(ring)} is on lease ${JSON.stringify(leaseId)}, which it lacks`);
    }
    pending.members.push({ id: node, weight, meta: JSON.parse(metaJson) as Readonly<Record<string, unknown>>, leaseId });
    pending.version = version;
  }

  snapshotEnd(end: SnapshotEnd): void {
    this.flushRing();
    this.snapshot = end;
    this.restorer.tokenFloor(Math.max(end.lastToken, this.maxToken));
  }

  holdEnded(name: string, token: number, reason: HoldEnd): void {
    this.restorer.endedHold(token, name, reason);
  }

  leaseEnded(): void {
    throw notInSnapshot('a snapshot holds no lease ends');
  }

  lockReleased(): void {
    throw notInSnapshot('a snapshot holds no releases');
  }

  memberRemoved(): void {
    throw notInSnapshot('a snapshot holds no member removals');
  }

  ringDeleted(): void {
    throw notInSnapshot('a snapshot holds no ring deletions');
  }

  lockDelayStarted(name: string, limit: number, delayMs: number): void {
    this.restorer.lockDelay(name, limit, delayMs);
  }

  lockDelayEnded(): void {
    throw notInSnapshot('a snapshot holds no lock-delay ends');
  }

  counts(): RestoredCounts {
    return { leases: this.leases, holds: this.holds, members: this.members, rings: this.rings };
  }

  private flushRing(): void {
    const pending = this.ring;
    if (pending === null) return;
    this.restorer.ring(pending.name, pending.vnodes, pending.version, pending.members, pending.algorithm, pending.history);
    this.members += pending.members.length;
    this.rings += 1;
    this.ring = null;
  }
}

function notInSnapshot(detail: string): StoreError {
  return new StoreError('corrupt_log', `the snapshot is not consistent by itself: ${detail}`);
}
