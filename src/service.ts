import { type Caller, authorize, authorizeHold, authorizeLease, mayRead, readableScopes } from './auth/access.js';
import { PrincipalUsage, type UsageKind } from './auth/usage.js';
import { LockringError, limitExceeded } from './domain/errors.js';
import type { HoldRef, MemberRef } from './domain/events.js';
import type { AcquireRequest, LockPage, LockView } from './domain/locks.js';
import { compareUtf8 } from './domain/names.js';
import type { Grant, Lease, WaiterOutcome } from './domain/model.js';
import type { LookupResult, MemberRequest, PutStatus } from './domain/rings.js';
import type { Ring } from './domain/ring.js';
import type { RingAlgorithm } from './domain/ring-algorithm.js';
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
  readonly algorithm: RingAlgorithm;
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
 *
 * Every command takes the `caller` (the auth token's principal, or null without
 * auth) and checks it here, so both transports enforce the same rules: the grant
 * for the action on the name (`403 forbidden`), lease ownership, and the per-token
 * caps on leases and waiters (`429 limit_exceeded`).
 */
export class LockringService {
  readonly usage: PrincipalUsage;
  /** Events the machine has emitted: a command during which this moved changed state. */
  private changes = 0;

  constructor(
    readonly machine: StateMachine,
    public durability: Durability,
    readonly metrics: Metrics,
    private readonly expiry: ExpiryLoop,
  ) {
    this.usage = new PrincipalUsage(machine.limits);
    // Leases a token holds, counted from the events so that every way a lease ends counts.
    machine.subscribe((event) => {
      this.changes += 1;
      if (event.type === 'lease_granted' && event.principal !== undefined) this.usage.add(event.principal, 'leases', 1);
      if (event.type === 'lease_ended' && event.principal !== undefined) this.usage.add(event.principal, 'leases', -1);
    });
  }

  grantLease(ttlMs: number, caller: Caller = null): Durable<LeaseBody> {
    authorize(caller, 'lease.write');
    this.checkUsage(caller, 'leases');
    return this.commit(() => this.leaseBody(this.machine.leases.grant(ttlMs, 'plain', caller?.name)));
  }

  inspectLease(id: string, caller: Caller = null): Durable<LeaseDetail> {
    this.ownLease(id, caller);
    return this.reveal((m) => {
      const lease = m.leases.live(id);
      return {
        ...this.leaseBody(lease),
        locks: [...lease.holds].map((hold) => ({ name: hold.name, token: hold.token })),
        members: [...(lease.members ?? [])].map((member) => ({ ring: member.ring.name, node: member.id })),
      };
    });
  }

  keepalive(id: string, ttlMs?: number, caller: Caller = null): Durable<LeaseBody> {
    this.ownLease(id, caller);
    // Only a new ttlMs is logged (after a restart every lease gets its full TTL anyway);
    // it, or the expiry of a lease found past its deadline, is durable before the answer.
    try {
      return this.answer((m) => this.leaseBody(m.leases.keepalive(id, ttlMs)));
    } finally {
      // A smaller ttlMs moves the deadline earlier than the timer may be armed for.
      this.expiry.poke();
    }
  }

  revokeLease(id: string, caller: Caller = null): Durable<{ id: string; released: HoldRef[]; removed: MemberRef[] }> {
    this.ownLease(id, caller);
    return this.commit(() => ({ id, ...this.machine.leases.revoke(id) }));
  }

  openSession(ttlMs: number, caller: Caller = null): Durable<Lease> {
    authorize(caller, 'lease.write');
    this.checkUsage(caller, 'leases');
    return this.commit(() => this.machine.leases.openSession(ttlMs, caller?.name));
  }

  /** Attaching logs nothing; a session found past its deadline is gone once that is durable. */
  attachSession(id: string, caller: Caller = null): Durable<Lease> {
    this.ownLease(id, caller);
    return this.answer((m) => m.leases.attach(id));
  }

  detachSession(id: string): void {
    this.machine.run((m) => m.leases.detach(id));
    this.expiry.poke();
  }

