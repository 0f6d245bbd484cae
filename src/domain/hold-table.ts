import { grown } from './typed-columns.js';
import { type HoldExtra, holdExtra } from './hold-extra.js';
import type { Lease, Lock, LockMode, MaxHold, YieldRequest } from './model.js';

/** A hold's row in its table; `noHold` names none. */
export type HoldSlot = number;
export const noHold: HoldSlot = -1;

/**
 * A hold as views, snapshots and tests read it: a copy of its row, made on demand.
 * The domain's own paths read the table's columns and make none.
 */
export interface HoldRecord {
  readonly name: string;
  readonly mode: LockMode;
  readonly token: number;
  readonly owner: string;
  readonly lease: Lease;
  readonly acquiredAtWallMs: number;
  readonly principal?: string | undefined;
  readonly lockDelayMs: number;
  readonly priority: number;
  readonly maxHold: MaxHold | null;
  readonly yieldRequest: YieldRequest | null;
}

const initialRows = 1024;
/** Rows added when the table is full: half again, so a large table is at most a third empty. */
const growth = 1.5;
const modeRead = 1;

/**
 * Every live hold of the machine, one row each, in columns: numbers in typed arrays,
 * references in plain arrays, nothing per hold that is an object of its own. A hold
 * used to be an object of ten fields (104 B, and 16 B more for its grant time as a
 * boxed double); a row costs 57 B and gives the collector no object to trace. Rows of
 * ended holds are reused through a free list.
 *
 * A hold is named by its row number, valid while the hold lives. What may outlive the
 * hold (a deadline entry, a caller's reference) keeps its fencing token beside the
 * row: a token is never issued twice, so `holds(slot, token)` tells a live hold from a
 * reused row.
 *
 * The holds on one lease are a list threaded through the rows (`leasePrev`,
 * `leaseNext`, the lease's `firstHold` and `lastHold`), in grant order: a lease's end
 * walks only its own holds, and taking one out is O(1).
 */
