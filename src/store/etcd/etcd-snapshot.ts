import type { StateMachine } from '../../domain/state-machine.js';
import { ByteReader, ByteWriter, DecodeError } from '../byte-buffer.js';
import { crc32c } from '../crc32c.js';
import { RecordType, decodeRecord, encodeSnapshotEnd } from '../record-codec.js';
import { type WalkOptions, walkState, yieldToLoop } from '../state-walk.js';
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

/** A snapshot's records cut into chunks, and the last log record it may reflect. */
export interface EncodedState {
  readonly chunks: Buffer[];
  readonly bytes: number;
  /** Of the chunks in order, as the pointer carries it. */
  readonly crc32c: number;
  readonly endSeq: number;
}

export interface EncodeOptions {
  /** Size of every chunk but the last. */
  readonly chunkBytes: number;
  /** A state larger than this is not encoded to the end: `tooLarge` says how far it got. */
  readonly bytesMax: number;
  readonly walk: WalkOptions;
}

/**
 * The machine's state in the records of the local snapshot file (the same codec, the
 * same walk), cut into chunks and checksummed as it goes, while the server keeps
 * running: a fuzzy snapshot that reflects every record through `startSeq` and some
 * after, up to the `endSeq` it returns. The log is read from startSeq + 1 over it, so
 * it must not be installed before the log is durable through endSeq. (Encoded in one
 * go, it cost the active about 0.7 s of answering nothing per million leases.) Null
 * if aborted.
 */
export async function encodeState(
  machine: StateMachine,
  startSeq: number,
  lastSeq: () => number,
  options: EncodeOptions,
): Promise<EncodedState | { readonly tooLarge: number } | null> {
  const { chunkBytes } = options;
  const out = new ByteWriter(chunkBytes * 2);
  const chunks: Buffer[] = [];
  let bytes = 0;
  let crc = 0;
  /** Moves every whole chunk out of `out` (and what is left too when `rest`), keeping the tail. */
  const cut = (rest: boolean): void => {
    let at = 0;
    while (out.pos - at >= chunkBytes || (rest && out.pos > at)) {
      const chunk = Buffer.from(out.buf.subarray(at, Math.min(out.pos, at + chunkBytes)));
      crc = crc32c(chunk, 0, chunk.length, crc);
      chunks.push(chunk);
      bytes += chunk.length;
      at += chunk.length;
    }
    out.buf.copyWithin(0, at, out.pos);
    out.pos -= at;
  };
  const counts = await walkState(machine, out, {
    ...options.walk,
    aborted: () => options.walk.aborted() || bytes > options.bytesMax,
    full: () => out.pos >= chunkBytes,
    flush: async () => {
      cut(false);
      await yieldToLoop();
    },
  });
  if (bytes > options.bytesMax) return { tooLarge: bytes };
  if (counts === null) return null;
  const endSeq = lastSeq();
  encodeSnapshotEnd(out, { startSeq, endSeq, lastToken: machine.lastToken, ...counts });
  cut(true);
  if (bytes > options.bytesMax) return { tooLarge: bytes };
  return { chunks, bytes, crc32c: crc, endSeq };
}

export function pointerOf(seq: number, encoded: EncodedState): SnapshotPointer {
  return { seq, chunks: encoded.chunks.length, bytes: encoded.bytes, crc32c: encoded.crc32c };
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
  // Exactly the pointer's chunks: a snapshot rewritten at the same sequence number may
  // leave more behind until its cleanup.
  const rangeEnd = keys.snapChunk(pointer.seq, pointer.chunks);
  const parts: Buffer[] = [];
  let from = keys.snapChunk(pointer.seq, 0);
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
