import type { DomainContext } from './context.js';
import { LockringError, assert, invalid, limitExceeded } from './errors.js';
import type { MemberRef } from './events.js';
import { leaseMembers, leaseMembersOf } from './lease-extra.js';
import type { Leases } from './leases.js';
import type { Lease, Member } from './model.js';
import type { OwnerTable } from './owner-table.js';
import { Placement } from './placement.js';
import { Ring } from './ring.js';
import { type RingAlgorithm, pointCounts, ringAlgorithmDefault, ringAlgorithms } from './ring-algorithm.js';
import { type DiffPage, diffPlacements } from './ring-diff.js';
import { type RingChange, RingHistory, type RingShape, ringChangeBytes } from './ring-history.js';

export const vnodesDefault = 160;

/** What a PUT of a ring sets; omitted fields take their defaults (a PUT states the whole shape). */
export interface RingRequest {
  readonly vnodes?: number | undefined;
  readonly algorithm?: RingAlgorithm | undefined;
}

/** A ring's kept history as the log and snapshots carry it (recovery). */
export interface RestoredHistory {
  readonly oldest: number;
  readonly changes: readonly RingChange[];
}

export interface DiffRequest {
  readonly from: number;
  readonly to: number;
  readonly n: number;
  /** First position listed (clipped), 0 .. 2^32-1. */
  readonly start: number;
  readonly limit: number;
}

export interface MemberRequest {
  readonly weight?: number | undefined;
  readonly meta?: Readonly<Record<string, unknown>> | undefined;
  readonly leaseId?: string | undefined;
}

/** A member as the log recorded it (recovery). */
export interface RestoredMember {
  readonly id: string;
  readonly weight: number;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly leaseId: string | null;
}

export type PutStatus = 'created' | 'changed' | 'unchanged';

export interface LookupResult {
  readonly ring: string;
  readonly version: number;
  readonly nodes: string[][];
  /** The owners at an earlier version, when a handover lookup asked for them. */
  readonly previous?: { readonly version: number; readonly nodes: string[][] };
}

/** A lookup's answer as owner tables, for transports that write it out directly. */
export interface OwnerLookup {
  readonly ring: string;
  readonly version: number;
  readonly owners: OwnerTable;
  readonly previous?: { readonly version: number; readonly owners: OwnerTable };
}

/** The owner tables as arrays of ids per key. */
export function lookupArrays(lookup: OwnerLookup): LookupResult {
  const { ring, version, owners, previous } = lookup;
  const result = { ring, version, nodes: owners.toArrays() };
  return previous === undefined ? result : { ...result, previous: { version: previous.version, nodes: previous.owners.toArrays() } };
}

export const versionUnavailable = (ring: Ring, version: number): LockringError =>
  new LockringError(
    'version_unavailable',
    `ring ${JSON.stringify(ring.name)} keeps versions ${ring.history.oldest} to ${ring.version}, not ${version}`,
    { ring: ring.name, version, oldest: ring.history.oldest, current: ring.version },
  );

export const ringNotFound = (name: string): LockringError =>
  new LockringError('ring_not_found', `ring ${JSON.stringify(name)} does not exist`, { ring: name });

/** The named rings, their membership (explicit or lease-bound) and lookups. */
export class Rings {
  readonly byName = new Map<string, Ring>();
  private pointsTotal = 0;
  /** Bytes of every ring's kept history (ringHistoryBytesMax). */
  private historyBytes = 0;

  constructor(
    private readonly ctx: DomainContext,
    private readonly leases: Leases,
  ) {}

  get(name: string): Ring {
    const ring = this.byName.get(name);
    if (ring === undefined) throw ringNotFound(name);
    return ring;
  }

  /**
   * The ring `name` once members whose lease is past its deadline are gone: a
   * lookup or read never routes to a member whose lease has ended, whether or not
   * the expiry loop has reached it (as locks treat such holders). Costs a heap peek
   * unless some deadline is overdue.
   */
  live(name: string): Ring {
    const ring = this.get(name);
    if (this.ctx.deadlines.peekDeadlineMs() > this.ctx.clock.monoMs()) return ring;
    for (const member of [...ring.members.values()]) {
      const lease = member.lease;
      if (lease !== null && !lease.ended && this.leases.isDead(lease)) this.leases.expire(lease);
    }
    return ring;
  }

