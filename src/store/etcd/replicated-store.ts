import type { Logger } from 'pino';
import type { StateMachine } from '../../domain/state-machine.js';
import type { Limits } from '../../limits.js';
import type { Durability } from '../durability.js';
import { EtcdClient } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import { ClusterKeys } from './etcd-keys.js';
import { backgroundSlice } from '../state-walk.js';
import { encodeState, pointerOf } from './etcd-snapshot.js';
import { Election, type Leadership } from './election.js';
import { LogAppender } from './log-appender.js';
import { LogFollower } from './log-follower.js';
import { type ReplicationObserver, silentObserver } from './replication-observer.js';
import { tokenFloor } from './token-floor.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ReplicatedOptions {
  readonly endpoints: readonly string[];
  readonly cluster: string;
  readonly advertiseUrl: string;
  readonly sessionTtlMs: number;
  /** A fresh machine: the log fills it at takeover. */
  readonly machine: StateMachine;
  readonly limits: Limits;
  readonly log: Logger;
  /** The active's URL as this replica learns it (null: none known). */
  readonly onActive: (url: string | null) => void;
  /** The replica lost its term (or the log): it must stop answering at once. */
  readonly onFatal: (error: EtcdError) => void;
  /** Snapshot into etcd after this many records (default: the etcdSnapshotIntervalRecordsMax limit). */
  readonly snapshotEveryRecords?: number;
  /** Records the snapshot walk writes between two yields to the event loop, at most (default 4096; tests make it small). */
  readonly snapshotSliceItems?: number;
  /** Deadline of one etcd call (default: half the session TTL, at least 1 s; etcd's own leader election takes about that). */
  readonly callTimeoutMs?: number;
  readonly wallNowMs?: () => number;
  /** Told of the role, takeovers, appends, follower lag and snapshots (the metrics). */
  readonly observer?: ReplicationObserver;
}

export interface ReplicatedStore extends Durability {
  /** Create revision of our election key: rises with every term. */
  readonly epoch: number;
  readonly leadership: Leadership;
  readonly recovery: { readonly records: number; readonly snapshotSeq: number; readonly lastToken: number; readonly durationMs: number };
  appendedPosition(): number;
  whenDurable(position: number): Promise<void> | undefined;
  /** Stops the replica at once if its term may be over: call before showing anything. */
  guard(): void;
  /** Writes a snapshot into etcd and deletes the log it covers. */
  snapshot(): Promise<void>;
}

/**
 * Joins the cluster: follows the log as a standby until this replica wins the
 * election, then hands the followed state to `machine` (every lease with its full
 * TTL from now, sessions detached, the fencing counter above its floor) and
 * resolves with the durability of the active, whose appends go to etcd.
 */
export async function openReplicatedStore(options: ReplicatedOptions): Promise<ReplicatedStore> {
  const client = new EtcdClient({ endpoints: options.endpoints, callTimeoutMs: options.callTimeoutMs ?? Math.max(1_000, Math.floor(options.sessionTtlMs / 2)) });
  const keys = new ClusterKeys(options.cluster);
  const observer = options.observer ?? silentObserver;
  observer.role('standby');
  const follower = new LogFollower({ client, keys, log: options.log, pageKeys: 256, headPollMs: Math.max(200, Math.floor(options.sessionTtlMs / 4)), observer });
  await untilEtcdAnswers(options.log, options.sessionTtlMs, () => follower.load());
  follower.follow();
  let store: Active | null = null;
  let takingOver = false;
  let election: Election;
  let leadership: Leadership;
  // A standby holds nothing another replica could lose: when its session lapses
  // (etcd unreachable, this process starved of CPU) it joins again with a new one,
  // at the back of the line. Only an active that loses its term must stop (onFatal).
  for (let attempt = 0; ; attempt++) {
    let lostAsStandby: EtcdError | null = null;
    election = new Election({
      client,
      keys,
      log: options.log,
      advertiseUrl: options.advertiseUrl,
      sessionTtlMs: options.sessionTtlMs,
      driftMarginMs: Math.max(250, Math.floor(options.sessionTtlMs / 10)),
      onActive: options.onActive,
      onLost: (error) => {
        if (store !== null) {
          follower.stop();
          store.lose(error);
        } else if (takingOver) {
          // Between winning and serving: the machine may be half restored, so stop as an active would.
          options.log.fatal({ err: error }, 'lost the session while taking over: stopping (a supervisor restarts it as a standby)');
          options.onFatal(error);
        } else lostAsStandby = error;
      },
    });
    try {
      leadership = await election.campaign();
      // Won, but the session lapsed on the way: that term cannot be trusted.
      if (lostAsStandby === null) {
        takingOver = true;
        break;
      }
    } catch (error) {
      if (!(error instanceof EtcdError)) throw error;
      lostAsStandby ??= error;
    }
    options.log.warn({ err: lostAsStandby, attempt }, 'standby lost its place in the election: joining again with a new session');
    options.onActive(null);
    // Revoked, so that a candidate key of ours left ahead of the others cannot delay a takeover.
    await election.resign();
    await sleep(Math.min(options.sessionTtlMs, 100 * 2 ** Math.min(attempt, 5)));
  }
  const started = performance.now();
  follower.stop();
  await follower.idle();
  // A linearizable read after winning: everything any earlier term committed is in it.
  await follower.catchUp();
  await ensureHead(client, keys, leadership, follower.lastSeq);
  const counts = follower.image.restoreInto(options.machine);
  const recovered = options.machine.lastToken;
  options.machine.ctx.fencing.advanceTo(tokenFloor(recovered, (options.wallNowMs ?? Date.now)()));
  store = new Active(options, client, keys, election, leadership, follower.lastSeq);
  const recovery = { records: follower.records, snapshotSeq: follower.snapshotSeq, lastToken: recovered, durationMs: performance.now() - started };
  Object.assign(store, { recovery });
  observer.followerLag(0);
  observer.role('active');
  observer.takeover(recovery.durationMs / 1000);
  options.log.info({ ...recovery, ...counts, epoch: leadership.createRevision, tokenFloor: options.machine.lastToken }, 'took over as the active');
  return store;
}

