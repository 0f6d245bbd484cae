import type { Caller } from './auth/access.js';
import type { PrincipalUsage } from './auth/usage.js';
import { LockringError, limitExceeded } from './domain/errors.js';
import type { HoldRef, MemberRef } from './domain/events.js';
import type { MultiAcquireRequest } from './domain/lock-groups.js';
import type { AcquireRequest, LockPage, LockView, WaiterPage } from './domain/locks.js';
import type { Grant, GroupOutcome, Lease, LockMode, MultiGrant, Waiter, WaiterGroup, WaiterOutcome } from './domain/model.js';
import type { LookupResult, MemberRequest, OwnerLookup, PutStatus } from './domain/rings.js';
import type { RingAlgorithm } from './domain/ring-algorithm.js';
import type { StateMachine } from './domain/state-machine.js';
import type { ExpiryLoop } from './ops/expiry-loop.js';
import type { Metrics } from './ops/metrics.js';
import { Admission } from './service/admission.js';
import { CommitPipeline, type Durable } from './service/commit-pipeline.js';
import { type LeaseBody, type LeaseDetail, type RingDetail, type RingSummary, Views, ringSummary } from './service/views.js';
import type { CheckResult } from './protocol/wire.js';
import type { Durability } from './store/durability.js';

export type { Durable } from './service/commit-pipeline.js';
export type { LeaseBody, LeaseDetail, RingDetail, RingSummary } from './service/views.js';

/** What a waiter (Grant) or a group (MultiGrant) is settled with. */
type SettleOutcome<T> = T extends MultiGrant ? GroupOutcome : WaiterOutcome;

/**
 * The commands of lockring in wire shapes, shared by HTTP and WebSocket. Each
 * request passes admission (auth, quotas, backlog), runs through the state
 * machine's one door, and is answered through the commit pipeline: every answer,
 * refusal and read waits until the log is durable through the position its command
 * reached. Reads live in `views`; recovery enters through `StateMachine.restorer`.
 *
 * Every command takes the `caller` (the auth token's principal, or null without
 * auth), so both transports enforce the same rules.
 */
export class LockringService {
  readonly pipeline: CommitPipeline;
  readonly admission: Admission;
  readonly views: Views;

  constructor(
    readonly machine: StateMachine,
    durability: Durability,
    readonly metrics: Metrics,
    private readonly expiry: ExpiryLoop,
  ) {
    this.pipeline = new CommitPipeline(machine, durability);
    this.admission = new Admission(machine, metrics, () => this.pipeline.durability);
    this.views = new Views(machine, this.pipeline, metrics);
  }

  get durability(): Durability {
    return this.pipeline.durability;
  }

  set durability(durability: Durability) {
    this.pipeline.durability = durability;
  }

  get usage(): PrincipalUsage {
    return this.admission.usage;
  }

  grantLease(ttlMs: number, caller: Caller = null): Durable<LeaseBody> {
    return this.change(
      () => this.admission.newLease(caller),
      () => this.views.leaseBody(this.machine.leases.grant(ttlMs, 'plain', caller?.name)),
    );
  }

  inspectLease(id: string, caller: Caller = null): Durable<LeaseDetail> {
    return this.read(() => this.admission.ownLease(id, caller), () => this.views.lease(id));
  }

  keepalive(id: string, ttlMs?: number, caller: Caller = null): Durable<LeaseBody> {
    // A smaller ttlMs moves the deadline earlier than the timer may be armed for (change pokes it).
    return this.change(
      () => this.admission.ownLease(id, caller),
      () => this.views.leaseBody(this.machine.leases.keepalive(id, ttlMs)),
    );
  }

  revokeLease(id: string, caller: Caller = null): Durable<{ id: string; released: HoldRef[]; removed: MemberRef[] }> {
    return this.change(() => this.admission.ownLease(id, caller), () => ({ id, ...this.machine.leases.revoke(id) }));
  }

  openSession(ttlMs: number, caller: Caller = null): Durable<Lease> {
    return this.change(() => this.admission.newLease(caller), () => this.machine.leases.openSession(ttlMs, caller?.name));
  }

  /** Attaching logs nothing, but its answer waits like any other output. */
  attachSession(id: string, caller: Caller = null): Durable<Lease> {
    return this.pipeline.run((m) => {
      this.admission.ownLease(id, caller);
      return m.leases.attach(id);
    });
  }

  detachSession(id: string): void {
    this.machine.run((m) => m.leases.detach(id));
    this.expiry.poke();
  }