  put(name: string, request: RingRequest | number = {}): { status: PutStatus; ring: Ring } {
    const shape = this.checkShape(typeof request === 'number' ? { vnodes: request } : request);
    const { vnodes, algorithm } = shape;
    const existing = this.byName.get(name);
    if (existing === undefined) return { status: 'created', ring: this.create(name, shape) };
    if (existing.vnodes === vnodes && existing.algorithm === algorithm) return { status: 'unchanged', ring: existing };
    if (algorithm === 'ketama') this.checkKetamaWeights(existing);
    // Counted at the new shape: the limits must see the ring as it will be.
    const counts = pointCounts({ ...existing.config(), vnodes, algorithm });
    this.checkCounts(existing, counts);
    const before: RingShape = { algorithm: existing.algorithm, vnodes: existing.vnodes };
    const pointsBefore = existing.placement.size;
    existing.reconfigure(vnodes, algorithm);
    this.pointsTotal += existing.placement.size - pointsBefore;
    existing.version += 1;
    this.recordChange(existing, { version: existing.version, kind: 'shape', before, after: shape });
    this.ctx.emit({ type: 'ring_configured', ring: name, vnodes, version: existing.version, ...algorithmField(algorithm) });
    return { status: 'changed', ring: existing };
  }

  delete(name: string): void {
    const ring = this.get(name);
    for (const member of ring.members.values()) if (member.lease !== null) leaseMembers(member.lease)?.delete(member);
    this.pointsTotal -= ring.placement.size;
    this.historyBytes -= ring.history.bytes;
    this.byName.delete(name);
    this.ctx.emit({ type: 'ring_deleted', ring: name });
  }

  putMember(ringName: string, id: string, request: MemberRequest): { status: PutStatus; ring: Ring } {
    const weight = request.weight ?? 1;
    const meta = request.meta ?? {};
    const metaJson = JSON.stringify(meta);
    this.checkWeight(weight, metaJson);
    const lease = request.leaseId === undefined ? null : this.leases.live(request.leaseId);
    let ring = this.byName.get(ringName);
    const existing = ring?.members.get(id);
    const { membersPerLeaseMax } = this.ctx.limits;
    if (lease !== null && existing?.lease !== lease && (leaseMembers(lease)?.size ?? 0) >= membersPerLeaseMax) {
      throw limitExceeded('membersPerLeaseMax', membersPerLeaseMax);
    }
    if (ring !== undefined && existing === undefined && ring.members.size >= this.ctx.limits.nodesPerRingMax) {
      throw limitExceeded('nodesPerRingMax', this.ctx.limits.nodesPerRingMax);
    }
    if (existing !== undefined && existing.weight === weight && existing.metaJson === metaJson && existing.lease === lease) {
      return { status: 'unchanged', ring: ring! };
    }
    if (ring?.algorithm === 'ketama') this.checkKetamaWeight(weight);
    this.checkMemberPoints(ring, id, weight);
    let status: PutStatus = 'changed';
    if (ring === undefined) {
      ring = this.create(ringName, { vnodes: vnodesDefault, algorithm: ringAlgorithmDefault });
      status = 'created';
    } else if (existing === undefined) {
      status = 'created';
    }
    this.apply(ring, existing, id, weight, meta, metaJson, lease);
    return { status, ring };
  }

  removeMember(ringName: string, id: string): Ring {
    const ring = this.get(ringName);
    const member = ring.members.get(id);
    if (member === undefined) {
      throw new LockringError('node_not_found', `node ${JSON.stringify(id)} is not in ring ${JSON.stringify(ringName)}`, {
        ring: ringName,
        node: id,
      });
    }
    if (member.lease !== null) leaseMembers(member.lease)?.delete(member);
    ring.members.delete(id);
    const pointsBefore = ring.placement.size;
    ring.unplace(id);
    this.pointsTotal += ring.placement.size - pointsBefore;
    ring.version += 1;
    this.recordChange(ring, { version: ring.version, kind: 'member', node: id, before: member.weight, after: null });
    this.ctx.emit({ type: 'member_removed', ring: ringName, node: id, version: ring.version });
    return ring;
  }

