import type { StateMachine } from '../domain/state-machine.js';
import type { ByteWriter } from './byte-buffer.js';
import { encodeHoldEnded, encodeLease, encodeLiveHold } from './record-codec.js';
import { encodeLockState, encodeRingState } from './state-records.js';

export interface WalkOptions {
  /** Records written between two yields to the event loop at most; Infinity for none. */
  readonly sliceItems: number;
  /** Longest a slice runs before it yields, whatever its count; Infinity for no bound. */
  readonly sliceMs: number;
  /** Checked at each pause: true stops the walk (it returns null). */
  readonly aborted: () => boolean;
  /** Measures a slice (tests step it); default performance.now. */
  readonly nowMs?: (() => number) | undefined;
  /** True when what `out` holds must be written before the walk goes on (a full frame). */
  readonly full?: (() => boolean) | undefined;
  /** Writes what `out` holds; waiting for it gives the event loop its turn. */
  readonly flush?: (() => Promise<void>) | undefined;
  /** Told how many records each object wrote. */
  readonly counted?: ((records: number) => void) | undefined;
}

export interface WalkCounts {
  leases: number;
  holds: number;
  members: number;
}

/**
 * A background walk's slice: at most this many records, or this long. Half an
 * expiry-loop turn (1 ms): when both have work, the walk takes the smaller share.
 */
export const backgroundSlice: { readonly sliceItems: number; readonly sliceMs: number } = { sliceItems: 4096, sliceMs: 0.5 };

/** Records written between two looks at the clock. */
const itemsPerClockCheck = 64;
/** Lets every other task of the event loop have its turn. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes the records of the machine's whole state (leases, then locks with their
 * holds and lock-delays, then rings, then the holds remembered as ended) into `out` while the server keeps running: a
 * slice ends at `sliceItems` records or `sliceMs`, whichever comes first, and the walk
 * yields to the event loop. What an object costs varies (a lock with many holders, a
 * ring with its history, a cold cache) and the expiry loop's turn it shares the loop
 * with is 1 ms. The check is synchronous: an await per object cost a microtask each (a
 * snapshot of a million leases took about a third longer, bench/snapshot-stall.ts).
 *
 * The state changes under the walk, so what it writes is fuzzy: every change before it
 * started and some after. Map iterators survive changes between yields (deleted
 * entries are skipped, added ones visited); replaying the log from where the walk
 * started settles each object, as records are idempotent.
 */
export async function walkState(machine: StateMachine, out: ByteWriter, options: WalkOptions): Promise<WalkCounts | null> {
  const counts: WalkCounts = { leases: 0, holds: 0, members: 0 };
  const nowMs = options.nowMs ?? (() => performance.now());
  let slice = 0;
  let sinceClockCheck = 0;
  let sliceStartedMs = nowMs();
  const due = (records: number): boolean => {
    options.counted?.(records);
    if (options.full?.() === true) return true;
    slice += records;
    if (slice >= options.sliceItems) return true;
    sinceClockCheck += records;
    if (sinceClockCheck < itemsPerClockCheck) return false;
    sinceClockCheck = 0;
    return nowMs() - sliceStartedMs >= options.sliceMs;
  };
  /** Writes a full output or yields; true if aborted. */
  const pause = async (): Promise<boolean> => {
    if (options.full?.() === true) await options.flush!();
    else await yieldToLoop();
    slice = 0;
    sinceClockCheck = 0;
    sliceStartedMs = nowMs();
    return options.aborted();
  };
  for (const lease of machine.leases.byId.values()) {
    encodeLease(out, lease.id, lease.ttlMs, lease.kind, lease.principal);
    counts.leases += 1;
    if (due(1) && (await pause())) return null;
  }
  for (const state of machine.locks.states()) {
    // A lone hold (lock-names.ts) is one hold of a limit-1 name, with no Lock.
    const lone = typeof state === 'number';
    const records = lone ? encodeLiveHold(out, machine.locks.holdTable, state, 1) : encodeLockState(out, state, machine.locks.holdTable, machine.locks.delayLeftMs(state));
    counts.holds += lone ? 1 : state.holderCount;
    if (due(records) && (await pause())) return null;
  }
  for (const ring of machine.rings.byName.values()) {
    const records = encodeRingState(out, ring);
    counts.members += ring.members.size;
    if (due(records) && (await pause())) return null;
  }
  // Last, how recently ended holds ended (a late release's not_holder reason), oldest
  // first. Ends during the walk are in the log after it as well; recovery keeps the first.
  for (const ended of machine.locks.endedHolds()) {
    encodeHoldEnded(out, ended.name, ended.token, ended.reason);
    if (due(1) && (await pause())) return null;
  }
  return counts;
}