  /**
   * Grants now, or queues and resolves when granted; rejects with `lock_held` on
   * timeout. Aborting `signal` (the client went away) takes the waiter out at once.
   * `queued` hears of the waiter when the acquire joins the queue (position pushes).
   */
  acquire(request: AcquireRequest, signal?: AbortSignal, caller: Caller = null, queued?: (waiter: Waiter) => void): Durable<Grant> {
    const result = this.tryAcquire(request.waitMs, caller, (asked) => {
      this.admission.acquire(request, caller);
      return this.machine.locks.acquire({ ...request, ...asked });
    });
    if (result instanceof Promise) return result;
    if ('granted' in result) return this.granted(result.granted);
    const waiter = result.waiter;
    const waiting = this.wait<Grant>(caller, signal, (settle) => (waiter.onSettle = settle), () => this.machine.locks.cancel(waiter));
    queued?.(waiter);
    return waiting;
  }

  /**
   * Several names, all granted in one command or none (see src/domain/lock-groups.ts);
   * waits as `acquire` does, as one place in each name's queue.
   */
  acquireAll(request: MultiAcquireRequest, signal?: AbortSignal, caller: Caller = null, queued?: (group: WaiterGroup) => void): Durable<MultiGrant> {
    const result = this.tryAcquire(request.waitMs, caller, (asked) => {
      for (const item of request.locks) this.admission.acquire({ ...request, name: item.name }, caller);
      return this.machine.locks.acquireAll({ ...request, ...asked });
    });
    if (result instanceof Promise) return result;
    if ('granted' in result) return this.granted(result.granted);
    const group: WaiterGroup = result.group;
    const waiting = this.wait<MultiGrant>(caller, signal, (settle) => (group.onSettle = settle), () => this.machine.locks.cancelAll(group));
    queued?.(group);
    return waiting;
  }

  /** Releases every hold named, in one command, or none (not_holder names the first not held). */
  releaseAll(holds: readonly { name: string; token: number }[], caller: Caller = null): Durable<{ released: { name: string; token: number }[] }> {
    return this.change(() => {
      for (const hold of holds) this.admission.release(hold.name, hold.token, caller);
    }, () => ({ released: this.machine.locks.releaseAll(holds).map((grant) => ({ name: grant.name, token: grant.token })) }));
  }

  release(name: string, token: number, caller: Caller = null): Durable<{ name: string; token: number; released: true }> {
    return this.change(() => this.admission.release(name, token, caller), () => {
      this.machine.locks.release(name, token);
      return { name, token, released: true as const };
    });
  }

  check(name: string, token: number, caller: Caller = null, mode?: LockMode): Durable<CheckResult> {
    return this.views.check(name, token, caller, mode);
  }

  inspectLock(name: string, caller: Caller = null): Durable<LockView> {
    return this.views.lock(name, caller);
  }

  lockWaiters(name: string, after: number, pageMax: number, caller: Caller = null): Durable<WaiterPage> {
    return this.views.lockWaiters(name, after, pageMax, caller);
  }

  listLocks(prefix: string, after: string | undefined, pageMax: number, caller: Caller = null): Durable<LockPage> {
    return this.views.locks(prefix, after, pageMax, caller);
  }

  putRing(name: string, vnodes?: number, caller: Caller = null, algorithm?: RingAlgorithm): Durable<{ status: PutStatus; body: RingSummary }> {
    return this.change(() => this.admission.authorize(caller, 'ring.write', name), () => {
      const { status, ring } = this.machine.rings.put(name, { vnodes, algorithm });
      return { status, body: ringSummary(ring) };
    });
  }

  listRings(caller: Caller = null): Durable<{ rings: (RingSummary & { nodes: number })[] }> {
    return this.views.rings(caller);
  }

  getRing(name: string, caller: Caller = null): Durable<RingDetail> {
    return this.views.ring(name, caller);
  }

