import { type Caller, authorize, mayRead, readableScopes } from '../auth/access.js';
import type { LockPage, LockView, WaiterPage } from '../domain/locks.js';
import { leaseMembers } from '../domain/lease-extra.js';
import type { Lease, LockMode } from '../domain/model.js';
import { compareUtf8 } from '../domain/names.js';
import type { Ring } from '../domain/ring.js';
import { type LookupResult, type OwnerLookup, lookupArrays } from '../domain/rings.js';
import type { StateMachine } from '../domain/state-machine.js';
import type { Metrics } from '../ops/metrics.js';
import type { CheckResult, LeaseDetail, RingDetail, RingSummary } from '../protocol/wire.js';
import type { CommitPipeline, Durable } from './commit-pipeline.js';

export interface LeaseBody {
  readonly id: string;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
}

// One declaration of the shapes clients read: the protocol's wire types.
export type { LeaseDetail, RingDetail, RingSummary } from '../protocol/wire.js';

/**
 * The reads, in wire shapes. Each runs through the door like a command (it may
 * find a lease past its deadline and end it) and is shown through the pipeline:
 * a read never shows a token, a TTL or a ring version the log could still lose.
 */
export class Views {
  constructor(
    private readonly machine: StateMachine,
    private readonly pipeline: CommitPipeline,
    private readonly metrics: Metrics,
  ) {}

  lease(id: string): Durable<LeaseDetail> {
    return this.pipeline.run((m) => {
      const lease = m.leases.live(id);
      return {
        ...this.leaseBody(lease),
        locks: m.locks.holdsOn(lease).map((hold) => ({ name: hold.name, token: hold.token })),
        members: [...(leaseMembers(lease) ?? [])].map((member) => ({ ring: member.ring.name, node: member.id })),
      };
    });
  }

  check(name: string, token: number, caller: Caller, mode?: LockMode): Durable<CheckResult> {
    return this.pipeline.run((m) => {
      authorize(caller, 'lock.read', name);
      if (!m.locks.check(name, token, mode)) return { name, token, held: false };
      const yieldBy = m.locks.yieldBy(name, token);
      return yieldBy === undefined ? { name, token, held: true } : { name, token, held: true, yieldBy };
    });
  }

  lock(name: string, caller: Caller): Durable<LockView> {
    return this.pipeline.run((m) => {
      authorize(caller, 'lock.read', name);
      return m.locks.inspect(name);
    });
  }

  /** A page of the queue of `name`, in grant order. */
  lockWaiters(name: string, after: number, pageMax: number, caller: Caller): Durable<WaiterPage> {
    return this.pipeline.run((m) => {
      authorize(caller, 'lock.read', name);
      return m.locks.waiters(name, after, pageMax);
    });
  }

  /** A page of the locks under `prefix` that the caller may read, in name order. */
  locks(prefix: string, after: string | undefined, pageMax: number, caller: Caller): Durable<LockPage> {
    return this.pipeline.run((m) => {
      const scopes = readableScopes(caller, 'lock.read', prefix);
      if (scopes === null) return m.locks.list(prefix, after, pageMax);
      const locks: LockView[] = [];
      for (let i = 0; i < scopes.length; i++) {
        const page = m.locks.list(scopes[i]!, after, pageMax - locks.length);
        locks.push(...page.locks);
        if (page.next !== undefined) return { locks, next: page.next };
        if (locks.length < pageMax) continue;
        const more = scopes.slice(i + 1).some((scope) => m.locks.list(scope, after, 1).locks.length > 0);
        return more ? { locks, next: locks[pageMax - 1]!.name } : { locks };
      }
      return { locks };
    });
  }

  rings(caller: Caller): Durable<{ rings: (RingSummary & { nodes: number })[] }> {
    return this.pipeline.run((m) => {
      const rings = [...m.rings.byName.values()]
        .filter((ring) => mayRead(caller, 'ring.read', ring.name))
        .map((ring) => ({ ...ringSummary(m.rings.live(ring.name)), nodes: ring.members.size }));
      rings.sort((a, b) => compareUtf8(a.name, b.name));
      return { rings };
    });
  }

  ring(name: string, caller: Caller): Durable<RingDetail> {
    return this.pipeline.run((m) => {
      authorize(caller, 'ring.read', name);
      const ring = m.rings.live(name);
      return {
        ...ringSummary(ring),
        fingerprint: ring.fingerprint(),
        nodes: ring.sortedMembers().map((member) => ({
          id: member.id, weight: member.weight, meta: member.meta, leaseId: member.lease?.id ?? null,
        })),
      };
    });
  }

  /** Owners of `keys`; with `previous`, also their owners at that kept version (handover). */
  lookup(ring: string, keys: readonly string[], n: number, version: number | undefined, caller: Caller, previous?: number): Durable<LookupResult> {
    return this.pipeline.run((m) => lookupArrays(this.ownersOf(m, ring, keys, n, version, caller, previous)));
  }

  /** As `lookup`, the owners as tables of slots, for a reply written straight from them. */
  lookupOwners(ring: string, keys: readonly string[], n: number, version: number | undefined, caller: Caller, previous?: number): Durable<OwnerLookup> {
    return this.pipeline.run((m) => this.ownersOf(m, ring, keys, n, version, caller, previous));
  }

  private ownersOf(m: StateMachine, ring: string, keys: readonly string[], n: number, version: number | undefined, caller: Caller, previous?: number): OwnerLookup {
    authorize(caller, 'ring.read', ring);
    const result = m.rings.lookupOwners(ring, keys, n, version, previous);
    this.metrics.ringLookupsTotal.inc(keys.length);
    return result;
  }

  leaseBody(lease: Lease): LeaseBody {
    return { id: lease.id, ttlMs: lease.ttlMs, expiresAt: this.machine.leases.expiresAt(lease) };
  }
}

export function ringSummary(ring: Ring): RingSummary {
  return { name: ring.name, vnodes: ring.vnodes, version: ring.version, algorithm: ring.algorithm };
}