  /** Removes every member bound to an ending lease (LeaseDependents). */
  dropLease(lease: Lease): MemberRef[] {
    const removed: MemberRef[] = [];
    for (const member of [...(leaseMembers(lease) ?? [])]) {
      removed.push({ ring: member.ring.name, node: member.id });
      this.removeMember(member.ring.name, member.id);
    }
    return removed;
  }

  /**
   * The owners of `keys`; with `previous`, also their owners at that earlier (or
   * any kept) version, so that a client moving data can read from the old owner
   * while it writes to the new one.
   */
  lookup(ringName: string, keys: readonly string[], n: number, version?: number, previous?: number): LookupResult {
    return lookupArrays(this.lookupOwners(ringName, keys, n, version, previous));
  }

  /** As `lookup`, the owners as tables of slots (no array per key). */
  lookupOwners(ringName: string, keys: readonly string[], n: number, version?: number, previous?: number): OwnerLookup {
    const ring = this.live(ringName);
    this.checkVersion(ring, version);
    const past = previous === undefined ? undefined : this.pastPlacement(ring, previous);
    if (ring.placement.nodesPlaced === 0) {
      throw new LockringError('ring_empty', `ring ${JSON.stringify(ringName)} has no node with weight > 0`, {
        ring: ringName,
      });
    }
    const owners = ring.placement.lookupBatch(keys, n);
    if (past === undefined) return { ring: ringName, version: ring.version, owners };
    return { ring: ringName, version: ring.version, owners, previous: { version: previous!, owners: past.lookupBatch(keys, n) } };
  }

  /** The hash ranges whose owners differ between versions `from` and `to` (both kept). */
  diff(ringName: string, request: DiffRequest): DiffPage & { readonly ring: string; readonly version: number } {
    const ring = this.get(ringName);
    for (const version of [request.from, request.to]) {
      if (!ring.history.has(version)) throw versionUnavailable(ring, version);
    }
    const page = diffPlacements(ring.placementAt(request.from), ring.placementAt(request.to), request.n, request.start, request.limit);
    return { ring: ringName, version: ring.version, ...page };
  }

  /**
   * Restores a ring with its exact version and members from the log (recovery).
   * Emits nothing and checks no limit: the state was valid when it was logged.
   * Lease-bound members need their lease restored first.
   */
  restore(
    name: string,
    vnodes: number,
    version: number,
    members: readonly RestoredMember[],
    algorithm: RingAlgorithm = ringAlgorithmDefault,
    history?: RestoredHistory,
  ): Ring {
    assert(!this.byName.has(name), 'ring restored twice');
    const ring = new Ring(name, vnodes, this.ctx.hashing, algorithm);
    for (const { id, weight, meta, leaseId } of members) {
      const lease = leaseId === null ? null : this.leases.byId.get(leaseId);
      assert(lease !== undefined, 'restored member names a lease that was not restored');
      const member: Member = { ring, id, weight, meta, metaJson: JSON.stringify(meta), lease };
      if (lease !== null) leaseMembersOf(lease).add(member);
      ring.members.set(id, member);
    }
    ring.reconfigure(vnodes, algorithm);
    this.pointsTotal += ring.placement.size;
    ring.version = version;
    this.restoreHistory(ring, history);
    this.byName.set(name, ring);
    return ring;
  }

  /**
   * History is derived data: steps that do not lead up to the restored version
   * (a log from before history was kept) are dropped, and the ring starts its
   * history afresh at that version.
   */
  private restoreHistory(ring: Ring, history: RestoredHistory | undefined): void {
    ring.history = new RingHistory(ring.version);
    if (history === undefined || history.oldest + history.changes.length !== ring.version) return;
    const steps = history.changes;
    if (!steps.every((step, i) => step.version === history.oldest + i + 1)) return;
    ring.history = new RingHistory(history.oldest);
    for (const step of steps) this.recordChange(ring, step);
  }

