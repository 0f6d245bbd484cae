import type { Logger } from 'pino';
import { ByteReader, DecodeError } from '../byte-buffer.js';
import { readFrame } from '../frame.js';
import { decodeRecord } from '../record-codec.js';
import { RecoveryImage } from '../recovery-image.js';
import { CorruptLogError } from '../store-errors.js';
import type { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import type { ClusterKeys } from './etcd-keys.js';
import { type Watch, openWatch } from './etcd-watch.js';
import { loadSnapshot } from './etcd-snapshot.js';
import { type ReplicationObserver, silentObserver } from './replication-observer.js';

export interface LogFollowerOptions {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly log: Logger;
  /** Log keys read per range call while catching up. */
  readonly pageKeys: number;
  /** How often a following standby compares its position with the log's head. */
  readonly headPollMs: number;
  /** Told how far behind the head the copy is, at each head poll and each batch applied. */
  readonly observer?: ReplicationObserver;
}

/**
 * A standby's copy of the replicated log: the state as plain data (the same
 * recovery image the local store replays into), loaded from the snapshot and the
 * log in etcd, then kept current by a watch on the log's keys. Takeover hands the
 * image to the state machine, so a standby is ready the moment it wins.
 *
 * A watch can fail silently (a stalled stream) or be cancelled because etcd
 * compacted the history it started from: the head is polled, and a follower that
 * stays behind it for two polls in a row catches up by reading; a compacted watch
 * reloads everything from the snapshot.
 */
export class LogFollower {
  image = new RecoveryImage();
  /** Sequence number of the last record applied. */
  lastSeq = 0;
  /** Records applied from the log (not the snapshot) since the last load. */
  records = 0;
  snapshotSeq = 0;
  private revision = 0;
  /** The highest head sequence number seen (polled, or applied past it). */
  private knownHead = 0;
  private watch: Watch | null = null;
  private poller: NodeJS.Timeout | null = null;
  private behindSince: number | null = null;
  private stopped = false;
  private busy: Promise<void> | null = null;

  constructor(private readonly options: LogFollowerOptions) {}

  /** Loads the snapshot and every log record after it into a fresh image. */
  async load(): Promise<void> {
    const image = new RecoveryImage();
    const snapshot = await loadSnapshot(this.options.client, this.options.keys, image);
    this.image = image;
    this.snapshotSeq = snapshot?.seq ?? 0;
    this.lastSeq = this.snapshotSeq;
    this.records = 0;
    this.revision = snapshot?.revision ?? 0;
    await this.catchUp();
  }

  /** Reads (linearizably) every log batch after the last one applied. */
  async catchUp(): Promise<void> {
    const { client, keys, pageKeys } = this.options;
    let from = keys.log(this.lastSeq + 1);
    let revision: number | undefined;
    for (;;) {
      const page = await client.range(from, { rangeEnd: keys.logEnd, limit: pageKeys, ...(revision === undefined ? {} : { revision }) });
      revision ??= page.revision;
      for (const kv of page.kvs) this.applyBatch(kv.value, keys.logSeq(kv.key));
      if (!page.more || page.kvs.length === 0) break;
      from = Buffer.concat([page.kvs.at(-1)!.key, Buffer.from([0])]);
    }
    if (revision > this.revision) this.revision = revision;
  }

  /** Keeps the image current until `stop()`. */
  follow(): void {
    this.stopped = false;
    this.openWatch();
    this.poller = setInterval(() => void this.checkHead(), this.options.headPollMs);
    this.poller.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    this.watch = null;
    if (this.poller !== null) clearInterval(this.poller);
    this.poller = null;
  }

  /** Waits for a reload or catch-up in progress (takeover must not race one). */
  async idle(): Promise<void> {
    while (this.busy !== null) await this.busy;
  }

  private openWatch(): void {
    const { client, keys } = this.options;
    this.watch = openWatch(
      client,
      { key: keys.logPrefix, rangeEnd: keys.logEnd, startRevision: this.revision + 1 },
      {
        events: (events, revision) => {
          try {
            for (const event of events) if (event.type === 'put') this.applyBatch(event.kv.value, keys.logSeq(event.kv.key));
            if (revision > this.revision) this.revision = revision;
          } catch (error) {
            this.restart(error instanceof EtcdError && error.code === 'compacted');
          }
        },
        ended: (error) => {
          this.options.log.warn({ err: error }, 'log watch ended; catching up');
          if (error.code !== 'compacted') client.rotate();
          this.restart(error.code === 'compacted');
        },
      },
      client.options.callTimeoutMs,
    );
  }

  /** Drops the watch, reads what it missed (or reloads everything), watches again. */
  private restart(reload: boolean): void {
    if (this.stopped || this.busy !== null) return;
    this.watch?.close();
    this.watch = null;
    this.busy = (async () => {
      try {
        if (reload) await this.load();
        else await this.catchUp();
      } catch (error) {
        this.options.log.warn({ err: error }, 'catching up with the log failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, this.options.headPollMs));
        if (error instanceof EtcdError && error.code === 'compacted') reload = true;
      } finally {
        this.busy = null;
      }
      if (!this.stopped) this.openWatch();
    })();
  }

  private async checkHead(): Promise<void> {
    if (this.stopped || this.busy !== null) return;
    try {
      const head = (await this.options.client.range(this.options.keys.head)).kvs[0];
      const headSeq = head === undefined ? 0 : Number(head.value.toString());
      this.knownHead = Math.max(this.knownHead, headSeq);
      this.reportLag();
      if (headSeq <= this.lastSeq) {
        this.behindSince = null;
        return;
      }
      if (this.behindSince === null) {
        this.behindSince = headSeq;
        return;
      }
      this.options.log.warn({ headSeq, lastSeq: this.lastSeq }, 'log watch is behind the head; reading what it missed');
      this.behindSince = null;
      this.restart(false);
    } catch {
      this.options.client.rotate();
    }
  }

  /**
   * Applies one committed batch. Batches come in sequence order; one already
   * applied (a watch replaying what a read caught) is skipped, and a gap means
   * records we never saw were compacted away: reload.
   */
  private applyBatch(value: Buffer, firstSeq: number): void {
    const frame = readFrame(value, 0);
    if (!frame.ok) throw new CorruptLogError(`etcd log batch ${firstSeq}`, 0, frame.reason);
    if (frame.firstSeq + frame.count - 1 <= this.lastSeq) return;
    if (frame.firstSeq !== this.lastSeq + 1) {
      throw new EtcdError('compacted', `log batch ${frame.firstSeq} follows record ${this.lastSeq}: records in between are gone`);
    }
    const input = new ByteReader(value, frame.payloadStart, frame.payloadEnd);
    try {
      for (let i = 0; i < frame.count; i++) decodeRecord(input, this.image);
    } catch (error) {
      if (error instanceof DecodeError) throw new CorruptLogError(`etcd log batch ${firstSeq}`, error.offset, error.message);
      throw error;
    }
    this.lastSeq = frame.firstSeq + frame.count - 1;
    this.records += frame.count;
    this.reportLag();
  }

  private reportLag(): void {
    this.knownHead = Math.max(this.knownHead, this.lastSeq);
    (this.options.observer ?? silentObserver).followerLag(this.knownHead - this.lastSeq);
  }
}