/** The head key exists and names our last record, or the first append's fence could never hold. */
async function ensureHead(client: EtcdClient, keys: ClusterKeys, leadership: Leadership, lastSeq: number): Promise<void> {
  const head = (await client.range(keys.head)).kvs[0];
  if (head !== undefined) {
    if (Number(head.value.toString()) !== lastSeq) throw new EtcdError('server_error', `the log head says ${head.value.toString()}, we read through ${lastSeq}`);
    return;
  }
  const put = await client.txn(
    [{ key: leadership.key, target: 'CREATE', createRevision: leadership.createRevision }, { key: keys.head, target: 'VERSION', version: 0 }],
    [{ put: { key: keys.head, value: Buffer.from(String(lastSeq)) } }],
  );
  if (!put.succeeded) throw new EtcdError('server_error', 'lost the election before the first append');
}

class Active implements ReplicatedStore {
  readonly epoch: number;
  readonly recovery = { records: 0, snapshotSeq: 0, lastToken: 0, durationMs: 0 };
  private readonly appender: LogAppender;
  private readonly unsubscribe: () => void;
  private readonly watchdog: NodeJS.Timeout;
  private recordsSinceSnapshot = 0;
  private snapshotRunning: Promise<void> | null = null;
  private lost: EtcdError | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: ReplicatedOptions,
    private readonly client: EtcdClient,
    private readonly keys: ClusterKeys,
    private readonly election: Election,
    readonly leadership: Leadership,
    headSeq: number,
  ) {
    this.epoch = leadership.createRevision;
    this.appender = new LogAppender({
      client,
      keys,
      leadership,
      headSeq,
      batchBytesMax: options.limits.etcdBatchBytesMax,
      stillActive: () => {
        this.guard();
        return this.lost === null;
      },
      onFailed: (error) => this.lose(error),
      observer: options.observer ?? silentObserver,
    });
    options.machine.onCommandEnd(() => this.appender.commandEnded());
    this.unsubscribe = options.machine.subscribe((event) => {
      if (!this.appender.append(event)) return;
      if (!options.machine.running) this.appender.commandEnded();
      this.recordsSinceSnapshot += 1;
      if (this.recordsSinceSnapshot >= (options.snapshotEveryRecords ?? options.limits.etcdSnapshotIntervalRecordsMax) && this.snapshotRunning === null) void this.snapshot().catch(() => {});
    });
    // Checked often, so a replica resumed after a long pause finds out before its next answer.
    this.watchdog = setInterval(() => this.guard(), 50);
    this.watchdog.unref();
  }

  appendedPosition(): number {
    return this.appender.appendedSeq;
  }

  /** Asked by the commit pipeline before anything is shown: the term must still be certain. */
  durablePosition(): number {
    this.guard();
    return this.appender.durableSeq;
  }

  whenDurable(position: number): Promise<void> | undefined {
    this.guard();
    return this.appender.whenDurable(position);
  }

  settled(): Promise<void> | undefined {
    return this.whenDurable(this.appender.appendedSeq);
  }

  backlogBytes(): number {
    return this.appender.backlogBytes;
  }

  guard(): void {
    if (this.lost === null && !this.election.holdsSession()) {
      this.lose(new EtcdError('timeout', 'the session may have expired at etcd: another replica may be active'));
    }
  }

  /** The term is over: stop at once, answer nothing more. */
  lose(error: EtcdError): void {
    if (this.lost !== null) return;
    this.lost = error;
    clearInterval(this.watchdog);
    this.unsubscribe();
    this.election.stop();
    this.options.log.fatal({ err: error }, 'no longer the active');
    this.options.onFatal(error);
  }

  snapshot(): Promise<void> {
    this.snapshotRunning ??= this.writeSnapshot().finally(() => {
      this.snapshotRunning = null;
    });
    return this.snapshotRunning;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.watchdog);
      this.unsubscribe();
      await this.snapshotRunning?.catch(() => {});
      await this.appender.close();
      // Revoking the session hands over at once instead of after a TTL.
      await this.election.resign();
      this.client.close();
    })();
    return this.closing;
  }

  /**
   * Chunks first, each put fenced by leadership; then the pointer swap; then the
   * log it covers and the old chunks go, and etcd compacts its history (standbys
   * watching from before reload from the snapshot).
   */
  private async writeSnapshot(): Promise<void> {
    const { limits, machine, log } = this.options;
    // The log is cut at a batch boundary: deleting the batches up to seq keeps every record after it.
    this.appender.sealOpen();
    const seq = this.appender.appendedSeq;
    this.recordsSinceSnapshot = 0;
    const encoded = await encodeState(machine, seq, () => this.appender.appendedSeq, {
      chunkBytes: limits.etcdSnapshotChunkBytesMax,
      bytesMax: limits.etcdQuotaBytesMax / 4,
      walk: {
        sliceItems: this.options.snapshotSliceItems ?? backgroundSlice.sliceItems,
        sliceMs: backgroundSlice.sliceMs,
        aborted: () => this.lost !== null || this.closing !== null,
      },
    });
    if (encoded === null) return;
    if ('tooLarge' in encoded) {
      log.error({ bytes: encoded.tooLarge, quota: limits.etcdQuotaBytesMax }, 'state too large for a snapshot in etcd (limit etcdQuotaBytesMax / 4); the log keeps everything');
      return;
    }
    // Fuzzy: it may reflect records through endSeq, so those must be in etcd before it is installed.
    await this.appender.whenDurable(encoded.endSeq);
    const fence = { key: this.leadership.key, target: 'CREATE' as const, createRevision: this.leadership.createRevision };
    const { chunks } = encoded;
    const perTxn = Math.max(1, Math.min(limits.etcdTxnOpsMax - 1, Math.floor(limits.etcdBatchBytesMax / limits.etcdSnapshotChunkBytesMax)));
    for (let first = 0; first < chunks.length; first += perTxn) {
      const puts = chunks.slice(first, first + perTxn).map((value, i) => ({ put: { key: this.keys.snapChunk(seq, first + i), value } }));
      await this.fenced([fence], puts);
    }
    const previous = (await this.client.range(this.keys.snapshot)).kvs[0];
    const pointer = Buffer.from(JSON.stringify(pointerOf(seq, encoded)));
    const revision = await this.fenced([fence], [{ put: { key: this.keys.snapshot, value: pointer } }]);
    const cleanup = [{ deleteRange: { key: this.keys.logPrefix, rangeEnd: this.keys.log(seq + 1) } }];
    if (previous !== undefined) {
      const old = (JSON.parse(previous.value.toString()) as { seq: number }).seq;
      if (old !== seq) cleanup.push({ deleteRange: this.keys.snapChunks(old) });
      else cleanup.push({ deleteRange: { key: this.keys.snapChunk(seq, chunks.length), rangeEnd: this.keys.snapChunks(seq).rangeEnd } });
    }
    const deleted = await this.fenced([fence], cleanup);
    await this.client.compact(Math.min(revision, deleted));
    (this.options.observer ?? silentObserver).snapshot(encoded.bytes);
    log.info({ seq, endSeq: encoded.endSeq, bytes: encoded.bytes, chunks: chunks.length }, 'snapshot written to etcd');
  }

  private async fenced(compare: Parameters<EtcdClient['txn']>[0], ops: Parameters<EtcdClient['txn']>[1]): Promise<number> {
    const answer = await this.client.txn(compare, ops);
    if (!answer.succeeded) {
      const error = new EtcdError('server_error', 'snapshot write refused: no longer the active');
      this.lose(error);
      throw error;
    }
    return answer.revision;
  }
}

/**
 * Runs `call` until etcd answers it: a replica started while etcd is unreachable
 * or electing its own leader waits (a standby in all but name: /readyz says 503)
 * instead of exiting. Errors that are not etcd's are bugs and are thrown.
 */
async function untilEtcdAnswers(log: Logger, sessionTtlMs: number, call: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof EtcdError)) throw error;
      log.warn({ err: error, attempt }, 'etcd did not answer the first read of the log; trying again');
      await sleep(Math.min(sessionTtlMs, 100 * 2 ** Math.min(attempt, 5)));
    }
  }
}
