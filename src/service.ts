import { LockringError } from './domain/errors.js';
import type { HoldRef, MemberRef } from './domain/events.js';
import type { AcquireRequest, LockPage, LockView } from './domain/locks.js';
import { compareUtf8 } from './domain/names.js';
import type { Grant, Lease, WaiterOutcome } from './domain/model.js';
import type { LookupResult, MemberRequest, PutStatus } from './domain/rings.js';
import type { Ring } from './domain/ring.js';
import type { StateMachine } from './domain/state-machine.js';
import type { ExpiryLoop } from './ops/expiry-loop.js';
import type { Metrics } from './ops/metrics.js';
import type { Durability } from './store/durability.js';

export interface LeaseBody {
  readonly id: string;
  readonly ttlMs: number;
  readonly expiresAt: number | null;
}

export interface LeaseDetail extends LeaseBody {
  readonly locks: HoldRef[];
  readonly members: MemberRef[];
}

export interface RingSummary {
  readonly name: string;
  readonly vnodes: number;
  readonly version: number;
}

export interface RingDetail extends RingSummary {
  readonly fingerprint: string;
  readonly nodes: { id: string; weight: number; meta: Readonly<Record<string, unknown>>; leaseId: string | null }[];
}

/** A result that may have to wait for the log to be durable before it is shown. */
export type Durable<T> = T | Promise<T>;

/**
 * The commands of lockring in wire shapes, shared by HTTP and WebSocket: each runs
 * through the state machine's one door, re-arms the expiry loop, counts metrics,
 * and answers only once what it changed is durable.
 */
export class LockringService {
  constructor(
    readonly machine: StateMachine,
    public durability: Durability,
    readonly metrics: Metrics,
    private readonly expiry: ExpiryLoop,
  ) {}

  grantLease(ttlMs: number): Durable<LeaseBody> {
    return this.commit(() => this.leaseBody(this.machine.leases.grant(ttlMs)));
  }

  inspectLease(id: string): LeaseDetail {
    return this.machine.run((m) => {
      const lease = m.leases.live(id);
      return {
        ...this.leaseBody(lease),
        locks: [...lease.holds].map((hold) => ({ name: hold.name, token: hold.token })),
        members: [...lease.members].map((member) => ({ ring: member.ring.name, node: member.id })),
      };
    });
  }

  keepalive(id: string, ttlMs?: number): LeaseBody {
    // Keepalives are not logged: after a restart every lease gets its full TTL anyway.
    try {
      return this.machine.run((m) => this.leaseBody(m.leases.keepalive(id, ttlMs)));
    } finally {
      // A smaller ttlMs moves the deadline earlier than the timer may be armed for.
      this.expiry.poke();
    }
  }

  revokeLease(id: string): Durable<{ id: string; released: HoldRef[]; removed: MemberRef[] }> {
    return this.commit(() => ({ id, ...this.machine.leases.revoke(id) }));
  }

  openSession(ttlMs: number): Durable<Lease> {
    return this.commit(() => this.machine.leases.openSession(ttlMs));
  }

  attachSession(id: string): Lease {
    return this.machine.run((m) => m.leases.attach(id));
  }

  detachSession(id: string): void {
    this.machine.run((m) => m.leases.detach(id));
    this.expiry.poke();
  }

