import type { HoldSlot } from './hold-table.js';
import type { Lock } from './model.js';

/**
 * What a name with holders, waiters or a running lock-delay is kept as: its Lock, or,
 * for a lone hold, the hold's row alone.
 *
 * A lone hold is the commonest name of all: one write hold on a limit-1 name, nobody
 * waiting, no lock-delay running. Such a name needs no Lock object (48 B: a header and
 * three fields): its Map entry holds the hold's row, and the row holds the name. It gets
 * its Lock the moment anything else arrives (a waiter, a second holder, a read of its
 * queue that needs one), and keeps it until the name is idle again. Releases and
 * expiries of a lone hold touch no lock object at all.
 */
export type LockEntry = Lock | HoldSlot;

/** The names as tests and tools read them: `get` gives a lone hold's name its Lock (made then). */
export interface LockNames {
  readonly size: number;
  has(name: string): boolean;
  get(name: string): Lock | undefined;
  /** The entry as it is, a Lock or a lone hold's row: nothing is made (invariant checks). */
  entry(name: string): LockEntry | undefined;
  keys(): IterableIterator<string>;
}

export function lockNames(entries: ReadonlyMap<string, LockEntry>, lockNamed: (name: string) => Lock | undefined): LockNames {
  return {
    get size() {
      return entries.size;
    },
    has: (name) => entries.has(name),
    get: lockNamed,
    entry: (name) => entries.get(name),
    keys: () => entries.keys(),
  };
}
