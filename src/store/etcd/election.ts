import type { Logger } from 'pino';
import { type EtcdClient, type KeyValue } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import { type Watch, openWatch } from './etcd-watch.js';
import type { ClusterKeys } from './etcd-keys.js';

export interface ElectionOptions {
  readonly client: EtcdClient;
  readonly keys: ClusterKeys;
  readonly log: Logger;
  /** This replica's URL, shown to clients that reach a standby. */
  readonly advertiseUrl: string;
  /** TTL of the session lease (rounded up to whole seconds: etcd's unit). */
  readonly sessionTtlMs: number;
  /** Subtracted from the session TTL when trusting leadership without asking etcd. */
  readonly driftMarginMs: number;
  /** The active's URL as this replica learns it (null: no active right now). */
  readonly onActive: (url: string | null) => void;
  /** The session is gone (lease expired or keepalives lapsed): this replica must stop acting. */
  readonly onLost: (error: EtcdError) => void;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
}

export interface Leadership {
  /** Create revision of our candidate key: every append is fenced by it. */
  readonly createRevision: number;
  readonly key: Buffer;
}

/**
 * Leader election as etcd's concurrency package does it: each replica puts a
 * candidate key on its own session lease; the owner is the key with the lowest
 * create revision. A candidate waits for the key just before its own (its
 * predecessor) to go, then checks its rank again; several may go at once.
 *
 * Leadership is trusted locally only while the session lease surely lives at
 * etcd: from when the last successful keepalive was *sent*, for the TTL minus a
 * drift margin. etcd cannot expire the lease before that (it counts the TTL from
 * when it handled the keepalive, later than our send), so no other replica can
 * have been elected within it.
 */
export class Election {
  private leaseId: string | null = null;
  private ttlSeconds: number;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private lastRenewedAt = -Infinity;
  private renewing = false;
  /** Fires when the session stops being sure, so onLost comes then and not at the next keepalive. */
  private expiryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lost = false;
  private watch: Watch | null = null;
  private reportedOwner = 0;
  private readonly now: () => number;

  constructor(private readonly options: ElectionOptions) {
    this.ttlSeconds = Math.max(1, Math.ceil(options.sessionTtlMs / 1000));
    this.now = options.now ?? (() => performance.now());
  }

  /** True while this replica's session surely lives (see the class comment). */
  holdsSession(): boolean {
    return !this.lost && this.now() < this.validUntil();
  }

  /** Monotonic time until which the session lease surely lives. */
  validUntil(): number {
    return this.lastRenewedAt + this.ttlSeconds * 1000 - this.options.driftMarginMs;
  }

