import { mkdir, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { DomainEvent } from '../domain/events.js';
import type { StateMachine } from '../domain/state-machine.js';
import type { Durability } from './durability.js';
import { advanceEpoch } from './epoch.js';
import { DataDirLock } from './lock-file.js';
import type { OpenLogFile } from './log-file.js';
import { type FsyncObserver, type LogPosition, LogWriter } from './log-writer.js';
import { recoverLog } from './recovery.js';
import { writeSnapshot } from './snapshot-writer.js';
import { backgroundSlice, yieldToLoop } from './state-walk.js';
import { type DurabilityFailedError, StoreError } from './store-errors.js';

export interface StoreOptions {
  /** Created if missing. */
  readonly dataDir: string;
  /** A fresh machine: recovery fills it, then the store logs its events. */
  readonly machine: StateMachine;
  readonly log: Logger;
  readonly observer?: FsyncObserver | undefined;
  /** A segment is closed and a new one started past this size. Default 64 MiB. */
  readonly segmentBytesMax?: number | undefined;
  /** A snapshot starts after this many records since the last one. Default 1,000,000. */
  readonly snapshotEveryRecords?: number | undefined;
  /** Wait this long for company before flushing a lone record. Default 0 (next event-loop turn). */
  readonly commitDelayMs?: number | undefined;
  /** Largest batch written with one fsync. Default 1 MiB. */
  readonly batchBytesMax?: number | undefined;
  /**
   * The first spare segment's size: segments are made ahead as files of zeros, from
   * this size doubling up to segmentBytesMax (spare-segment.ts). Default 1 MiB; 0: none.
   */
  readonly spareSegmentBytesMin?: number | undefined;
  /** Records a background snapshot writes between two yields to the event loop, at most. Default 4096. */
  readonly snapshotSliceItems?: number | undefined;
  /** Longest a background snapshot runs between two yields to the event loop. Default 0.5 ms. */
  readonly snapshotSliceMs?: number | undefined;
  /** Write a snapshot on close, so the next start replays nothing. Default true. */
  readonly snapshotOnClose?: boolean | undefined;
  /** Called once when a log write or fsync fails: the process must stop taking writes. */
  readonly onFatal?: ((error: DurabilityFailedError) => void) | undefined;
  /** Test seam: how log segments are opened. */
  readonly openFile?: OpenLogFile | undefined;
}

export interface RecoveryReport {
  readonly durationMs: number;
  /** Log records replayed after the snapshot. */
  readonly records: number;
  readonly snapshotLoaded: boolean;
  readonly leases: number;
  readonly holds: number;
  readonly members: number;
}

export interface OpenedStore extends Durability {
  /** Restart counter of this data directory, this run included. */
  readonly epoch: number;
  readonly recovery: RecoveryReport;
  /** Set once the log has failed; every settled() then rejects with it. */
  readonly failure: DurabilityFailedError | null;
  /** Writes a snapshot now (tests, admin); resolves when it is installed. */
  snapshot(): Promise<void>;
}

const defaults = {
  segmentBytesMax: 64 * 1024 * 1024,
  snapshotEveryRecords: 1_000_000,
  commitDelayMs: 0,
  batchBytesMax: 1024 * 1024,
  spareSegmentBytesMin: 1024 * 1024,
  snapshotSliceItems: backgroundSlice.sliceItems,
  snapshotSliceMs: backgroundSlice.sliceMs,
};

/**
 * Opens a data directory: takes its lock, counts the restart, rebuilds the state
 * into `machine` from the latest snapshot and the log, then logs every
 * state-changing event the machine emits from then on.
 */
export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  const started = performance.now();
  const settings = resolve(options);
  const { machine } = options;
  if (machine.leases.byId.size > 0 || machine.locks.byName.size > 0 || machine.rings.byName.size > 0 || machine.lastToken > 0) {
    throw new Error('openStore needs a fresh state machine: recovery fills it');
  }
  await mkdir(options.dataDir, { recursive: true });
  const lock = await DataDirLock.acquire(options.dataDir, options.log);
  try {
    const epoch = await advanceEpoch(options.dataDir);
    const recovered = await recoverLog(options.dataDir, machine, options.log, options.openFile);
    const counts = recovered.counts;
    const recovery: RecoveryReport = {
      durationMs: performance.now() - started,
      records: recovered.records,
      snapshotLoaded: recovered.snapshot !== null,
      leases: counts.leases,
      holds: counts.holds,
      members: counts.members,
    };
    const covered = { seq: recovered.snapshot?.startSeq ?? 0, path: recovered.snapshotPath };
    const store = new Store(options, settings, lock, epoch, recovery, recovered.position, covered);
    options.log.info({ dataDir: options.dataDir, epoch, ...recovery, lastToken: options.machine.lastToken }, 'recovered data directory');
    return store;
  } catch (error) {
    await lock.release();
    throw error;
  }
}

