import type { StateMachine } from '../../domain/state-machine.js';
import { ByteReader, ByteWriter, DecodeError } from '../byte-buffer.js';
import { crc32c } from '../crc32c.js';
import { RecordType, decodeRecord, encodeLease, encodeSnapshotEnd } from '../record-codec.js';
import { encodeLockState, encodeRingState } from '../state-records.js';
import type { RecoveryImage } from '../recovery-image.js';
import { CorruptLogError } from '../store-errors.js';
import type { EtcdClient } from './etcd-client.js';
import type { ClusterKeys } from './etcd-keys.js';

/** The installed snapshot, as the pointer key holds it. */
export interface SnapshotPointer {
  /** Every record up to this sequence number is in the snapshot; the log resumes after it. */
  readonly seq: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly crc32c: number;
}

export interface LoadedSnapshot extends SnapshotPointer {
  /** etcd revision the snapshot was read at: the log is read from there on. */
  readonly revision: number;
}

/**
 * The state at one instant, in the records of the local snapshot file (the same
 * codec), as one buffer. It is taken synchronously between two commands, so it is
 * exact at `seq` rather than fuzzy: etcd snapshots are rare and chunked, and a
 * state that fits in etcd's quota encodes in well under a second.
 */
export function encodeState(machine: StateMachine, seq: number): Buffer {
  const out = new ByteWriter(64 * 1024);
  let leases = 0;
  let holds = 0;
  let members = 0;
  for (const lease of machine.leases.byId.values()) {
    encodeLease(out, lease.id, lease.ttlMs, lease.kind, lease.principal);
    leases += 1;
  }
  // The same records as the local snapshot: holds, running lock-delays, rings with
  // their algorithm and kept history.
  const monoNowMs = machine.clock.monoMs();
  for (const lock of machine.locks.byName.values()) {
    encodeLockState(out, lock, monoNowMs);
    holds += lock.holders.size;
  }
  for (const ring of machine.rings.byName.values()) {
    encodeRingState(out, ring);
    members += ring.members.size;
  }
  encodeSnapshotEnd(out, { startSeq: seq, endSeq: seq, lastToken: machine.lastToken, leases, holds, members });
  return Buffer.from(out.buf.subarray(0, out.pos));
}

/** Cuts `state` into chunks of at most `chunkBytesMax` bytes. */
export function chunksOf(state: Buffer, chunkBytesMax: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < state.length; at += chunkBytesMax) chunks.push(state.subarray(at, Math.min(state.length, at + chunkBytesMax)));
  return chunks;
}

export function pointerOf(seq: number, state: Buffer, chunks: number): SnapshotPointer {
  return { seq, chunks, bytes: state.length, crc32c: crc32c(state) };
}

/**
 * Reads the installed snapshot (if any) into `image`. The pointer and the chunks
 * are read at one revision, so a snapshot being replaced under us is read whole.
 */
export async function loadSnapshot(client: EtcdClient, keys: ClusterKeys, image: RecoveryImage): Promise<LoadedSnapshot | null> {
  const found = await client.range(keys.snapshot);
  const kv = found.kvs[0];
  if (kv === undefined) return null;
  const pointer = JSON.parse(kv.value.toString()) as SnapshotPointer;
  const { key, rangeEnd } = keys.snapChunks(pointer.seq);
  const parts: Buffer[] = [];
  let from = key;
  for (;;) {
    const page = await client.range(from, { rangeEnd, limit: 16, revision: found.revision });
    parts.push(...page.kvs.map((chunk) => chunk.value));
    if (!page.more || page.kvs.length === 0) break;
    from = Buffer.concat([page.kvs.at(-1)!.key, Buffer.from([0])]);
  }
  const state = Buffer.concat(parts);
  const where = `etcd snapshot ${pointer.seq}`;
  if (parts.length !== pointer.chunks || state.length !== pointer.bytes || crc32c(state) !== pointer.crc32c) {
    throw new CorruptLogError(where, state.length, 'chunks do not match the snapshot pointer');
  }
  decodeState(state, image, where);
  return { ...pointer, revision: found.revision };
}

function decodeState(state: Buffer, image: RecoveryImage, where: string): void {
  const input = new ByteReader(state, 0, state.length);
  try {
    let type = 0;
    while (!input.done) type = decodeRecord(input, image);
    if (type !== RecordType.snapshotEnd) throw new DecodeError('snapshot has no end record', input.pos);
  } catch (error) {
    if (error instanceof DecodeError) throw new CorruptLogError(where, error.offset, error.message);
    throw error;
  }
}