  /** The placement at `version` for a handover lookup, kept on the ring for the next one. */
  private pastPlacement(ring: Ring, version: number): Placement {
    if (!ring.history.has(version)) throw versionUnavailable(ring, version);
    const placement = ring.placementAt(version);
    if (version !== ring.version) ring.pastPlacement = { version, placement };
    return placement;
  }

  /**
   * Keeps the step that made the ring's new version, then trims: this ring to
   * ringHistoryVersionsMax steps, and all rings to ringHistoryBytesMax (the
   * oldest steps of whichever ring keeps the most).
   */
  private recordChange(ring: Ring, change: RingChange): void {
    const { ringHistoryVersionsMax, ringHistoryBytesMax } = this.ctx.limits;
    ring.history.record(change);
    this.historyBytes += ringChangeBytes(change);
    while (ring.history.length > ringHistoryVersionsMax) this.historyBytes -= ring.history.dropOldest();
    while (this.historyBytes > ringHistoryBytesMax) {
      const victim = this.longestHistory(ring);
      if (victim.history.length === 0) break;
      this.historyBytes -= victim.history.dropOldest();
    }
    if (ring.pastPlacement !== null && !ring.history.has(ring.pastPlacement.version)) ring.pastPlacement = null;
  }

  /** The ring keeping the most steps (`ring` itself on a tie), so one busy ring cannot starve the others. */
  private longestHistory(ring: Ring): Ring {
    let longest = ring;
    for (const other of this.byName.values()) {
      if (other.history.length > longest.history.length) longest = other;
    }
    return longest;
  }

  private checkVersion(ring: Ring, version: number | undefined): void {
    if (version !== undefined && version !== ring.version) {
      throw new LockringError('stale_ring', `ring ${JSON.stringify(ring.name)} is at version ${ring.version}, not ${version}`, {
        ring: ring.name,
        version: ring.version,
      });
    }
  }

  private create(name: string, { vnodes, algorithm }: RingShape): Ring {
    const { ringsMax } = this.ctx.limits;
    if (this.byName.size >= ringsMax) throw limitExceeded('ringsMax', ringsMax);
    const ring = new Ring(name, vnodes, this.ctx.hashing, algorithm);
    this.byName.set(name, ring);
    this.ctx.emit({ type: 'ring_configured', ring: name, vnodes, version: ring.version, ...algorithmField(algorithm) });
    return ring;
  }

  private apply(
    ring: Ring,
    existing: Member | undefined,
    id: string,
    weight: number,
    meta: Readonly<Record<string, unknown>>,
    metaJson: string,
    lease: Lease | null,
  ): void {
    const member: Member = existing ?? { ring, id, weight, meta, metaJson, lease: null };
    const placementChanged = existing === undefined || existing.weight !== weight;
    const weightBefore = existing === undefined ? null : existing.weight;
    const pointsBefore = ring.placement.size;
    member.weight = weight;
    member.meta = meta;
    member.metaJson = metaJson;
    if (member.lease !== lease) {
      if (member.lease !== null) leaseMembers(member.lease)?.delete(member);
      if (lease !== null) leaseMembersOf(lease).add(member);
      member.lease = lease;
    }
    ring.members.set(id, member);
    if (placementChanged) ring.place(member);
    this.pointsTotal += ring.placement.size - pointsBefore;
    ring.version += 1;
    this.recordChange(ring, { version: ring.version, kind: 'member', node: id, before: weightBefore, after: weight });
    this.ctx.emit({ type: 'member_put', ring: ring.name, node: id, weight, meta, leaseId: lease?.id ?? null, version: ring.version });
  }

