import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DomainEvent } from '../domain/events.js';
import { ByteWriter } from './byte-buffer.js';
import { type Deferred, deferred } from './deferred.js';
import { type SeqFile, fsyncDir, segmentName } from './data-dir.js';
import { aheadHeaderBytes, sealLogFrame } from './frame.js';
import { type LogFile, type OpenLogFile, openLogFile } from './log-file.js';
import { encodeEvent } from './record-codec.js';
import { SpareSegment } from './spare-segment.js';
import { DurabilityFailedError, StoreError } from './store-errors.js';

/** Told about every fdatasync of the log (for metrics) and, optionally, every frame written. */
export interface FsyncObserver {
  /** One fdatasync: how long it took and the records and bytes it made durable. */
  fsync(seconds: number, records: number, bytes: number): void;
  frame?(records: number, bytes: number): void;
}

export interface LogWriterOptions {
  readonly dir: string;
  readonly log: Logger;
  readonly segmentBytesMax: number;
  /** A batch is sealed (and flushed as soon as the disk is free) once it reaches this size. */
  readonly batchBytesMax: number;
  /** How long an idle log waits for company before flushing a first record (0: next turn). */
  readonly commitDelayMs: number;
  readonly observer?: FsyncObserver | undefined;
  readonly onFatal: (error: DurabilityFailedError) => void;
  readonly openFile?: OpenLogFile | undefined;
  /**
   * The first spare segment's size (spare-segment.ts); later ones double up to
   * segmentBytesMax. 0: no spares, every segment grows as it is written.
   */
  readonly spareBytesMin?: number | undefined;
}

/** Where the writer resumes after recovery. */
export interface LogPosition {
  /** Segments on disk, ascending; the last one is appended to. */
  readonly segments: readonly SeqFile[];
  /** Bytes of valid frames in the last segment. */
  readonly tailBytes: number;
  /** The last segment's file size: past tailBytes, zeros made ahead (a spare taken before the restart). */
  readonly tailFileBytes: number;
  /** Sequence number of the last record on disk (0 for an empty log). */
  readonly lastSeq: number;
}


/**
 * Records appended between two writes: one frame, one write. Batches wait in order
 * until a fdatasync that started after their write completes, or on a file whose
 * writes are durable, until their write and every earlier one have returned.
 */
interface Batch {
  readonly out: ByteWriter;
  firstSeq: number;
  count: number;
  deferred: Deferred | null;
  /** Its write has returned. */
  written: boolean;
}

const noop = (): void => {};
const batchBytesInitial = 64 * 1024;


/**
 * The write-ahead log with group commit. `append` encodes a record into the open
 * batch synchronously, whatever the disk is doing. Then a two-stage pipeline:
 *
 * - On a file whose writes are durable when they return (the log's own files, opened
 *   O_DSYNC: one system call instead of a write and an fdatasync), a write runs for the
 *   open batch while appends fill the next one, and a full batch (batchBytesMax) is
 *   written beside it: two writes at most, acknowledged in order.
 * - On any other file (tests' disks), one write and one fdatasync run at a time, side
 *   by side: full batches reach the page cache while the previous fdatasync is still
 *   running, and each fdatasync makes durable every frame whose write had completed
 *   when it started.
 *
 * Either way the open batch waits for the running durable step rather than being cut
 * short. A failed write or fsync is never retried or ignored: every pending and future
 * `settled()` rejects and `onFatal` tells the server to stop.
 */
