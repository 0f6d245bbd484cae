import type { DomainContext } from './context.js';
import { readField } from './events.js';
import type { HoldSlot, HoldTable } from './hold-table.js';
import { lockReaders } from './lock-extra.js';
import { holderList } from './lock-holders.js';
import type { Lock, LockMode, Waiter, YieldRequest } from './model.js';

/**
 * Yield requests: a waiter queued with a priority and `yieldGraceMs` asks the holds of
 * strictly lower priority that keep it out to make room. Each hold asked gets a
 * deadline `yieldGraceMs` from now; the first request a hold gets stands (a later one
 * changes nothing), and it stands even if the waiter that asked leaves: the holder was
 * told, and a deadline that moved or vanished behind its back would be worse. At the
 * deadline the lock table ends the hold with reason `preempted`.
 */
export class YieldRequests {
  constructor(
    private readonly ctx: DomainContext,
    private readonly holds: HoldTable,
  ) {}

  /** `waiter` was just queued on `lock`: asks the holds it picks (see holdsToAsk). */
  ask(lock: Lock, waiter: Waiter): void {
    const graceMs = waiter.yieldGraceMs;
    if (graceMs === null) return;
    for (const hold of holdsToAsk(this.holds, lock, waiter.mode, waiter.priority, this.ctx.limits.readersPerLockMax)) {
      if (this.holds.yieldRequest(hold) === null) this.request(hold, graceMs, waiter.priority);
    }
  }

  /**
   * Restores a pending request from the log (recovery): its deadline is
   * requestedAt + graceMs on the wall clock, the one clock that spans a restart. What
   * is left counts from now (none left: it ends at the first tick), never more than
   * graceMs should the wall clock have stepped back.
   */
  restore(hold: HoldSlot, graceMs: number, requestedAtWallMs: number): void {
    const leftMs = Math.min(graceMs, Math.max(0, requestedAtWallMs + graceMs - this.ctx.clock.wallMs()));
    this.schedule(hold, graceMs, requestedAtWallMs, leftMs);
  }

  private request(hold: HoldSlot, graceMs: number, askedBy: number): void {
    const requestedAtWallMs = this.ctx.clock.wallMs();
    const holds = this.holds;
    const { yieldByWallMs } = this.schedule(hold, graceMs, requestedAtWallMs, graceMs);
    this.ctx.emit({
      type: 'yield_requested', name: holds.name(hold), token: holds.token(hold), owner: holds.owner(hold), leaseId: holds.lease(hold).id,
      graceMs, requestedAtWallMs, yieldByWallMs, priority: holds.priority(hold), askedBy, ...readField(holds.mode(hold)),
    });
  }

  /** The request's deadline, `leftMs` from now. */
  private schedule(hold: HoldSlot, graceMs: number, requestedAtWallMs: number, leftMs: number): YieldRequest {
    const yieldByWallMs = Math.round(this.ctx.clock.wallMs() + leftMs);
    const entry: YieldRequest = { type: 'yield', hold, token: this.holds.token(hold), graceMs, requestedAtWallMs, yieldByWallMs, heapIndex: -1 };
    this.holds.extraOf(hold).yieldRequest = entry;
    this.ctx.deadlines.schedule(entry, this.ctx.clock.monoMs() + leftMs);
    return entry;
  }
}

/**
 * The holds a waiter of `priority` in `mode` asks to yield: the fewest that must go
 * for its hold to fit beside the rest, taken from the holds of strictly lower
 * priority, lowest priority first and newest (highest token) first within one. None
 * when the lower-priority holds alone cannot make room: a yield that would not let
 * the waiter in is not asked for. The waiter is judged alone, as if it stood first:
 * the waiters ahead of it (all of equal or higher priority) may take the room first.
 */
export function holdsToAsk(holds: HoldTable, lock: Lock, mode: LockMode, priority: number, readersMax: number): HoldSlot[] {
  const { among, need } = inTheWay(holds, lock, mode, readersMax);
  if (need <= 0) return [];
  const lower = among.filter((hold) => holds.priority(hold) < priority);
  if (lower.length < need) return [];
  lower.sort((a, b) => holds.priority(a) - holds.priority(b) || holds.token(b) - holds.token(a));
  return lower.slice(0, need);
}

/** Which holds keep a hold in `mode` out, and how many of them must go. */
function inTheWay(table: HoldTable, lock: Lock, mode: LockMode, readersMax: number): { among: HoldSlot[]; need: number } {
  const holds = holderList(lock);
  // A write takes a permit: enough holds of any mode must go to free one.
  if (mode === 'write') return { among: holds, need: lock.holderCount - lock.limit + 1 };
  // A read joins readers only: every writer must go; among readers, room under the cap.
  const readers = lockReaders(lock);
  if (readers < lock.holderCount) {
    const writers = holds.filter((hold) => table.mode(hold) === 'write');
    return { among: writers, need: writers.length };
  }
  return { among: holds, need: readers - readersMax + 1 };
}