  private checkShape(request: RingRequest): RingShape {
    const { vnodesMax } = this.ctx.limits;
    const vnodes = request.vnodes ?? vnodesDefault;
    const algorithm = request.algorithm ?? ringAlgorithmDefault;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > vnodesMax) {
      throw invalid(`vnodes must be an integer from 1 to ${vnodesMax}`, { field: 'vnodes' });
    }
    if (!ringAlgorithms.includes(algorithm)) throw invalid(`algorithm must be one of ${ringAlgorithms.join(', ')}`, { field: 'algorithm' });
    // Ketama's point count is fixed (160 per server at equal weight); another vnodes would be silently ignored.
    if (algorithm === 'ketama' && vnodes !== vnodesDefault) {
      throw invalid(`a ketama ring places ${vnodesDefault} points per server at equal weight: vnodes must be ${vnodesDefault} or omitted`, {
        field: 'vnodes',
      });
    }
    return { vnodes, algorithm };
  }

  /** libmemcached weights are integers; a fraction has no ketama equivalent. */
  private checkKetamaWeight(weight: number): void {
    if (!Number.isInteger(weight)) throw invalid('weight must be an integer on a ketama ring', { field: 'weight' });
  }

  private checkKetamaWeights(ring: Ring): void {
    for (const member of ring.members.values()) {
      if (!Number.isInteger(member.weight)) {
        throw invalid(`node ${JSON.stringify(member.id)} has weight ${member.weight}: a ketama ring takes integer weights only`, {
          field: 'algorithm',
        });
      }
    }
  }

  /** Limits on points, for member `id` at `weight` on `ring` (undefined: a ring this put creates). */
  private checkMemberPoints(ring: Ring | undefined, id: string, weight: number): void {
    if (ring === undefined) {
      const points = Placement.pointCount(vnodesDefault, weight);
      this.checkNodePoints(points);
      this.checkPointsTotal(points);
      return;
    }
    if (ring.algorithm === 'ketama') {
      const counts = pointCounts(ring.config({ id, weight }));
      this.checkCounts(ring, counts);
      return;
    }
    const points = ring.pointsFor(weight);
    this.checkNodePoints(points);
    this.checkPoints(ring, ring.placement.size - ring.placement.pointsOf(id) + points);
  }

  /** Limits on points for a whole new set of counts of `ring`: every member may have changed. */
  private checkCounts(ring: Ring, counts: ReadonlyMap<string, number>): void {
    let total = 0;
    for (const points of counts.values()) {
      this.checkNodePoints(points);
      total += points;
    }
    this.checkPoints(ring, total);
  }

  private checkNodePoints(points: number): void {
    const { pointsPerNodeMax } = this.ctx.limits;
    if (points > pointsPerNodeMax) throw limitExceeded('pointsPerNodeMax', pointsPerNodeMax);
  }

  private checkWeight(weight: number, metaJson: string): void {
    const { weightMax, metaBytesMax } = this.ctx.limits;
    if (!Number.isFinite(weight) || weight < 0 || weight > weightMax) {
      throw invalid(`weight must be a number from 0 to ${weightMax}`, { field: 'weight' });
    }
    if (Buffer.byteLength(metaJson, 'utf8') > metaBytesMax) {
      throw invalid(`meta must serialize to at most ${metaBytesMax} bytes of JSON`, { field: 'meta' });
    }
  }

  private checkPoints(ring: Ring, ringPointsAfter: number): void {
    const { pointsPerRingMax } = this.ctx.limits;
    if (ringPointsAfter > pointsPerRingMax) throw limitExceeded('pointsPerRingMax', pointsPerRingMax);
    this.checkPointsTotal(ringPointsAfter - ring.placement.size);
  }

  private checkPointsTotal(growth: number): void {
    const { pointsTotalMax } = this.ctx.limits;
    if (this.pointsTotal + growth > pointsTotalMax) throw limitExceeded('pointsTotalMax', pointsTotalMax);
  }
}

/** The event's algorithm field: absent for the default, so default rings log as they always did. */
function algorithmField(algorithm: RingAlgorithm): { readonly algorithm?: RingAlgorithm } {
  return algorithm === ringAlgorithmDefault ? {} : { algorithm };
}
