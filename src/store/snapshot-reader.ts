import { readFile } from 'node:fs/promises';
import { ByteReader, DecodeError } from './byte-buffer.js';
import { readFrame } from './frame.js';
import { RecordType, type RecordVisitor, type SnapshotEnd, decodeRecord } from './record-codec.js';
import { snapshotMagic } from './snapshot-writer.js';
import { CorruptLogError } from './store-errors.js';

/** A visitor that keeps the snapshot's end record (the recovery image). */
export interface SnapshotVisitor extends RecordVisitor {
  readonly snapshot: SnapshotEnd | null;
}

/**
 * Loads a snapshot into `visitor`. A snapshot is fsynced before it is renamed into
 * place, so unlike the log's tail it can never be torn: any bad byte is corruption.
 */
export async function readSnapshot(path: string, visitor: SnapshotVisitor): Promise<SnapshotEnd> {
  const buf = await readFile(path);
  if (buf.length < snapshotMagic.length || !buf.subarray(0, snapshotMagic.length).equals(snapshotMagic)) {
    throw new CorruptLogError(path, 0, 'not a lockring snapshot (bad magic)');
  }
  const counts = new Array<number>(16).fill(0);
  let records = 0;
  let offset = snapshotMagic.length;
  while (offset < buf.length) {
    const frame = readFrame(buf, offset);
    if (!frame.ok) throw new CorruptLogError(path, offset, frame.reason);
    if (counts[RecordType.snapshotEnd]! > 0) throw new CorruptLogError(path, offset, 'data after the end record');
    if (frame.firstSeq !== records + 1) {
      throw new CorruptLogError(path, offset, `frame starts at item ${frame.firstSeq}, expected ${records + 1}`);
    }
    const input = new ByteReader(buf, frame.payloadStart, frame.payloadEnd);
    try {
      for (let i = 0; i < frame.count; i++) {
        counts[decodeRecord(input, visitor)]! += 1;
      }
    } catch (error) {
      if (error instanceof DecodeError) throw new CorruptLogError(path, error.offset, error.message);
      throw error;
    }
    if (!input.done) throw new CorruptLogError(path, input.pos, 'bytes left over after the last record of the frame');
    records += frame.count;
    offset = frame.payloadEnd;
  }
  const end = visitor.snapshot;
  if (end === null || counts[RecordType.snapshotEnd] !== 1) {
    throw new CorruptLogError(path, buf.length, 'snapshot has no end record');
  }
  const seen = (type: number): number => counts[type]!;
  if (
    seen(RecordType.leaseGranted) !== end.leases ||
    seen(RecordType.lockAcquired) + seen(RecordType.lockAcquiredWith) !== end.holds ||
    seen(RecordType.memberPut) !== end.members
  ) {
    throw new CorruptLogError(path, buf.length, 'snapshot item counts do not match its end record');
  }
  return end;
}