export class HoldTable {
  /** The fencing token; 0 on a free row (tokens start at 1). */
  private tokens = new Float64Array(initialRows);
  /** When it was granted, on the wall clock: what views show and the log keeps. */
  private grantedAtWallMs = new Float64Array(initialRows);
  private leasePrev = new Int32Array(initialRows);
  private leaseNext = new Int32Array(initialRows);
  private modes = new Uint8Array(initialRows);
  /**
   * The lock held (its name is the hold's name; the lock lives while it has holders),
   * or for a lone hold, the name alone: a name held by one write hold and nothing else
   * has no Lock object (locks.ts).
   */
  private readonly locks: (Lock | string | undefined)[] = [];
  private readonly leases: (Lease | undefined)[] = [];
  private readonly owners: string[] = [];
  /** Lock-delay, priority, principal, bound and yield request, for the few holds with any. */
  private readonly extras: (HoldExtra | null)[] = [];
  private readonly free: HoldSlot[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** A new hold, linked last on its lease's list; `lock` is a name alone for a lone hold. */
  add(lock: Lock | string, lease: Lease, token: number, mode: LockMode, owner: string, acquiredAtWallMs: number, extra: HoldExtra | null): HoldSlot {
    const slot = this.takeRow();
    this.tokens[slot] = token;
    this.grantedAtWallMs[slot] = acquiredAtWallMs;
    this.modes[slot] = mode === 'read' ? modeRead : 0;
    this.locks[slot] = lock;
    this.leases[slot] = lease;
    this.owners[slot] = owner;
    this.extras[slot] = extra;
    this.link(lease, slot);
    this.count += 1;
    return slot;
  }

  /** Ends the row of a live hold: off its lease's list, its references dropped, free for reuse. */
  remove(slot: HoldSlot): void {
    this.unlink(this.leases[slot]!, slot);
    this.tokens[slot] = 0;
    this.locks[slot] = undefined;
    this.leases[slot] = undefined;
    this.owners[slot] = '';
    this.extras[slot] = null;
    this.free.push(slot);
    this.count -= 1;
  }

  /** Whether `slot` is the live hold of `token` (not a row ended or reused since). */
  holds(slot: HoldSlot, token: number): boolean {
    return slot >= 0 && this.tokens[slot] === token;
  }

  token(slot: HoldSlot): number {
    return this.tokens[slot]!;
  }

  /** The hold's Lock, or its name alone when it is a lone hold. */
  lockOrName(slot: HoldSlot): Lock | string {
    return this.locks[slot]!;
  }

  /** A lone hold's name got its Lock object (a second holder or a waiter came). */
  setLock(slot: HoldSlot, lock: Lock): void {
    this.locks[slot] = lock;
  }

  name(slot: HoldSlot): string {
    const lock = this.locks[slot]!;
    return typeof lock === 'string' ? lock : lock.name;
  }

  lease(slot: HoldSlot): Lease {
    return this.leases[slot]!;
  }

  owner(slot: HoldSlot): string {
    return this.owners[slot]!;
  }

  mode(slot: HoldSlot): LockMode {
    return this.modes[slot] === modeRead ? 'read' : 'write';
  }

  acquiredAtWallMs(slot: HoldSlot): number {
    return this.grantedAtWallMs[slot]!;
  }

  extra(slot: HoldSlot): HoldExtra | null {
    return this.extras[slot]!;
  }

  /** The hold's extra, made now if it had none (a bound or a yield request arrives). */
  extraOf(slot: HoldSlot): HoldExtra {
    let extra = this.extras[slot]!;
    if (extra === null) {
      extra = holdExtra(0, 0, undefined);
      this.extras[slot] = extra;
    }
    return extra;
  }

  lockDelayMs(slot: HoldSlot): number {
    return this.extras[slot]?.lockDelayMs ?? 0;
  }

  priority(slot: HoldSlot): number {
    return this.extras[slot]?.priority ?? 0;
  }

  /** Name of the auth token that acquired the hold (auth on); shown in listings. */
  principal(slot: HoldSlot): string | undefined {
    return this.extras[slot]?.principal;
  }

  maxHold(slot: HoldSlot): MaxHold | null {
    return this.extras[slot]?.maxHold ?? null;
  }

  yieldRequest(slot: HoldSlot): YieldRequest | null {
    return this.extras[slot]?.yieldRequest ?? null;
  }

  /** The hold after `slot` on its lease, in grant order; `noHold` after the last. */
  nextOnLease(slot: HoldSlot): HoldSlot {
    return this.leaseNext[slot]!;
  }

  /** The holds on `lease` in grant order, as a list of their own. */
  onLease(lease: Lease): HoldSlot[] {
    const list: HoldSlot[] = [];
    for (let slot = lease.firstHold; slot !== noHold; slot = this.leaseNext[slot]!) list.push(slot);
    return list;
  }

  /** A copy of the row, for views, snapshots and tests. */
  record(slot: HoldSlot): HoldRecord {
    return {
      name: this.name(slot), mode: this.mode(slot), token: this.token(slot), owner: this.owner(slot), lease: this.lease(slot),
      acquiredAtWallMs: this.acquiredAtWallMs(slot), principal: this.principal(slot), lockDelayMs: this.lockDelayMs(slot),
      priority: this.priority(slot), maxHold: this.maxHold(slot), yieldRequest: this.yieldRequest(slot),
    };
  }

  private link(lease: Lease, slot: HoldSlot): void {
    const last = lease.lastHold;
    this.leasePrev[slot] = last;
    this.leaseNext[slot] = noHold;
    if (last === noHold) lease.firstHold = slot;
    else this.leaseNext[last] = slot;
    lease.lastHold = slot;
    lease.holdCount += 1;
  }

  private unlink(lease: Lease, slot: HoldSlot): void {
    const prev = this.leasePrev[slot]!;
    const next = this.leaseNext[slot]!;
    if (prev === noHold) lease.firstHold = next;
    else this.leaseNext[prev] = next;
    if (next === noHold) lease.lastHold = prev;
    else this.leasePrev[next] = prev;
    lease.holdCount -= 1;
  }

  private takeRow(): HoldSlot {
    if (this.free.length > 0) return this.free.pop()!;
    const slot = this.locks.length;
    if (slot === this.tokens.length) this.grow();
    this.locks.push(undefined);
    this.leases.push(undefined);
    this.owners.push('');
    this.extras.push(null);
    return slot;
  }

  private grow(): void {
    const rows = Math.ceil(this.tokens.length * growth);
    this.tokens = grown(this.tokens, new Float64Array(rows));
    this.grantedAtWallMs = grown(this.grantedAtWallMs, new Float64Array(rows));
    this.leasePrev = grown(this.leasePrev, new Int32Array(rows));
    this.leaseNext = grown(this.leaseNext, new Int32Array(rows));
    this.modes = grown(this.modes, new Uint8Array(rows));
  }
}