export class LogWriter {
  private open: Batch;
  /**
   * Batches closed for appends and not yet durable, oldest first:
   * `[0, syncingCount)` are covered by the fdatasync in flight, `[.., writtenCount)`
   * are written, `[.., startedCount)` have their writes started (`writesInFlight` of
   * them not returned yet, a later one possibly before an earlier), the rest wait.
   */
  private readonly queue: Batch[] = [];
  private syncingCount = 0;
  private writtenCount = 0;
  private startedCount = 0;
  private writesInFlight = 0;
  /** A write is opening or starting the segment it goes to: no other write may start. */
  private opening = false;
  private syncing = false;
  private readonly spares: ByteWriter[] = [];
  private lastSeqValue: number;
  private durableSeqValue: number;
  private flushScheduled = false;
  private file: LogFile | null = null;
  private segmentBytes: number;
  /** The current segment's size on disk when it began as a spare (zeros ahead of the writes); 0 for a plain one. */
  private segmentFileBytes: number;
  private readonly spare: SpareSegment | null;
  private readonly segments: SeqFile[];
  private failed: DurabilityFailedError | null = null;
  private failedPromise: Promise<void> | null = null;
  private closed = false;
  private readonly openFile: OpenLogFile;

  constructor(
    private readonly options: LogWriterOptions,
    position: LogPosition,
  ) {
    this.openFile = options.openFile ?? openLogFile;
    this.segments = [...position.segments];
    this.segmentBytes = position.tailBytes;
    this.segmentFileBytes = position.tailFileBytes > position.tailBytes ? position.tailFileBytes : 0;
    const spareBytesMin = options.spareBytesMin ?? 0;
    this.spare = spareBytesMin > 0 ? new SpareSegment({ dir: options.dir, log: options.log, bytesMin: spareBytesMin, bytesMax: options.segmentBytesMax }) : null;
    this.spare?.prepare();
    this.lastSeqValue = position.lastSeq;
    this.durableSeqValue = position.lastSeq;
    this.open = this.newBatch();
  }

  /** Sequence number of the last record appended. */
  get lastSeq(): number {
    return this.lastSeqValue;
  }

  /** Sequence number of the last record on disk. */
  get durableSeq(): number {
    return this.durableSeqValue;
  }

  get failure(): DurabilityFailedError | null {
    return this.failed;
  }

  /** Appends the record of a state-changing event; returns false for events not logged. */
  append(event: DomainEvent): boolean {
    if (this.failed !== null || this.closed) return false;
    const batch = this.open;
    const start = batch.out.pos;
    try {
      if (!encodeEvent(batch.out, event)) return false;
    } catch (error) {
      // A change that cannot be logged breaks durability: never leave half a record.
      batch.out.pos = start;
      this.fail(error);
      return false;
    }
    if (batch.count === 0) batch.firstSeq = this.lastSeqValue + 1;
    batch.count += 1;
    this.lastSeqValue += 1;
    // A full batch is sealed at the end of the command (commandEnded), never inside
    // one: a command's records share one frame, so a crash keeps all of them or none.
    this.scheduleFlush(false);
    return true;
  }

  /**
   * The command whose records were appended is over: a batch past batchBytesMax is
   * sealed here (a batch may pass it by one command's records). The store calls this
   * at every command's end and after an event logged outside any command.
   */
  commandEnded(): void {
    if (this.failed !== null || this.closed || this.open.out.pos < this.options.batchBytesMax) return;
    this.queue.push(this.open);
    this.open = this.newBatch();
    this.scheduleFlush(true);
  }

  /** Bytes appended and not yet durable: the open batch and every queued one. */
  get backlogBytes(): number {
    // Asked before every change: no allocation. An empty batch holds only its header.
    let bytes = this.open.count > 0 ? this.open.out.pos : 0;
    for (let i = 0; i < this.queue.length; i++) bytes += this.queue[i]!.out.pos;
    return bytes;
  }

  /** A promise for the batch holding the latest record, or undefined if all is durable. */
  settled(): Promise<void> | undefined {
    return this.whenDurable(this.lastSeqValue);
  }

  /**
   * undefined when record `seq` is durable; else a promise for the batch holding it,
   * resolved once that batch (and so every batch before it) is on disk.
   */
  whenDurable(seq: number): Promise<void> | undefined {
    if (this.failed !== null) return this.failedPromise!;
    if (seq <= this.durableSeqValue) return undefined;
    if (this.closed) return Promise.reject(new StoreError('store_closed', 'the log stopped before this record was durable'));
    return this.batchHolding(seq);
  }