type Settings = typeof defaults & { snapshotOnClose: boolean };

function resolve(options: StoreOptions): Settings {
  const settings: Settings = {
    segmentBytesMax: options.segmentBytesMax ?? defaults.segmentBytesMax,
    snapshotEveryRecords: options.snapshotEveryRecords ?? defaults.snapshotEveryRecords,
    commitDelayMs: options.commitDelayMs ?? defaults.commitDelayMs,
    batchBytesMax: options.batchBytesMax ?? defaults.batchBytesMax,
    spareSegmentBytesMin: options.spareSegmentBytesMin ?? defaults.spareSegmentBytesMin,
    snapshotSliceItems: options.snapshotSliceItems ?? defaults.snapshotSliceItems,
    snapshotSliceMs: options.snapshotSliceMs ?? defaults.snapshotSliceMs,
    snapshotOnClose: options.snapshotOnClose ?? true,
  };
  for (const key of ['segmentBytesMax', 'snapshotEveryRecords', 'batchBytesMax', 'snapshotSliceItems'] as const) {
    if (!Number.isSafeInteger(settings[key]) || settings[key] < 1) throw new RangeError(`${key} must be a positive integer`);
  }
  if (!Number.isSafeInteger(settings.spareSegmentBytesMin) || settings.spareSegmentBytesMin < 0) {
    throw new RangeError('spareSegmentBytesMin must be a non-negative integer');
  }
  if (!(settings.snapshotSliceMs > 0)) throw new RangeError('snapshotSliceMs must be a positive number');
  if (!Number.isSafeInteger(settings.commitDelayMs) || settings.commitDelayMs < 0) {
    throw new RangeError('commitDelayMs must be a non-negative integer');
  }
  return settings;
}

class Store implements OpenedStore {
  private readonly writer: LogWriter;
  private readonly unsubscribe: () => void;
  private recordsSinceSnapshot = 0;
  private snapshotRunning: Promise<void> | null = null;
  private closing = false;
  /** Records up to this sequence number are in the installed snapshot. */
  private coveredSeq: number;
  private snapshotPath: string | null;
  private closedPromise: Promise<void> | null = null;
  private readonly closedError = new StoreError('store_closed', 'the store is closed');

  constructor(
    private readonly options: StoreOptions,
    private readonly settings: Settings,
    private readonly lock: DataDirLock,
    readonly epoch: number,
    readonly recovery: RecoveryReport,
    position: LogPosition,
    covered: { readonly seq: number; readonly path: string | null },
  ) {
    this.coveredSeq = covered.seq;
    this.snapshotPath = covered.path;
    this.writer = new LogWriter(
      {
        dir: options.dataDir,
        log: options.log,
        segmentBytesMax: settings.segmentBytesMax,
        batchBytesMax: settings.batchBytesMax,
        commitDelayMs: settings.commitDelayMs,
        observer: options.observer,
        onFatal: (error) => options.onFatal?.(error),
        openFile: options.openFile,
        spareBytesMin: settings.spareSegmentBytesMin,
      },
      position,
    );
    this.recordsSinceSnapshot = recovery.records;
    this.unsubscribe = options.machine.subscribe((event) => this.onEvent(event));
    options.machine.onCommandEnd(() => this.writer.commandEnded());
  }

