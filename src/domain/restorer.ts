import type { DomainContext } from './context.js';
import type { HoldEnd, LeaseKind, Lease } from './model.js';
import type { Leases } from './leases.js';
import type { Locks, RestoredHold } from './locks.js';
import type { RingAlgorithm } from './ring-algorithm.js';
import type { RestoredHistory, RestoredMember, Rings } from './rings.js';
import type { Ring } from './ring.js';

/**
 * Recovery's door into the state machine (`StateMachine.restorer()`): state rebuilt
 * from a snapshot and the log enters here and nowhere else. Nothing emits events or
 * checks limits (the state was valid when it was logged). Every deadline restarts
 * from now: leases get their full TTL and lock-delays the time the log recorded,
 * so a restart only ever makes them later, never earlier.
 */
export class Restorer {
  constructor(
    private readonly ctx: DomainContext,
    private readonly leases: Leases,
    private readonly locks: Locks,
    private readonly rings: Rings,
  ) {}

  lease(id: string, ttlMs: number, kind: LeaseKind, principal?: string): Lease {
    return this.leases.restore(id, ttlMs, kind, principal);
  }

  /** A hold with its token, on a lease restored before it; a bounded one with what is left of its maxHoldMs. */
  hold(hold: RestoredHold, limit: number, maxHoldMs = 0): void {
    this.locks.restore(hold, limit, maxHoldMs);
  }

  /** A yield request pending on a hold restored before it, with what is left of its grace. */
  yieldRequest(name: string, token: number, graceMs: number, requestedAtWallMs: number): void {
    this.locks.restoreYield(name, token, graceMs, requestedAtWallMs);
  }

  /** How a hold ended, remembered for a late release's `not_holder` reason (oldest first). */
  endedHold(token: number, name: string, reason: HoldEnd): void {
    this.locks.restoreEnded(token, name, reason);
  }

  /** A lock-delay that was running: `delayMs` counted from now. */
  lockDelay(name: string, limit: number, delayMs: number): void {
    this.locks.restoreDelay(name, limit, delayMs);
  }

  ring(
    name: string,
    vnodes: number,
    version: number,
    members: readonly RestoredMember[],
    algorithm?: RingAlgorithm,
    history?: RestoredHistory,
  ): Ring {
    return this.rings.restore(name, vnodes, version, members, algorithm, history);
  }

  /** The fencing counter never issues `token` or anything below it again. */
  tokenFloor(token: number): void {
    this.ctx.fencing.advanceTo(token);
  }

  leaseById(id: string): Lease | undefined {
    return this.leases.byId.get(id);
  }
}