  /** Resolves once everything appended so far is durable. */
  async flushed(): Promise<void> {
    await this.durableThrough(this.lastSeqValue);
  }

  /** Resolves once record `seq` is durable, without waiting for records appended later. */
  async durableThrough(seq: number): Promise<void> {
    while (this.durableSeqValue < seq) {
      if (this.failed !== null) throw this.failed;
      await this.batchHolding(seq);
    }
  }

  private batchHolding(seq: number): Promise<void> {
    const batch = this.findBatch(seq);
    if (batch === null) return Promise.reject(new StoreError('store_closed', 'the log stopped before this record was durable'));
    batch.deferred ??= deferred();
    return batch.deferred.promise;
  }

  /** The batch holding record `seq`, newest first (the common ask is the latest record). */
  private findBatch(seq: number): Batch | null {
    if (this.open.count > 0 && this.open.firstSeq <= seq) return this.open;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (this.queue[i]!.firstSeq <= seq) return this.queue[i]!;
    }
    return null;
  }

  /**
   * Deletes the segments whose every record is at or below `seq` (covered by a
   * snapshot). The segment being written is kept unless `includeActive` (at close).
   */
  async dropSegmentsCoveredBy(seq: number, includeActive = false): Promise<number> {
    const doomed: SeqFile[] = [];
    for (let i = 0; i < this.segments.length; i++) {
      const next = this.segments[i + 1];
      const covered = next === undefined ? includeActive && this.lastSeqValue <= seq : next.seq <= seq + 1;
      if (!covered) break;
      doomed.push(this.segments[i]!);
    }
    if (doomed.length === 0) return 0;
    this.segments.splice(0, doomed.length);
    if (this.segments.length === 0) {
      await this.file?.close();
      this.file = null;
      this.segmentBytes = 0;
      this.segmentFileBytes = 0;
    }
    for (const segment of doomed) await unlink(segment.path);
    await fsyncDir(this.options.dir);
    return doomed.length;
  }

  /**
   * Stops as a crash would (tests): what is not on disk yet is dropped, the
   * write in flight, if any, completes, and nothing is written after it.
   */
  async abandon(): Promise<void> {
    this.closed = true;
    const lost = new StoreError('store_closed', 'the store stopped before this record was durable');
    for (const batch of [...this.queue.slice(this.startedCount), this.open]) batch.deferred?.reject(lost);
    this.queue.length = this.startedCount;
    this.open = this.newBatch();
    while (this.writesInFlight > 0 || this.syncing) await new Promise<void>((resolve) => setImmediate(resolve));
    for (const batch of this.queue) batch.deferred?.reject(lost);
    this.queue.length = 0;
    this.syncingCount = this.writtenCount = this.startedCount = 0;
    await this.file?.close();
    this.file = null;
    await this.spare?.abandon();
  }

  /** Flushes what is pending, then closes the segment. Later appends are ignored. */
  async close(): Promise<void> {
    if (this.failed === null) await this.flushed();
    this.closed = true;
    await this.file?.close();
    this.file = null;
    await this.spare?.close();
  }

  private newBatch(): Batch {
    const out = this.spares.pop() ?? new ByteWriter(batchBytesInitial);
    out.pos = aheadHeaderBytes;
    return { out, firstSeq: 0, count: 0, deferred: null, written: false };
  }

  private scheduleFlush(now: boolean): void {
    if (this.flushScheduled && !now) return;
    this.flushScheduled = true;
    if (now || this.options.commitDelayMs === 0) setImmediate(() => this.pump());
    else setTimeout(() => this.pump(), this.options.commitDelayMs);
  }

  /** Starts whichever stage is free and has work: the next writes, the next fdatasync. */
  private pump(): void {
    this.flushScheduled = false;
    if (this.failed !== null || this.closed) return;
    while (this.startWrite()) {
      // A second write may start beside the first (durable writes, a full batch).
    }
    if (!this.syncing && this.writtenCount > 0 && !this.durableWrites) void this.sync();
  }

  /** The segment's writes are durable when they return (O_DSYNC): no fdatasync stage. */
  private get durableWrites(): boolean {
    return this.file !== null && this.file.durableWrites === true;
  }

  /**
   * Starts the next write if it may start now; returns whether it did. The next batch
   * is a full one waiting, else the open one if it has records. The open one is not
   * written while a durable step (an fdatasync, or a durable write) runs: it may still
   * grow, and writing it now would cut it short for a write that contends with the
   * running one for no gain (measured: at 50 clients x 1 in flight, writing every open
   * batch ahead cost 15-20% of the log-on WebSocket lock cycles). Full batches are
   * written ahead: beside a running fdatasync, or as a second durable write.
   */
  private startWrite(): boolean {
    if (this.opening) return false;
    if (this.writesInFlight > 0 && !(this.durableWrites && this.writesInFlight < 2)) return false;
    const waiting = this.queue[this.startedCount];
    if (waiting === undefined && (this.open.count === 0 || this.syncing || this.writesInFlight > 0)) return false;
    const roll = this.needsRoll((waiting ?? this.open).out.pos);
    // A new segment starts only once every frame of the old one is durable: recovery
    // must never find a later segment's records after a hole in an earlier one.
    if (roll && this.startedCount > 0) return false;
    const written = waiting ?? this.open;
    if (waiting === undefined) {
      this.queue.push(written);
      this.open = this.newBatch();
    }
    this.startedCount += 1;
    this.writesInFlight += 1;
    this.writeBatch(written, roll).then(
      (durableSeconds) => {
        this.writesInFlight -= 1;
        written.written = true;
        while (this.queue[this.writtenCount]?.written === true) this.writtenCount += 1;
        if (durableSeconds >= 0 && this.writtenCount > 0) this.madeDurable(this.writtenCount, durableSeconds);
        this.pump();
      },
      (error: unknown) => {
        this.writesInFlight -= 1;
        this.fail(error);
      },
    );
    return true;
  }

  private async sync(): Promise<void> {
    this.syncing = true;
    this.syncingCount = this.writtenCount;
    const file = this.file!;
    const started = performance.now();
    try {
      await file.datasync();
    } catch (error) {
      this.syncing = false;
      this.fail(error);
      return;
    }
    this.syncing = false;
    if (this.closed && this.queue.length === 0) return;
    const count = this.syncingCount;
    this.syncingCount = 0;
    this.madeDurable(count, (performance.now() - started) / 1000);
    this.pump();
  }

  /** The oldest `count` batches are on disk: their waiters go on, in order. */
  private madeDurable(count: number, seconds: number): void {
    const done = this.queue.splice(0, count);
    this.writtenCount -= count;
    this.startedCount -= count;
    let bytes = 0;
    let records = 0;
    for (const batch of done) {
      bytes += batch.out.pos;
      records += batch.count;
    }
    const last = done[done.length - 1]!;
    this.durableSeqValue = last.firstSeq + last.count - 1;
    this.options.observer?.fsync(seconds, records, bytes);
    for (const batch of done) {
      batch.deferred?.resolve();
      if (batch.out.buf.length <= 2 * this.options.batchBytesMax && this.spares.length < 4) this.spares.push(batch.out);
    }
  }

  /**
   * Writes a batch as one frame; `roll`: it starts a new segment (needsRoll, asked
   * when the write was chosen). Resolves with the seconds the write took when it made
   * the frame durable (O_DSYNC), else -1: an fdatasync must follow.
   */
  private async writeBatch(batch: Batch, roll: boolean): Promise<number> {
    const notDurable = batch.firstSeq - 1 - this.durableSeqValue;
    const start = sealLogFrame(batch.out.buf, batch.out.pos, batch.firstSeq, batch.count, notDurable);
    const bytes = batch.out.pos - start;
    if (roll || this.file === null) {
      this.opening = true;
      try {
        await this.ensureSegment(batch.firstSeq, roll);
      } finally {
        this.opening = false;
      }
    }
    const file = this.file!;
    const offset = this.segmentBytes;
    // Claimed before the write returns: the offset belongs to this frame alone.
    this.segmentBytes += bytes;
    const started = performance.now();
    await file.write(batch.out.buf.subarray(start), bytes, offset);
    this.options.observer?.frame?.(batch.count, bytes);
    return file.durableWrites === true ? (performance.now() - started) / 1000 : -1;
  }

  /**
   * Whether a frame of `bytes` starts a new segment: there is none yet, or the current
   * one is empty (see ensureSegment), full, or began as a spare and has no zeros left
   * for it. A plain segment also ends once a spare is ready, so that a log started
   * before its first spare was made moves onto one soon.
   */
  private needsRoll(bytes: number): boolean {
    const current = this.segments[this.segments.length - 1];
    if (current === undefined || this.segmentBytes === 0) return true;
    const room = this.segmentFileBytes > 0 ? this.segmentFileBytes : this.options.segmentBytesMax;
    return this.segmentBytes + bytes > room || (this.segmentFileBytes === 0 && this.spare !== null && this.spare.ready);
  }

  /** Opens the segment this frame goes to: the current one, or a new one when `roll`. */
  private async ensureSegment(firstSeq: number, roll: boolean): Promise<void> {
    const current = this.segments[this.segments.length - 1];
    if (!roll) {
      this.file ??= await this.openFile(current!.path);
      return;
    }
    if (current !== undefined && this.segmentBytes === 0) {
      // An empty segment (recovered, or left by a crash right after a roll) is reused
      // when its name fits; otherwise it goes, as a name must match its first record.
      if (current.seq === firstSeq) {
        this.file ??= await this.openFile(current.path);
        return;
      }
      await this.file?.close();
      this.file = null;
      this.segments.pop();
      await unlink(current.path);
    }
    await this.roll(firstSeq);
  }

  /**
   * Starts a new segment named after its first record, from the spare when one is
   * ready; its directory entry is made durable before a frame goes in. The old one,
   * every frame of it durable, gives back the zeros it did not use (not synced:
   * recovery reads zeros after the last frame as the end of a segment).
   */
  private async roll(firstSeq: number): Promise<void> {
    const old = this.file;
    this.file = null;
    if (old !== null) {
      if (this.segmentFileBytes > this.segmentBytes) await old.truncate(this.segmentBytes);
      await old.close();
    }
    const segment: SeqFile = { seq: firstSeq, path: join(this.options.dir, segmentName(firstSeq)) };
    const spareBytes = this.spare === null ? 0 : await this.spare.take(segment.path);
    this.file = await this.openFile(segment.path);
    await fsyncDir(this.options.dir);
    this.segments.push(segment);
    this.segmentBytes = 0;
    this.segmentFileBytes = spareBytes;
    this.spare?.prepare();
    this.options.log.debug({ segment: segment.path, spareBytes }, 'log segment started');
  }

  private fail(cause: unknown): void {
    if (this.failed !== null) return;
    const error = new DurabilityFailedError(cause);
    this.failed = error;
    this.failedPromise = Promise.reject(error);
    this.failedPromise.catch(noop);
    this.options.log.fatal({ err: cause }, 'write-ahead log write or fsync failed; no further writes are accepted');
    for (const batch of [...this.queue, this.open]) batch.deferred?.reject(error);
    this.queue.length = 0;
    this.syncingCount = this.writtenCount = this.startedCount = 0;
    this.options.onFatal(error);
  }
}