  get failure(): DurabilityFailedError | null {
    return this.writer.failure;
  }

  backlogBytes(): number {
    return this.writer.backlogBytes;
  }

  appendedPosition(): number {
    return this.writer.lastSeq;
  }

  durablePosition(): number {
    return this.writer.durableSeq;
  }

  whenDurable(position: number): Promise<void> | undefined {
    if (this.closing && this.writer.failure === null && position > this.writer.durableSeq) return Promise.reject(this.closedError);
    return this.writer.whenDurable(position);
  }

  settled(): Promise<void> | undefined {
    if (this.closing && this.writer.failure === null) return Promise.reject(this.closedError);
    return this.writer.settled();
  }

  snapshot(): Promise<void> {
    return this.startSnapshot(false);
  }

  close(): Promise<void> {
    this.closedPromise ??= this.closeOnce();
    return this.closedPromise;
  }

  /** Stops as kill -9 would: unflushed records are lost, the LOCK file stays (tests). */
  async abandon(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    await this.writer.abandon();
    this.lock.abandon();
  }

  private onEvent(event: DomainEvent): void {
    if (!this.writer.append(event)) return;
    if (!this.options.machine.running) this.writer.commandEnded();
    this.recordsSinceSnapshot += 1;
    if (this.recordsSinceSnapshot >= this.settings.snapshotEveryRecords && this.snapshotRunning === null) {
      void this.startSnapshot(true);
    }
  }

  private startSnapshot(background: boolean): Promise<void> {
    if (this.snapshotRunning !== null) return this.snapshotRunning;
    this.recordsSinceSnapshot = 0;
    const running = (async () => {
      // Start from a fresh macrotask: never inside the command whose event got us here.
      await yieldToLoop();
      await this.writeSnapshot(this.settings.snapshotSliceItems, this.settings.snapshotSliceMs);
    })();
    this.snapshotRunning = running
      .catch((error: unknown) => {
        this.options.log.error({ err: error }, 'snapshot failed; the log keeps everything, a later snapshot will retry');
        if (!background) throw error;
      })
      .finally(() => {
        this.snapshotRunning = null;
      });
    return this.snapshotRunning;
  }

  private async writeSnapshot(sliceItems: number, sliceMs: number, atClose = false): Promise<void> {
    if (this.writer.failure !== null) return;
    const started = performance.now();
    const written = await writeSnapshot(
      { machine: this.options.machine, lastSeq: () => this.writer.lastSeq, durableThrough: (seq) => this.writer.durableThrough(seq) },
      { dir: this.options.dataDir, sliceItems, sliceMs, aborted: () => this.closing && !atClose },
    );
    if (written === null) return;
    this.coveredSeq = written.startSeq;
    const previous = this.snapshotPath;
    this.snapshotPath = written.path;
    if (previous !== null && previous !== written.path) await unlink(previous);
    const dropped = await this.writer.dropSegmentsCoveredBy(written.startSeq, atClose);
    this.options.log.info(
      { ...written, segmentsDeleted: dropped, durationMs: Math.round(performance.now() - started) },
      'snapshot written',
    );
  }

  private async closeOnce(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    try {
      await this.snapshotRunning?.catch(() => {});
      await this.writer.close();
      if (this.writer.failure === null) {
        if (this.settings.snapshotOnClose && this.writer.lastSeq > this.coveredSeq) await this.writeSnapshot(Infinity, Infinity, true);
        else await this.writer.dropSegmentsCoveredBy(this.coveredSeq, true);
      }
    } finally {
      await this.lock.release();
    }
  }
}

/** Test seam: makes `store` stop as a crash would (see Store.abandon). */
export function abandonStore(store: OpenedStore): Promise<void> {
  if (!(store instanceof Store)) throw new TypeError('not a store opened by openStore');
  return store.abandon();
}
