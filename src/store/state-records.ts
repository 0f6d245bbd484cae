import type { HoldTable } from '../domain/hold-table.js';
import { holderList } from '../domain/lock-holders.js';
import type { Lock } from '../domain/model.js';
import type { Ring } from '../domain/ring.js';
import type { ByteWriter } from './byte-buffer.js';
import { encodeLiveHold, encodeLockDelay, encodeMember, encodeRing } from './record-codec.js';
import { encodeRingHistory } from './ring-history-codec.js';

/**
 * The records that rebuild one lock or one ring from nothing: what a snapshot holds
 * of it, whether the snapshot is a local file or chunks in etcd. One place, so the
 * two snapshots cannot drift apart in what they keep.
 */

/** A lock's holds (rows of `holds`), in grant order, and its running lock-delay; returns the records written. */
export function encodeLockState(out: ByteWriter, lock: Lock, holds: HoldTable, delayLeftMs: number): number {
  let records = 0;
  for (const hold of holderList(lock)) records += encodeLiveHold(out, holds, hold, lock.limit);
  // What is left of a running lock-delay; recovery counts it again from the restart.
  if (delayLeftMs > 0) {
    encodeLockDelay(out, lock.name, lock.limit, delayLeftMs);
    records += 1;
  }
  return records;
}

/** A ring's shape and algorithm, its members, and its kept history; returns the records written. */
export function encodeRingState(out: ByteWriter, ring: Ring): number {
  encodeRing(out, ring.name, ring.vnodes, ring.version, ring.algorithm);
  for (const member of ring.members.values()) {
    encodeMember(out, ring.name, member.id, member.weight, member.metaJson, member.lease?.id ?? null, ring.version);
  }
  encodeRingHistory(out, ring.name, { oldest: ring.history.oldest, changes: ring.history.changes() });
  return 2 + ring.members.size;
}
