import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DomainEvent } from '../domain/events.js';
import { ByteWriter } from './byte-buffer.js';
import { type SeqFile, fsyncDir, segmentName } from './data-dir.js';
import { frameHeaderBytes, sealFrame } from './frame.js';
import { type LogFile, type OpenLogFile, openLogFile } from './log-file.js';
import { encodeEvent } from './record-codec.js';
import { DurabilityFailedError, StoreError } from './store-errors.js';

/** Told about every write+fdatasync of the log (for metrics). */
export interface FsyncObserver {
  fsync(seconds: number, records: number, bytes: number): void;
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
}

/** Where the writer resumes after recovery. */
export interface LogPosition {
  /** Segments on disk, ascending; the last one is appended to. */
  readonly segments: readonly SeqFile[];
  /** Bytes of valid frames in the last segment. */
  readonly tailBytes: number;
  /** Sequence number of the last record on disk (0 for an empty log). */
  readonly lastSeq: number;
}

interface Deferred {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Records appended between two flushes: one frame, one write, one fdatasync. */
interface Batch {
  readonly out: ByteWriter;
  firstSeq: number;
  count: number;
  deferred: Deferred | null;
}

const noop = (): void => {};
const batchBytesInitial = 64 * 1024;

function deferred(): Deferred {
  let resolve = noop;
  let reject: (error: Error) => void = noop;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting on a batch that fails; the failure is reported by onFatal.
  promise.catch(noop);
  return { promise, resolve, reject };
}

/**
 * The write-ahead log with group commit. `append` encodes a record into the open
 * batch synchronously; one write+fdatasync runs at a time, and everything appended
 * while it runs goes into the next batch, so many concurrent requests share one
 * fsync. A failed write or fsync is never retried or ignored: every pending and
 * future `settled()` rejects and `onFatal` tells the server to stop.
 */
export class LogWriter {
  private open: Batch;
  private readonly sealed: Batch[] = [];
  private inFlight: Batch | null = null;
  private readonly spares: ByteWriter[] = [];
  private lastSeqValue: number;
  private durableSeqValue: number;
  private flushing = false;
  private flushScheduled = false;
  private file: LogFile | null = null;
  private segmentBytes: number;
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
    if (batch.out.pos >= this.options.batchBytesMax) {
      this.sealed.push(batch);
      this.open = this.newBatch();
      this.scheduleFlush(true);
    } else {
      this.scheduleFlush(false);
    }
    return true;
  }

  /** Bytes appended and not yet durable: the open batch, the sealed ones and the one being written. */
  get backlogBytes(): number {
    // Asked before every change: no allocation. An empty batch holds only its header.
    let bytes = this.open.count > 0 ? this.open.out.pos : 0;
    if (this.inFlight !== null && this.inFlight.count > 0) bytes += this.inFlight.out.pos;
    for (let i = 0; i < this.sealed.length; i++) bytes += this.sealed[i]!.out.pos;
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
    for (let i = this.sealed.length - 1; i >= 0; i--) {
      if (this.sealed[i]!.firstSeq <= seq) return this.sealed[i]!;
    }
    const inFlight = this.inFlight;
    return inFlight !== null && inFlight.count > 0 && inFlight.firstSeq <= seq && inFlight.firstSeq + inFlight.count > seq ? inFlight : null;
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
    for (const batch of [...this.sealed, this.open]) batch.deferred?.reject(lost);
    this.sealed.length = 0;
    this.open = this.newBatch();
    while (this.flushing) await new Promise<void>((resolve) => setImmediate(resolve));
    await this.file?.close();
    this.file = null;
  }

  /** Flushes what is pending, then closes the segment. Later appends are ignored. */
  async close(): Promise<void> {
    if (this.failed === null) await this.flushed();
    this.closed = true;
    await this.file?.close();
    this.file = null;
  }

  private newBatch(): Batch {
    const out = this.spares.pop() ?? new ByteWriter(batchBytesInitial);
    out.pos = frameHeaderBytes;
    return { out, firstSeq: 0, count: 0, deferred: null };
  }

  private scheduleFlush(now: boolean): void {
    if (this.flushing || (this.flushScheduled && !now)) return;
    this.flushScheduled = true;
    if (now || this.options.commitDelayMs === 0) setImmediate(() => void this.flush());
    else setTimeout(() => void this.flush(), this.options.commitDelayMs);
  }

  private takeNext(): Batch | undefined {
    const sealed = this.sealed.shift();
    if (sealed !== undefined) return sealed;
    if (this.open.count === 0) return undefined;
    const batch = this.open;
    this.open = this.newBatch();
    return batch;
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.failed !== null) return;
    this.flushScheduled = false;
    this.flushing = true;
    try {
      for (let batch = this.takeNext(); batch !== undefined; batch = this.takeNext()) {
        this.inFlight = batch;
        await this.writeBatch(batch);
        this.inFlight = null;
        this.durableSeqValue = batch.firstSeq + batch.count - 1;
        batch.deferred?.resolve();
        if (batch.out.buf.length <= 2 * this.options.batchBytesMax && this.spares.length < 2) this.spares.push(batch.out);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.flushing = false;
    }
  }

  private async writeBatch(batch: Batch): Promise<void> {
    const bytes = batch.out.pos;
    sealFrame(batch.out.buf, bytes, batch.firstSeq, batch.count);
    await this.ensureSegment(batch.firstSeq, bytes);
    const started = performance.now();
    await this.file!.write(batch.out.buf, bytes, this.segmentBytes);
    await this.file!.datasync();
    this.segmentBytes += bytes;
    this.options.observer?.fsync((performance.now() - started) / 1000, batch.count, bytes);
  }

  /** Opens the segment this frame goes to: the current one, or a new one when it is full. */
  private async ensureSegment(firstSeq: number, bytes: number): Promise<void> {
    const current = this.segments[this.segments.length - 1];
    if (current !== undefined && this.segmentBytes > 0 && this.segmentBytes + bytes <= this.options.segmentBytesMax) {
      this.file ??= await this.openFile(current.path);
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

  /** Starts a new segment named after its first record; its directory entry is made durable first. */
  private async roll(firstSeq: number): Promise<void> {
    await this.file?.close();
    this.file = null;
    const segment: SeqFile = { seq: firstSeq, path: join(this.options.dir, segmentName(firstSeq)) };
    this.file = await this.openFile(segment.path);
    await fsyncDir(this.options.dir);
    this.segments.push(segment);
    this.segmentBytes = 0;
    this.options.log.debug({ segment: segment.path }, 'log segment started');
  }

  private fail(cause: unknown): void {
    if (this.failed !== null) return;
    const error = new DurabilityFailedError(cause);
    this.failed = error;
    this.failedPromise = Promise.reject(error);
    this.failedPromise.catch(noop);
    this.options.log.fatal({ err: cause }, 'write-ahead log write or fsync failed; no further writes are accepted');
    for (const batch of [this.inFlight, ...this.sealed, this.open]) batch?.deferred?.reject(error);
    this.inFlight = null;
    this.sealed.length = 0;
    this.options.onFatal(error);
  }
}
