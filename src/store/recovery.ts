import { readFile, stat, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { StateMachine } from '../domain/state-machine.js';
import { ByteReader, DecodeError } from './byte-buffer.js';
import { type SeqFile, fsyncDir, listDataDir } from './data-dir.js';
import { durableFrameAfter, readFrame } from './frame.js';
import { type LogFile, type OpenLogFile, openLogFile } from './log-file.js';
import type { LogPosition } from './log-writer.js';
import { type RecordVisitor, type SnapshotEnd, decodeRecord } from './record-codec.js';
import { MachineLoader } from './machine-loader.js';
import { type RestoredCounts, RecoveryImage } from './recovery-image.js';
import { readSnapshot } from './snapshot-reader.js';
import { CorruptLogError } from './store-errors.js';

export interface RecoveredLog {
  readonly snapshot: SnapshotEnd | null;
  readonly snapshotPath: string | null;
  /** Log records applied after the snapshot. */
  readonly records: number;
  /** What went into the machine. */
  readonly counts: RestoredCounts;
  /** Where the log writer goes on. */
  readonly position: LogPosition;
}

/** Decodes records without applying them (those of a frame the snapshot covers in part). */
const skip: RecordVisitor = {
  leaseGranted: () => {},
  leaseEnded: () => {},
  lockAcquired: () => {},
  lockReleased: () => {},
  holdEnded: () => {},
  yieldRequested: () => {},
  ringConfigured: () => {},
  ringHistory: () => {},
  memberPut: () => {},
  memberRemoved: () => {},
  ringDeleted: () => {},
  lockDelayStarted: () => {},
  lockDelayEnded: () => {},
  snapshotEnd: () => {},
};

/**
 * Rebuilds the durable state of a data directory into a fresh `machine` (through
 * its restore paths, emitting nothing): the latest snapshot, then every
 * log record after it, in sequence order. A bad frame at the very end of the last
 * segment is a write the crash cut short (never acknowledged, since its fsync
 * never returned): it is cut off. Any other bad frame, a gap in the sequence, or a
 * log that ends before what the snapshot says was durable stops recovery with the
 * file and byte offset.
 */
export async function recoverLog(
  dir: string,
  machine: StateMachine,
  log: Logger,
  openFile: OpenLogFile = openLogFile,
): Promise<RecoveredLog> {
  const listing = await listDataDir(dir);
  for (const path of listing.temporaries) await unlink(path);
  const latest = listing.snapshots[listing.snapshots.length - 1];
  // After a clean close the log is gone and the snapshot is the whole state: it
  // goes straight into the machine. Otherwise snapshot and log meet in an image.
  const direct = latest !== undefined && (await allEmpty(listing.segments)) ? new MachineLoader(machine) : null;
  const image = direct === null ? new RecoveryImage(machine.limits.ringHistoryVersionsMax, machine.limits.endedHoldsRemembered) : null;
  const snapshot = latest === undefined ? null : await readSnapshot(latest.path, (direct ?? image)!);
  const startSeq = snapshot?.startSeq ?? 0;
  // Older snapshots and covered segments are left over from a crash during cleanup.
  for (const old of listing.snapshots.slice(0, -1)) await unlink(old.path);
  const segments = await dropCovered(listing.segments, startSeq);
  if (listing.temporaries.length > 0 || listing.snapshots.length > 1 || segments.length < listing.segments.length) {
    await fsyncDir(dir);
  }
  const replay = new Replay(image ?? skip, startSeq, segments[0]?.seq ?? startSeq + 1);
  if (replay.nextSeq > startSeq + 1) {
    throw new CorruptLogError(segments[0]!.path, 0, `the log starts at record ${replay.nextSeq}; records from ${startSeq + 1} are missing`);
  }
  let tail: SegmentEnd = { validBytes: 0, fileBytes: 0 };
  for (let i = 0; i < segments.length; i++) {
    tail = await replay.segment(segments[i]!, i === segments.length - 1, log, openFile);
  }
  const tailBytes = tail.validBytes;
  const lastSeq = replay.nextSeq - 1;
  if (snapshot !== null && lastSeq < snapshot.endSeq) {
    const where = segments[segments.length - 1]?.path ?? latest!.path;
    throw new CorruptLogError(where, tailBytes, `the log ends at record ${lastSeq}, but the snapshot relies on records through ${snapshot.endSeq}`);
  }
  const counts = direct !== null ? direct.counts() : image!.restoreInto(machine);
  return { snapshot, snapshotPath: latest?.path ?? null, records: replay.applied, counts, position: { segments, tailBytes, tailFileBytes: tail.fileBytes, lastSeq } };
}

async function allEmpty(segments: readonly SeqFile[]): Promise<boolean> {
  for (const segment of segments) if ((await stat(segment.path)).size > 0) return false;
  return true;
}

async function dropCovered(segments: readonly SeqFile[], startSeq: number): Promise<SeqFile[]> {
  let first = 0;
  while (first + 1 < segments.length && segments[first + 1]!.seq <= startSeq + 1) first++;
  for (const covered of segments.slice(0, first)) await unlink(covered.path);
  return segments.slice(first);
}

/** Where a segment's frames end, and its size on disk (more when zeros follow them). */
interface SegmentEnd {
  readonly validBytes: number;
  readonly fileBytes: number;
}

class Replay {
  applied = 0;

  constructor(
    private readonly image: RecordVisitor,
    private readonly startSeq: number,
    public nextSeq: number,
  ) {}

  /**
   * Applies one segment's frames; returns their length. Zeros after the last frame end
   * a segment cleanly: the rest of a spare (spare-segment.ts) the log had not filled yet.
   */
  async segment(segment: SeqFile, last: boolean, log: Logger, openFile: OpenLogFile): Promise<SegmentEnd> {
    const buf = await readFile(segment.path);
    if (segment.seq !== this.nextSeq && buf.length > 0) {
      throw new CorruptLogError(segment.path, 0, `segment is named for record ${segment.seq}, expected ${this.nextSeq}`);
    }
    let offset = 0;
    while (offset < buf.length) {
      const frame = readFrame(buf, offset);
      if (!frame.ok) {
        const dataEnd = endOfData(buf, offset);
        if (dataEnd === offset) return { validBytes: offset, fileBytes: buf.length };
        if (!last || durableFrameAfter(buf, offset, this.nextSeq, dataEnd)) throw new CorruptLogError(segment.path, offset, frame.reason);
        await truncate(segment.path, offset, openFile);
        log.warn({ segment: segment.path, offset, cutBytes: buf.length - offset, reason: frame.reason }, 'cut off a torn write at the end of the log');
        return { validBytes: offset, fileBytes: offset };
      }
      if (frame.firstSeq !== this.nextSeq) {
        throw new CorruptLogError(segment.path, offset, `frame starts at record ${frame.firstSeq}, expected ${this.nextSeq}`);
      }
      if (frame.firstSeq + frame.count - 1 <= this.startSeq) this.nextSeq += frame.count;
      else this.frame(segment.path, buf, frame.payloadStart, frame.payloadEnd, frame.count);
      offset = frame.payloadEnd;
    }
    return { validBytes: offset, fileBytes: buf.length };
  }

  private frame(path: string, buf: Buffer, start: number, end: number, count: number): void {
    const input = new ByteReader(buf, start, end);
    try {
      for (let i = 0; i < count; i++) {
        const apply = this.nextSeq > this.startSeq;
        decodeRecord(input, apply ? this.image : skip);
        if (apply) this.applied += 1;
        this.nextSeq += 1;
      }
    } catch (error) {
      if (error instanceof DecodeError) throw new CorruptLogError(path, error.offset, error.message);
      throw error;
    }
    if (!input.done) throw new CorruptLogError(path, input.pos, 'bytes left over after the last record of the frame');
  }
}

const zeroRun = Buffer.alloc(64 * 1024);

/**
 * One past the last byte of `buf` that is not zero, at least `from`. No frame starts
 * in the zeros after it (twenty zero bytes fail a frame's checksum), so a search for
 * frames may stop there; one may end in them.
 */
function endOfData(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end - from >= zeroRun.length && buf.subarray(end - zeroRun.length, end).equals(zeroRun)) end -= zeroRun.length;
  while (end > from && buf[end - 1] === 0) end -= 1;
  return end;
}

async function truncate(path: string, length: number, openFile: OpenLogFile): Promise<void> {
  const file: LogFile = await openFile(path);
  try {
    await file.truncate(length);
    await file.datasync();
  } finally {
    await file.close();
  }
}