  /** Joins the election and resolves once this replica is the owner. */
  async campaign(): Promise<Leadership> {
    const { client, keys } = this.options;
    const sentAt = this.now();
    const granted = await client.leaseGrant(this.ttlSeconds);
    this.leaseId = granted.id;
    this.renewed(sentAt);
    if (granted.ttlSeconds > this.ttlSeconds) {
      // Our own bound on leadership stays the shorter TTL asked (safe); only takeovers are slower.
      this.options.log.warn(
        { askedSeconds: this.ttlSeconds, grantedSeconds: granted.ttlSeconds },
        'etcd granted the election session a longer TTL than etcdSessionTtlMs (its minimum lease TTL): a stopped active is replaced after about the granted TTL',
      );
    }
    // Every sixth of the TTL: a kill leaves the lease at most a sixth less than its TTL
    // to run out (a faster takeover), and an active rides out about five failed
    // keepalives in a row (its leadership lease is the TTL less the drift margin).
    this.keepaliveTimer = setInterval(() => void this.renew(), Math.max(100, Math.floor((this.ttlSeconds * 1000) / 6)));
    this.keepaliveTimer.unref();
    const key = keys.candidate(this.leaseId);
    const value = Buffer.from(JSON.stringify({ url: this.options.advertiseUrl }));
    await client.txn([{ key, target: 'CREATE', createRevision: 0 }], [{ put: { key, value, lease: this.leaseId } }]);
    const mine = (await client.range(key)).kvs[0];
    if (mine === undefined) throw new EtcdError('server_error', 'our candidate key vanished right after it was written');
    const createRevision = mine.createRevision;
    this.options.log.info({ candidate: key.toString(), createRevision }, 'joined the election');
    while (!this.stopped) {
      let candidates: KeyValue[];
      try {
        candidates = await this.candidates();
      } catch (error) {
        // etcd is electing a leader or a member is gone: ask again (the session guards the rest).
        this.options.log.warn({ err: error }, 'reading the election failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (!candidates.some((kv) => kv.key.equals(key))) {
        this.fail(new EtcdError('server_error', 'our candidate key is gone: the session lease expired'));
        break;
      }
      const owner = candidates[0]!;
      if (owner.key.equals(key)) {
        this.options.onActive(this.options.advertiseUrl);
        return { createRevision, key };
      }
      if (this.reportedOwner !== owner.createRevision) {
        this.reportedOwner = owner.createRevision;
        this.options.log.info({ active: urlOf(owner), activeRevision: owner.createRevision, createRevision }, 'standing by');
      }
      this.options.onActive(urlOf(owner));
      const predecessor = candidates.filter((kv) => kv.createRevision < createRevision).at(-1)!;
      await this.waitForDelete(predecessor);
    }
    throw new EtcdError('server_error', 'the election was stopped');
  }

  /** Leaves the election: revokes the session lease so a standby takes over at once. */
  async resign(): Promise<void> {
    this.stop();
    if (this.leaseId !== null) await this.options.client.leaseRevoke(this.leaseId).catch(() => {});
  }

  /** Stops renewing and watching (the lease then expires by itself). */
  stop(): void {
    this.stopped = true;
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.watch?.close();
    this.watch = null;
  }

  private async candidates(): Promise<KeyValue[]> {
    const { client, keys } = this.options;
    const answer = await client.range(keys.electionPrefix, { rangeEnd: keys.electionEnd, sortTarget: 'CREATE', sortOrder: 'ASCEND' });
    return answer.kvs;
  }

  /**
   * Resolves when `predecessor` is deleted, or after half a session TTL anyway (a
   * watch that stalled must not keep us waiting: the caller reads the rank again).
   */
  private waitForDelete(predecessor: KeyValue): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.watch?.close();
        this.watch = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(200, (this.ttlSeconds * 1000) / 2));
      timer.unref();
      this.watch = openWatch(
        this.options.client,
        { key: predecessor.key, startRevision: predecessor.modRevision + 1 },
        {
          events: (events) => {
            if (events.some((event) => event.type === 'delete')) done();
          },
          ended: (error) => {
            if (error.code !== 'compacted') this.options.client.rotate();
            done();
          },
        },
        this.options.client.options.callTimeoutMs,
      );
    });
  }

  private async renew(): Promise<void> {
    // One keepalive at a time: a second one would only queue behind a stalled member too.
    if (this.stopped || this.leaseId === null || this.renewing) {
      if (!this.stopped && this.leaseId !== null && !this.holdsSession()) this.fail(new EtcdError('timeout', 'session keepalives lapsed for longer than the session TTL allows'));
      return;
    }
    this.renewing = true;
    const sentAt = this.now();
    try {
      // Every endpoint gets its try within half the TTL, so one stalled member (an
      // etcd leader paused, a dead host) costs one short timeout, not the session.
      const attemptMs = Math.max(500, Math.floor((this.ttlSeconds * 1000) / (2 * this.options.client.options.endpoints.length)));
      const ttl = await this.options.client.leaseKeepAlive(this.leaseId, attemptMs);
      if (ttl <= 0) {
        this.fail(new EtcdError('server_error', 'the session lease expired at etcd'));
        return;
      }
      this.renewed(sentAt);
    } catch (error) {
      this.options.log.warn({ err: error }, 'session keepalive failed; retrying');
    } finally {
      this.renewing = false;
    }
    if (!this.holdsSession()) this.fail(new EtcdError('timeout', 'session keepalives lapsed for longer than the session TTL allows'));
  }

  private renewed(sentAt: number): void {
    if (sentAt <= this.lastRenewedAt) return;
    this.lastRenewedAt = sentAt;
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      if (!this.stopped && !this.holdsSession()) this.fail(new EtcdError('timeout', 'session keepalives lapsed for longer than the session TTL allows'));
    }, Math.max(0, this.validUntil() - this.now()) + 1);
    this.expiryTimer.unref();
  }

  private fail(error: EtcdError): void {
    if (this.lost) return;
    this.lost = true;
    this.stop();
    this.options.onLost(error);
  }
}

function urlOf(kv: KeyValue): string | null {
  try {
    const value = JSON.parse(kv.value.toString()) as { url?: unknown };
    return typeof value.url === 'string' ? value.url : null;
  } catch {
    return null;
  }
}