  /**
   * Grants now, or queues and resolves when granted; rejects with `lock_held` on
   * timeout. Aborting `signal` (the client went away) takes the waiter out at once.
   */
  acquire(request: AcquireRequest, signal?: AbortSignal): Promise<Grant> | Grant {
    let result;
    try {
      result = this.machine.run((m) => m.locks.acquire(request));
    } catch (error) {
      this.countRefusal(error);
      throw error;
    } finally {
      this.expiry.poke();
    }
    if ('granted' in result) {
      this.metrics.acquireTotal.inc({ result: 'granted' });
      return this.durable(result.granted);
    }
    const waiter = result.waiter;
    return new Promise<Grant>((resolve, reject) => {
      const onAbort = (): void => {
        this.machine.run((m) => m.locks.cancel(waiter));
        reject(new LockringError('invalid_request', 'the client went away while waiting'));
      };
      waiter.onSettle = (outcome: WaiterOutcome) => {
        signal?.removeEventListener('abort', onAbort);
        if (outcome.ok) {
          this.metrics.acquireTotal.inc({ result: 'granted' });
          const settled = this.durability.settled();
          if (settled === undefined) resolve(outcome.grant);
          else settled.then(() => resolve(outcome.grant), reject);
          return;
        }
        this.metrics.acquireTotal.inc({ result: outcome.error.code === 'lock_held' ? 'timeout' : 'rejected' });
        reject(outcome.error);
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(name: string, token: number): Durable<{ name: string; token: number; released: true }> {
    return this.commit(() => {
      this.machine.locks.release(name, token);
      return { name, token, released: true as const };
    });
  }

  check(name: string, token: number): { name: string; token: number; held: boolean } {
    const held = this.machine.run((m) => m.locks.check(name, token));
    return { name, token, held };
  }

  inspectLock(name: string): LockView {
    return this.machine.run((m) => m.locks.inspect(name));
  }

  listLocks(prefix: string, after: string | undefined, pageMax: number): LockPage {
    return this.machine.run((m) => m.locks.list(prefix, after, pageMax));
  }

  putRing(name: string, vnodes?: number): Durable<{ status: PutStatus; body: RingSummary }> {
    return this.commit(() => {
      const { status, ring } = this.machine.rings.put(name, vnodes);
      return { status, body: ringSummary(ring) };
    });
  }

  listRings(): { rings: (RingSummary & { nodes: number })[] } {
    const rings = [...this.machine.rings.byName.values()].map((ring) => ({ ...ringSummary(ring), nodes: ring.members.size }));
    rings.sort((a, b) => compareUtf8(a.name, b.name));
    return { rings };
  }

  getRing(name: string): RingDetail {
    const ring = this.machine.rings.get(name);
    return {
      ...ringSummary(ring),
      fingerprint: ring.fingerprint(),
      nodes: ring.sortedMembers().map((m) => ({ id: m.id, weight: m.weight, meta: m.meta, leaseId: m.lease?.id ?? null })),
    };
  }

  deleteRing(name: string): Durable<{ name: string }> {
    return this.commit(() => {
      this.machine.rings.delete(name);
      return { name };
    });
  }

  putNode(ring: string, node: string, request: MemberRequest): Durable<{ status: PutStatus; body: { ring: string; node: string; version: number } }> {
    return this.commit(() => {
      const { status, ring: target } = this.machine.rings.putMember(ring, node, request);
      return { status, body: { ring, node, version: target.version } };
    });
  }

  deleteNode(ring: string, node: string): Durable<{ ring: string; node: string; version: number }> {
    return this.commit(() => ({ ring, node, version: this.machine.rings.removeMember(ring, node).version }));
  }

  lookup(ring: string, keys: readonly string[], n: number, version?: number): LookupResult {
    const result = this.machine.rings.lookup(ring, keys, n, version);
    this.metrics.ringLookupsTotal.inc(keys.length);
    return result;
  }

  /** Runs a state-changing command and answers once the log holds it. */
  private commit<T>(command: () => T): Durable<T> {
    let value: T;
    try {
      value = this.machine.run(command);
    } catch (error) {
      this.countLimit(error);
      throw error;
    } finally {
      this.expiry.poke();
    }
    return this.durable(value);
  }

  private durable<T>(value: T): Durable<T> {
    const settled = this.durability.settled();
    return settled === undefined ? value : settled.then(() => value);
  }

  private leaseBody(lease: Lease): LeaseBody {
    return { id: lease.id, ttlMs: lease.ttlMs, expiresAt: this.machine.leases.expiresAt(lease) };
  }

  private countRefusal(error: unknown): void {
    const conflict = error instanceof LockringError && (error.code === 'lock_held' || error.code === 'limit_mismatch');
    this.metrics.acquireTotal.inc({ result: conflict ? 'conflict' : 'rejected' });
    this.countLimit(error);
  }

  private countLimit(error: unknown): void {
    if (error instanceof LockringError && error.code === 'limit_exceeded') {
      this.metrics.limitExceededTotal.inc({ limit: String(error.details['limit']) });
    }
  }
}

function ringSummary(ring: Ring): RingSummary {
  return { name: ring.name, vnodes: ring.vnodes, version: ring.version };
}