  /**
   * Grants now, or queues and resolves when granted; rejects with `lock_held` on
   * timeout. Aborting `signal` (the client went away) takes the waiter out at once.
   */
  acquire(request: AcquireRequest, signal?: AbortSignal, caller: Caller = null): Promise<Grant> | Grant {
    let result;
    // At its cap of queued acquires a token may still take a free lock: try without
    // queueing, and turn "it would have queued" into the per-token limit.
    const waitCapped = caller !== null && (request.waitMs ?? 0) > 0 && this.usage.full(caller.name, 'waiters') !== null;
    const changesBefore = this.changes;
    try {
      this.authorizeAcquire(request, caller);
      this.checkBacklog();
      const asked = caller === null ? request : { ...request, principal: caller.name, ...(waitCapped ? { waitMs: 0 } : {}) };
      result = this.machine.run((m) => m.locks.acquire(asked));
    } catch (error) {
      const refused = waitCapped && error instanceof LockringError && error.code === 'lock_held'
        ? limitExceeded('waitersPerTokenMax', this.machine.limits.waitersPerTokenMax)
        : error;
      this.countRefusal(refused);
      return this.refuse(refused, this.changes !== changesBefore);
    } finally {
      this.expiry.poke();
    }
    if ('granted' in result) {
      this.metrics.acquireTotal.inc({ result: 'granted' });
      return this.durable(result.granted);
    }
    const waiter = result.waiter;
    let counted = caller !== null;
    if (caller !== null) this.usage.add(caller.name, 'waiters', 1);
    const uncount = (): void => {
      if (counted) this.usage.add(caller!.name, 'waiters', -1);
      counted = false;
    };
    return new Promise<Grant>((resolve, reject) => {
      const onAbort = (): void => {
        uncount();
        this.machine.run((m) => m.locks.cancel(waiter));
        reject(new LockringError('invalid_request', 'the client went away while waiting'));
      };
      waiter.onSettle = (outcome: WaiterOutcome) => {
        uncount();
        signal?.removeEventListener('abort', onAbort);
        if (outcome.ok) {
          this.metrics.acquireTotal.inc({ result: 'granted' });
          const settled = this.durability.settled();
          if (settled === undefined) resolve(outcome.grant);
          else settled.then(() => resolve(outcome.grant), reject);
          return;
        }
        this.metrics.acquireTotal.inc({ result: outcome.error.code === 'lock_held' ? 'timeout' : 'rejected' });
        if (outcome.error.code !== 'lease_not_found') {
          reject(outcome.error);
          return;
        }
        // Its lease ended: told once that end is durable. The end's records follow this
        // call in the same command, so look at the log once the command is over.
        const error = outcome.error;
        void Promise.resolve()
          .then(() => this.durability.settled())
          .then(() => reject(error), reject);
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(name: string, token: number, caller: Caller = null): Durable<{ name: string; token: number; released: true }> {
    authorize(caller, 'lock.write', name);
    if (caller !== null) {
      const hold = this.machine.locks.byName.get(name)?.holders.get(token);
      if (hold !== undefined) authorizeHold(caller, name, token, hold.principal);
    }
    return this.commit(() => {
      this.machine.locks.release(name, token);
      return { name, token, released: true as const };
    });
  }

  check(name: string, token: number, caller: Caller = null): Durable<{ name: string; token: number; held: boolean }> {
    authorize(caller, 'lock.read', name);
    const before = this.changes;
    const held = this.machine.run((m) => m.locks.check(name, token));
    const result = { name, token, held };
    // "Not held" may tell of an end (an expiry, a release) the log is still writing.
    return held && this.changes === before ? result : this.durable(result);
  }

  inspectLock(name: string, caller: Caller = null): Durable<LockView> {
    authorize(caller, 'lock.read', name);
    return this.reveal((m) => m.locks.inspect(name));
  }

  /** A page of the locks under `prefix` that the caller may read, in name order. */
  listLocks(prefix: string, after: string | undefined, pageMax: number, caller: Caller = null): Durable<LockPage> {
    const scopes = readableScopes(caller, 'lock.read', prefix);
    if (scopes === null) return this.reveal((m) => m.locks.list(prefix, after, pageMax));
    return this.reveal((m) => {
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

  putRing(name: string, vnodes?: number, caller: Caller = null, algorithm?: RingAlgorithm): Durable<{ status: PutStatus; body: RingSummary }> {
    authorize(caller, 'ring.write', name);
    return this.commit(() => {
      const { status, ring } = this.machine.rings.put(name, { vnodes, algorithm });
      return { status, body: ringSummary(ring) };
    });
  }

  listRings(caller: Caller = null): { rings: (RingSummary & { nodes: number })[] } {
    const rings = [...this.machine.rings.byName.values()]
      .filter((ring) => mayRead(caller, 'ring.read', ring.name))
      .map((ring) => ({ ...ringSummary(ring), nodes: ring.members.size }));
    rings.sort((a, b) => compareUtf8(a.name, b.name));
    return { rings };
  }

  getRing(name: string, caller: Caller = null): RingDetail {
    authorize(caller, 'ring.read', name);
    const ring = this.machine.rings.get(name);
    return {
      ...ringSummary(ring),
      fingerprint: ring.fingerprint(),
      nodes: ring.sortedMembers().map((m) => ({ id: m.id, weight: m.weight, meta: m.meta, leaseId: m.lease?.id ?? null })),
    };
  }

  deleteRing(name: string, caller: Caller = null): Durable<{ name: string }> {
    authorize(caller, 'ring.write', name);
    return this.commit(() => {
      this.machine.rings.delete(name);
      return { name };
    });
  }

  putNode(
    ring: string,
    node: string,
    request: MemberRequest,
    caller: Caller = null,
  ): Durable<{ status: PutStatus; body: { ring: string; node: string; version: number } }> {
    authorize(caller, 'ring.write', ring);
    if (request.leaseId !== undefined) this.ownLease(request.leaseId, caller);
    return this.commit(() => {
      const { status, ring: target } = this.machine.rings.putMember(ring, node, request);
      return { status, body: { ring, node, version: target.version } };
    });
  }

  deleteNode(ring: string, node: string, caller: Caller = null): Durable<{ ring: string; node: string; version: number }> {
    authorize(caller, 'ring.write', ring);
    return this.commit(() => ({ ring, node, version: this.machine.rings.removeMember(ring, node).version }));
  }

  lookup(ring: string, keys: readonly string[], n: number, version?: number, caller: Caller = null): LookupResult {
    authorize(caller, 'ring.read', ring);
    const result = this.machine.rings.lookup(ring, keys, n, version);
    this.metrics.ringLookupsTotal.inc(keys.length);
    return result;
  }

  /** The caller may use lease `id`: it has lease rights and the lease is its own. */
  private ownLease(id: string, caller: Caller): void {
    if (caller === null) return;
    authorize(caller, 'lease.write');
    // A lease that does not exist is left to the command: 404 lease_not_found.
    const lease = this.machine.leases.byId.get(id);
    if (lease !== undefined) authorizeLease(caller, id, lease.principal);
  }

  private authorizeAcquire(request: AcquireRequest, caller: Caller): void {
    if (caller === null) return;
    authorize(caller, 'lock.write', request.name);
    if (request.leaseId !== undefined) this.ownLease(request.leaseId, caller);
    // Counted by countRefusal, as every limit an acquire runs into.
    else this.usage.check(caller.name, 'leases');
  }

  /** 429 when the caller's token is at its cap of `kind`. */
  private checkUsage(caller: Caller, kind: UsageKind): void {
    if (caller === null) return;
    this.usage.check(caller.name, kind, (limit) => this.metrics.limitExceededTotal.inc({ limit }));
  }

  /** Runs a state-changing command and answers once the log holds it. */
  private commit<T>(command: () => T): Durable<T> {
    const before = this.changes;
    let value: T;
    try {
      this.checkBacklog();
      value = this.machine.run(command);
    } catch (error) {
      this.countLimit(error);
      return this.refuse(error, this.changes !== before);
    } finally {
      this.expiry.poke();
    }
    return this.durable(value);
  }

  /**
   * Runs a command that usually changes nothing (a read, a keepalive). When it did
   * change state (a lease it found past its deadline and expired, a keepalive's new
   * ttlMs), its answer waits until that is durable.
   */
  private answer<T>(command: (machine: StateMachine) => T, waitForLog = false): Durable<T> {
    const before = this.changes;
    let value: T;
    try {
      value = this.machine.run(command);
    } catch (error) {
      return this.refuse(error, this.changes !== before);
    }
    return waitForLog || this.changes !== before ? this.durable(value) : value;
  }

  /**
   * A read that shows fencing tokens: answered once everything already in the log's
   * queue is durable, so no client sees a token a crash could hand out again.
   * Nothing pending (or no data directory): answered at once.
   */
  private reveal<T>(command: (machine: StateMachine) => T): Durable<T> {
    return this.answer(command, true);
  }

  /**
   * A disk slower than the request rate must not grow the log's queue without bound:
   * past walBacklogBytesMax, changes are refused (429) until the fsyncs catch up.
   */
  private checkBacklog(): void {
    const max = this.machine.limits.walBacklogBytesMax;
    if (this.durability.backlogBytes() > max) throw limitExceeded('walBacklogBytesMax', max);
  }

  private durable<T>(value: T): Durable<T> {
    const settled = this.durability.settled();
    return settled === undefined ? value : settled.then(() => value);
  }

  /**
   * Throws `error`, once the log is durable when the error may tell of a change that
   * is not yet: one the command made on the way (`changed`: a lease it found past its
   * deadline), or the end of a lease or hold made just before by the expiry loop or
   * another request. A client told that a lease or hold is gone must not find it
   * alive again after a crash.
   */
  private refuse(error: unknown, changed: boolean): Promise<never> {
    const tellsOfAnEnd = error instanceof LockringError && (error.code === 'lease_not_found' || error.code === 'not_holder');
    const settled = changed || tellsOfAnEnd ? this.durability.settled() : undefined;
    if (settled === undefined) return thrown(error);
    return settled.then(() => thrown(error));
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

function thrown(error: unknown): never {
  throw error;
}

function ringSummary(ring: Ring): RingSummary {
  return { name: ring.name, vnodes: ring.vnodes, version: ring.version, algorithm: ring.algorithm };
}