  deleteRing(name: string, caller: Caller = null): Durable<{ name: string }> {
    return this.change(() => this.admission.authorize(caller, 'ring.write', name), () => {
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
    const admit = (): void => {
      this.admission.authorize(caller, 'ring.write', ring);
      if (request.leaseId !== undefined) this.admission.ownLease(request.leaseId, caller);
    };
    return this.change(admit, () => {
      const { status, ring: target } = this.machine.rings.putMember(ring, node, request);
      return { status, body: { ring, node, version: target.version } };
    });
  }

  deleteNode(ring: string, node: string, caller: Caller = null): Durable<{ ring: string; node: string; version: number }> {
    return this.change(
      () => this.admission.authorize(caller, 'ring.write', ring),
      () => ({ ring, node, version: this.machine.rings.removeMember(ring, node).version }),
    );
  }

  lookup(ring: string, keys: readonly string[], n: number, version?: number, caller: Caller = null, previous?: number): Durable<LookupResult> {
    return this.views.lookup(ring, keys, n, version, caller, previous);
  }

  /** As `lookup`, the owners as tables (the HTTP batch route writes its reply from them). */
  lookupOwners(ring: string, keys: readonly string[], n: number, version?: number, caller: Caller = null, previous?: number): Durable<OwnerLookup> {
    return this.views.lookupOwners(ring, keys, n, version, caller, previous);
  }

  /**
   * A state-changing command: admission (`admit`: auth, ownership, quotas) and the
   * backlog check run inside the door, so a refusal leaves through the pipeline as
   * every other output does.
   */
  private change<T>(admit: () => void, command: () => T): Durable<T> {
    try {
      return this.pipeline.run(() => {
        try {
          admit();
          this.admission.checkBacklog();
          return command();
        } catch (error) {
          this.admission.countLimit(error);
          throw error;
        }
      });
    } finally {
      this.expiry.poke();
    }
  }

  /** A read: admission inside the door, then the view. */
  private read<T>(admit: () => void, view: () => Durable<T>): Durable<T> {
    try {
      admit();
    } catch (error) {
      return this.pipeline.refuse(error);
    }
    return view();
  }

  /**
   * Runs an acquire (single or multi) through the door. At its cap of queued acquires
   * a token may still take free locks: `asked` tries without queueing, and "it would
   * have queued" becomes the per-token limit. A refusal comes back as a promise.
   */
  private tryAcquire<R>(
    waitMs: number | undefined,
    caller: Caller,
    command: (asked: { principal?: string; waitMs?: number; yieldGraceMs?: undefined }) => R,
  ): R | Promise<never> {
    const waitCapped = this.admission.waitCapped(caller, waitMs);
    try {
      // Capped: a try-lock, which asks nobody to yield.
      const asked = caller === null ? {} : { principal: caller.name, ...(waitCapped ? { waitMs: 0, yieldGraceMs: undefined } : {}) };
      return this.machine.run(() => command(asked));
    } catch (error) {
      const refused = waitCapped && error instanceof LockringError && error.code === 'lock_held'
        ? limitExceeded('waitersPerTokenMax', this.machine.limits.waitersPerTokenMax)
        : error;
      this.countRefusal(refused);
      return this.pipeline.refuse(refused);
    } finally {
      this.expiry.poke();
    }
  }

  private granted<T>(value: T): Durable<T> {
    this.metrics.acquires.add('granted');
    return this.pipeline.release(value);
  }

  /**
   * A queued acquire (one waiter or a multi-lock's group): `register` hands the domain
   * the settle callback, `cancel` takes it out when the client goes away. Its answer,
   * when it comes, goes through the pipeline like any other.
   */
  private wait<T>(
    caller: Caller,
    signal: AbortSignal | undefined,
    register: (settle: (outcome: SettleOutcome<T>) => void) => void,
    cancel: () => void,
  ): Promise<T> {
    let counted = caller !== null;
    if (caller !== null) this.usage.add(caller.name, 'waiters', 1);
    const uncount = (): void => {
      if (counted) this.usage.add(caller!.name, 'waiters', -1);
      counted = false;
    };
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        uncount();
        this.machine.run(cancel);
        reject(new LockringError('invalid_request', 'the client went away while waiting'));
      };
      register((outcome) => {
        uncount();
        signal?.removeEventListener('abort', onAbort);
        this.countSettled(outcome);
        // Settled inside a command (a release, an expiry): stamped at its end.
        if (outcome.ok) {
          const value = 'grant' in outcome ? outcome.grant : outcome.granted;
          this.pipeline.show(() => resolve(value as T), reject);
        } else {
          this.pipeline.show(() => reject(outcome.error), reject);
        }
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private countSettled(outcome: WaiterOutcome | GroupOutcome): void {
    if (outcome.ok) this.metrics.acquires.add('granted');
    else this.metrics.acquires.add(outcome.error.code === 'lock_held' ? 'timeout' : 'rejected');
  }

  private countRefusal(error: unknown): void {
    const conflict = error instanceof LockringError && (error.code === 'lock_held' || error.code === 'limit_mismatch' || error.code === 'mode_mismatch');
    this.metrics.acquires.add(conflict ? 'conflict' : 'rejected');
    this.admission.countLimit(error);
  }
}
