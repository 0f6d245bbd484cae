import type { DomainContext } from './context.js';
import { LockringError, assert, invalid, limitExceeded } from './errors.js';
import type { MemberRef } from './events.js';
import type { Leases } from './leases.js';
import type { Lease, Member } from './model.js';
import { Placement } from './placement.js';
import { Ring } from './ring.js';

export const vnodesDefault = 160;

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
}

export const ringNotFound = (name: string): LockringError =>
  new LockringError('ring_not_found', `ring ${JSON.stringify(name)} does not exist`, { ring: name });

/** The named rings, their membership (explicit or lease-bound) and lookups. */
export class Rings {
  readonly byName = new Map<string, Ring>();
  private pointsTotal = 0;

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
    const due = this.ctx.deadlines.peek();
    if (due === undefined || due.deadlineMs > this.ctx.clock.monoMs()) return ring;
    for (const member of [...ring.members.values()]) {
      const lease = member.lease;
      if (lease !== null && !lease.ended && this.leases.isDead(lease)) this.leases.expire(lease);
    }
    return ring;
  }

  put(name: string, vnodes: number = vnodesDefault): { status: PutStatus; ring: Ring } {
    this.checkVnodes(vnodes);
    const existing = this.byName.get(name);
    if (existing === undefined) return { status: 'created', ring: this.create(name, vnodes) };
    if (existing.vnodes === vnodes) return { status: 'unchanged', ring: existing };
    // Counted at the new vnodes: the limits must see the ring as it will be.
    const pointsAfter = [...existing.members.values()].reduce((sum, m) => sum + Placement.pointCount(vnodes, m.weight), 0);
    this.checkPoints(existing, pointsAfter);
    this.pointsTotal += pointsAfter - existing.placement.size;
    existing.reconfigure(vnodes);
    existing.version += 1;
    this.ctx.emit({ type: 'ring_configured', ring: name, vnodes, version: existing.version });
    return { status: 'changed', ring: existing };
  }

  delete(name: string): void {
    const ring = this.get(name);
    for (const member of ring.members.values()) member.lease?.members?.delete(member);
    this.pointsTotal -= ring.placement.size;
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
    if (lease !== null && existing?.lease !== lease && (lease.members?.size ?? 0) >= membersPerLeaseMax) {
      throw limitExceeded('membersPerLeaseMax', membersPerLeaseMax);
    }
    if (ring !== undefined && existing === undefined && ring.members.size >= this.ctx.limits.nodesPerRingMax) {
      throw limitExceeded('nodesPerRingMax', this.ctx.limits.nodesPerRingMax);
    }
    if (existing !== undefined && existing.weight === weight && existing.metaJson === metaJson && existing.lease === lease) {
      return { status: 'unchanged', ring: ring! };
    }
    const oldPoints = existing === undefined ? 0 : ring!.pointsFor(existing.weight);
    const newPoints = Placement.pointCount(ring?.vnodes ?? vnodesDefault, weight);
    const { pointsPerNodeMax } = this.ctx.limits;
    if (newPoints > pointsPerNodeMax) throw limitExceeded('pointsPerNodeMax', pointsPerNodeMax);
    if (ring !== undefined) this.checkPoints(ring, ring.placement.size - oldPoints + newPoints);
    else this.checkPointsTotal(newPoints);
    let status: PutStatus = 'changed';
    if (ring === undefined) {
      ring = this.create(ringName, vnodesDefault);
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
    member.lease?.members?.delete(member);
    ring.members.delete(id);
    this.pointsTotal -= ring.pointsFor(member.weight);
    ring.unplace(id);
    ring.version += 1;
    this.ctx.emit({ type: 'member_removed', ring: ringName, node: id, version: ring.version });
    return ring;
  }

  /** Removes every member bound to an ending lease (LeaseDependents). */
  dropLease(lease: Lease): MemberRef[] {
    const removed: MemberRef[] = [];
    for (const member of [...(lease.members ?? [])]) {
      removed.push({ ring: member.ring.name, node: member.id });
      this.removeMember(member.ring.name, member.id);
    }
    return removed;
  }

  lookup(ringName: string, keys: readonly string[], n: number, version?: number): LookupResult {
    const ring = this.live(ringName);
    this.checkVersion(ring, version);
    if (ring.placement.nodesPlaced === 0) {
      throw new LockringError('ring_empty', `ring ${JSON.stringify(ringName)} has no node with weight > 0`, {
        ring: ringName,
      });
    }
    const nodes: string[][] = new Array<string[]>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const out: string[] = [];
      ring.placement.lookup(keys[i]!, n, out);
      nodes[i] = out;
    }
    return { ring: ringName, version: ring.version, nodes };
  }

  /**
   * Restores a ring with its exact version and members from the log (recovery).
   * Emits nothing and checks no limit: the state was valid when it was logged.
   * Lease-bound members need their lease restored first.
   */
  restore(name: string, vnodes: number, version: number, members: readonly RestoredMember[]): Ring {
    assert(!this.byName.has(name), 'ring restored twice');
    const ring = new Ring(name, vnodes, this.ctx.hashing);
    for (const { id, weight, meta, leaseId } of members) {
      const lease = leaseId === null ? null : this.leases.byId.get(leaseId);
      assert(lease !== undefined, 'restored member names a lease that was not restored');
      const member: Member = { ring, id, weight, meta, metaJson: JSON.stringify(meta), lease };
      if (lease !== null) (lease.members ??= new Set()).add(member);
      ring.members.set(id, member);
      ring.place(member);
      this.pointsTotal += ring.pointsFor(weight);
    }
    ring.version = version;
    this.byName.set(name, ring);
    return ring;
  }

  private checkVersion(ring: Ring, version: number | undefined): void {
    if (version !== undefined && version !== ring.version) {
      throw new LockringError('stale_ring', `ring ${JSON.stringify(ring.name)} is at version ${ring.version}, not ${version}`, {
        ring: ring.name,
        version: ring.version,
      });
    }
  }

  private create(name: string, vnodes: number): Ring {
    const { ringsMax } = this.ctx.limits;
    if (this.byName.size >= ringsMax) throw limitExceeded('ringsMax', ringsMax);
    const ring = new Ring(name, vnodes, this.ctx.hashing);
    this.byName.set(name, ring);
    this.ctx.emit({ type: 'ring_configured', ring: name, vnodes, version: ring.version });
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
    this.pointsTotal -= existing === undefined ? 0 : ring.pointsFor(existing.weight);
    member.weight = weight;
    member.meta = meta;
    member.metaJson = metaJson;
    if (member.lease !== lease) {
      member.lease?.members?.delete(member);
      if (lease !== null) (lease.members ??= new Set()).add(member);
      member.lease = lease;
    }
    ring.members.set(id, member);
    if (placementChanged) ring.place(member);
    this.pointsTotal += ring.pointsFor(weight);
    ring.version += 1;
    this.ctx.emit({ type: 'member_put', ring: ring.name, node: id, weight, meta, leaseId: lease?.id ?? null, version: ring.version });
  }

  private checkVnodes(vnodes: number): void {
    const { vnodesMax } = this.ctx.limits;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > vnodesMax) {
      throw invalid(`vnodes must be an integer from 1 to ${vnodesMax}`, { field: 'vnodes' });
    }
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
