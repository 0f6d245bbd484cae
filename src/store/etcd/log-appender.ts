import type { DomainEvent } from '../../domain/events.js';
import { ByteWriter } from '../byte-buffer.js';
import { type Deferred, deferred } from '../deferred.js';
import { frameHeaderBytes, sealFrame } from '../frame.js';
import { encodeEvent } from '../record-codec.js';
import type { Compare, EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import type { ClusterKeys } from './etcd-keys.js';
import type { Leadership } from './election.js';
import { type ReplicationObserver, failureReason, silentObserver } from './replication-observer.js';

export interface LogAppenderOptions {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly leadership: Leadership;
  /** Sequence number of the last record in the log at takeover (the head's value). */
  readonly headSeq: number;
  /** A batch is sealed at this size; one txn carries one batch. */
  readonly batchBytesMax: number;
  /** Asked before committed records are released: false once the term may be over (the answer is then never sent). */
  readonly stillActive: () => boolean;
  /** Called once when an append fails: the replica lost the log and must stop answering. */
  readonly onFailed: (error: EtcdError) => void;
  readonly observer?: ReplicationObserver;
}

/**
 * Records committed by one txn. Everyone waiting on one of them shares the batch's
 * one promise (made on the first ask): no promise per request.
 */
interface Batch {
  readonly out: ByteWriter;
  firstSeq: number;
  count: number;
  deferred: Deferred | null;
}

/**
 * The active's side of the replicated log: records of the machine's events go
 * into the open batch synchronously; one txn is in flight at a time and carries a
 * whole batch (group commit, as the local log's fsync). Every txn is fenced twice:
 * by leadership (our candidate key still has the create revision we won with) and
 * by the head (no other writer appended since our last commit). A txn whose
 * outcome is unknown (a timeout, a cut connection) is sent again to the next
 * endpoint: the fence lets it apply at most once. A txn that fails either compare
 * (and did not land earlier) ends this replica's term.
 */
export class LogAppender {
  private open: Batch = newBatch();
  private readonly sealed: Batch[] = [];
  private inFlight: Batch | null = null;
  private appended: number;
  private durable: number;
  private scheduled = false;
  private failedWith: EtcdError | null = null;
  private closed = false;
  private idle: (() => void) | null = null;

  constructor(private readonly options: LogAppenderOptions) {
    this.appended = options.headSeq;
    this.durable = options.headSeq;
  }

  get appendedSeq(): number {
    return this.appended;
  }

  get durableSeq(): number {
    return this.durable;
  }

  get failure(): EtcdError | null {
    return this.failedWith;
  }

  get backlogBytes(): number {
    let bytes = this.open.count > 0 ? this.open.out.pos : 0;
    if (this.inFlight !== null) bytes += this.inFlight.out.pos;
    for (const batch of this.sealed) bytes += batch.out.pos;
    return bytes;
  }

  append(event: DomainEvent): boolean {
    if (this.failedWith !== null || this.closed) return false;
    const batch = this.open;
    if (!encodeEvent(batch.out, event)) return false;
    if (batch.count === 0) batch.firstSeq = this.appended + 1;
    batch.count += 1;
    this.appended += 1;
    // Sealed at the command's end (commandEnded), never inside it: one txn carries a command whole.
    this.schedule();
    return true;
  }

  /** The command whose records were appended is over: a batch past batchBytesMax is sealed here. */
  commandEnded(): void {
    if (this.open.out.pos >= this.options.batchBytesMax) this.sealOpen();
  }

  /** Ends the open batch here: the next record starts a new one (snapshots cut the log there). */
  sealOpen(): void {
    if (this.open.count === 0) return;
    this.sealed.push(this.open);
    this.open = newBatch();
  }

  /** undefined when everything through `seq` is committed; else resolves when it is. */
  whenDurable(seq: number): Promise<void> | undefined {
    if (this.failedWith !== null) return Promise.reject(this.failedWith);
    if (seq <= this.durable) return undefined;
    if (seq > this.appended) return Promise.reject(new RangeError(`record ${seq} was never appended (last ${this.appended})`));
    const batch = this.batchHolding(seq);
    batch.deferred ??= deferred();
    return batch.deferred.promise;
  }

  /** The batch holding appended record `seq` (not yet committed): open, sealed or in flight; newest first. */
  private batchHolding(seq: number): Batch {
    if (this.open.count > 0 && this.open.firstSeq <= seq) return this.open;
    for (let i = this.sealed.length - 1; i >= 0; i--) if (this.sealed[i]!.firstSeq <= seq) return this.sealed[i]!;
    return this.inFlight!;
  }

  /** Commits what is pending, then takes no more records. */
  async close(): Promise<void> {
    if (this.failedWith === null && (this.inFlight !== null || this.open.count > 0 || this.sealed.length > 0)) {
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        this.schedule();
      });
    }
    this.closed = true;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight !== null || this.failedWith !== null) return;
    this.sealOpen();
    const batch = this.sealed.shift();
    if (batch === undefined) {
      this.idle?.();
      this.idle = null;
      return;
    }
    this.inFlight = batch;
    const observer = this.options.observer ?? silentObserver;
    const started = performance.now();
    try {
      await this.commit(batch);
    } catch (error) {
      this.fail(error instanceof EtcdError ? error : new EtcdError('bad_answer', String(error)));
      return;
    }
    observer.appended((performance.now() - started) / 1000, batch.count);
    // A reply that was held up (the process paused) goes out only while the term surely
    // lasts; otherwise the batch, still in flight, fails with everything after it.
    if (!this.options.stillActive()) {
      observer.appendFailed('term_expired');
      this.fail(new EtcdError('timeout', 'the session may have expired while this append was in flight'));
      return;
    }
    this.inFlight = null;
    this.durable = batch.firstSeq + batch.count - 1;
    batch.deferred?.resolve();
    void this.flush();
  }

  private async commit(batch: Batch): Promise<void> {
    const { client, keys, leadership } = this.options;
    sealFrame(batch.out.buf, batch.out.pos, batch.firstSeq, batch.count);
    const last = batch.firstSeq + batch.count - 1;
    const fence: Compare[] = [
      { key: leadership.key, target: 'CREATE', createRevision: leadership.createRevision },
      { key: keys.head, target: 'VALUE', value: Buffer.from(String(this.durable)) },
    ];
    const value = batch.out.buf.subarray(0, batch.out.pos);
    const ops = [{ put: { key: keys.log(batch.firstSeq), value } }, { put: { key: keys.head, value: Buffer.from(String(last)) } }];
    const observer = this.options.observer ?? silentObserver;
    for (let attempt = 1; ; attempt++) {
      let succeeded: boolean;
      try {
        succeeded = (await client.txn(fence, ops)).succeeded;
      } catch (error) {
        observer.appendFailed(error instanceof EtcdError ? failureReason(error) : 'bad_answer');
        // The fence makes the txn apply at most once, so sending it again is safe; a
        // refusal then may only mean the first attempt landed (checked below).
        const unknown = error instanceof EtcdError && (error.code === 'timeout' || error.code === 'unreachable');
        if (!unknown || attempt >= client.options.endpoints.length || !this.options.stillActive()) throw error;
        continue;
      }
      if (succeeded || (attempt > 1 && (await this.landed(batch.firstSeq, last, value)))) return;
      observer.appendFailed('fenced');
      throw new EtcdError('server_error', 'append refused: this replica is no longer the active, or another one wrote to the log');
    }
  }

  /** After a retried append was refused: did an earlier attempt of it commit? */
  private async landed(firstSeq: number, last: number, value: Buffer): Promise<boolean> {
    const { client, keys } = this.options;
    const head = (await client.range(keys.head)).kvs[0];
    if (head?.value.toString() !== String(last)) return false;
    const stored = (await client.range(keys.log(firstSeq))).kvs[0];
    return stored !== undefined && stored.value.equals(value);
  }

  private fail(error: EtcdError): void {
    if (this.failedWith !== null) return;
    this.failedWith = error;
    for (const batch of [this.inFlight, ...this.sealed, this.open]) batch?.deferred?.reject(error);
    this.idle?.();
    this.options.onFailed(error);
  }
}

function newBatch(): Batch {
  const out = new ByteWriter(16 * 1024);
  out.pos = frameHeaderBytes;
  return { out, firstSeq: 0, count: 0, deferred: null };
}
