import { type Caller, authorize, authorizeHold, authorizeLease } from '../auth/access.js';
import { PrincipalUsage, type UsageKind } from '../auth/usage.js';
import { LockringError, limitExceeded } from '../domain/errors.js';
import type { AcquireRequest } from '../domain/locks.js';
import type { StateMachine } from '../domain/state-machine.js';
import type { Metrics } from '../ops/metrics.js';
import type { Durability } from '../store/durability.js';

/**
 * What a request must pass before its command runs, the same for every transport:
 * the auth token's grant for the action on the name (`403 forbidden`), ownership of
 * the lease it names, the per-token caps (`429 limit_exceeded`), and the log's
 * backlog. Nothing here changes state; a refusal here is thrown before the door.
 */
export class Admission {
  readonly usage: PrincipalUsage;

  constructor(
    private readonly machine: StateMachine,
    private readonly metrics: Metrics,
    private readonly durability: () => Durability,
  ) {
    this.usage = new PrincipalUsage(machine.limits);
    // Leases a token holds, counted from the events so that every way a lease ends counts.
    machine.subscribe((event) => {
      if (event.type === 'lease_granted' && event.principal !== undefined) this.usage.add(event.principal, 'leases', 1);
      if (event.type === 'lease_ended' && event.principal !== undefined) this.usage.add(event.principal, 'leases', -1);
    });
  }

  /** The caller's token grants `action` (on `name`), or 403 forbidden. */
  authorize(caller: Caller, action: Parameters<typeof authorize>[1], name?: string): void {
    authorize(caller, action, name);
  }

  /** May create a lease: lease rights, under the token's lease cap. */
  newLease(caller: Caller): void {
    authorize(caller, 'lease.write');
    this.checkUsage(caller, 'leases');
  }

  /** The caller may use lease `id`: it has lease rights and the lease is its own. */
  ownLease(id: string, caller: Caller): void {
    if (caller === null) return;
    authorize(caller, 'lease.write');
    // A lease that does not exist is left to the command: 404 lease_not_found.
    const lease = this.machine.leases.byId.get(id);
    if (lease !== undefined) authorizeLease(caller, id, lease.principal);
  }

  acquire(request: AcquireRequest, caller: Caller): void {
    this.checkBacklog();
    if (caller === null) return;
    authorize(caller, 'lock.write', request.name);
    if (request.leaseId !== undefined) this.ownLease(request.leaseId, caller);
    // Counted by countRefusal, as every limit an acquire runs into.
    else this.usage.check(caller.name, 'leases');
  }

  release(name: string, token: number, caller: Caller): void {
    authorize(caller, 'lock.write', name);
    if (caller === null) return;
    const hold = this.machine.locks.holderOf(name, token);
    if (hold !== undefined) authorizeHold(caller, name, token, hold.principal);
  }

  /** True when a waiting acquire by `caller` would pass its cap of queued acquires. */
  waitCapped(caller: Caller, waitMs: number | undefined): boolean {
    return caller !== null && (waitMs ?? 0) > 0 && this.usage.full(caller.name, 'waiters') !== null;
  }

  /**
   * A disk slower than the request rate must not grow the log's queue without bound:
   * past walBacklogBytesMax, changes are refused (429) until the fsyncs catch up.
   */
  checkBacklog(): void {
    const max = this.machine.limits.walBacklogBytesMax;
    if (this.durability().backlogBytes() > max) throw limitExceeded('walBacklogBytesMax', max);
  }

  /** 429 when the caller's token is at its cap of `kind`. */
  private checkUsage(caller: Caller, kind: UsageKind): void {
    if (caller === null) return;
    this.usage.check(caller.name, kind, (limit) => this.metrics.limitExceededTotal.inc({ limit }));
  }

  countLimit(error: unknown): void {
    if (error instanceof LockringError && error.code === 'limit_exceeded') {
      this.metrics.limitExceededTotal.inc({ limit: String(error.details['limit']) });
    }
  }
}
