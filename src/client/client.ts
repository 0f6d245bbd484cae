import { EventEmitter } from 'node:events';
import type { Hashing } from '../domain/hashing.js';
import type {
  Grant, HoldRef, LeaseDetail, LeaseExpiredPush, LockPage, LockPush, LockView, LookupManyResult, LookupOneResult, MemberRef, OpArgs,
  OpResults, PositionPush, Push, RingDetail, RingPush, RingSummary, WaiterPage,
} from '../protocol/wire.js';
import { loadHashing } from '../xxhash.js';
import { LockringClientError, asClientError } from './errors.js';
import { type CallOptions, HttpApi, type SharedOp } from './http-api.js';
import { Hold, type LockHandle, defaultSafetyMarginMs } from './lock-handle.js';
import { type MultiLockHandle, MultiHold } from './multi-lock-handle.js';
import { RingView } from './ring-view.js';
import type { ClientTls } from './tls-options.js';
import type { RingAlgorithm } from '../domain/ring-algorithm.js';
import type { LockMode, MovedRange, MultiGrant, MultiLockItem, RingDiffBody } from '../protocol/wire.js';
import { ServerSet } from './server-set.js';
import { type Backoff, type SendOptions, WsLink } from './ws-link.js';

export interface LockringClientOptions {
  /**
   * The server, e.g. `http://127.0.0.1:7420`; the WebSocket is `<url>/v1/ws`. In
   * replicated mode, the replicas comma-separated (`http://a:7420,http://b:7420`):
   * requests and the socket follow the active.
   */
  readonly url: string;
  /**
   * Bearer token of a server with auth: sent as `Authorization: Bearer <authToken>`
   * with every HTTP request and on the WebSocket upgrade.
   */
  readonly authToken?: string;
  /** @deprecated The old name of `authToken` (easily confused with fencing tokens). */
  readonly token?: string;
  /** Use the WebSocket (default true): lost-lock notices, watches, ring views, sessions. */
  readonly websocket?: boolean;
  /** TTL of the client's session lease, kept alive by the socket (default 15 s); 0: no session. */
  readonly sessionTtlMs?: number;
  /** How long a request may go unanswered (default 10 s; a waiting acquire adds its waitMs). */
  readonly requestTimeoutMs?: number;
  /** Ping interval of the WebSocket; two silent intervals drop the socket (default 5 s). */
  readonly heartbeatMs?: number;
  /** Reconnect delays (default 100 ms doubling to 5 s, with jitter). */
  readonly reconnect?: Partial<Backoff>;
  /** For an https:// server: a private CA to trust, and a client certificate for mutual TLS (HTTP and WebSocket). */
  readonly tls?: ClientTls;
}

/** What `acquireAll` takes: the multi-lock's shared arguments, plus the client options of `acquire`. */
export type AcquireAllOptions = Omit<OpArgs<'multilock.acquire'>, 'locks' | 'leaseId' | 'positions'> & Pick<AcquireOptions, 'signal' | 'keepalive' | 'safetyMarginMs'> & {
  /** As `acquire`'s, once per name: the multi-lock's place in that name's queue. */
  readonly onPosition?: (name: string, position: number, total: number) => void;
};

/** What `acquire` takes: the server's own acquire arguments, plus client options. */
export type AcquireOptions = Omit<OpArgs<'lock.acquire'>, 'name' | 'leaseId' | 'positions'> & {
  /** Gives up a waiting acquire (it leaves the server's queue). */
  readonly signal?: AbortSignal;
  /**
   * While a `waitMs` acquire waits over the WebSocket: called when it is queued and
   * each time its place changes (1: next to be granted; `total`: the queue's length),
   * never after it returns. Over HTTP (no socket) it is not called.
   */
  readonly onPosition?: (position: number, total: number) => void;
  /** Keep the lease alive every ttlMs / 3 (default true). */
  readonly keepalive?: boolean;
  /** How long before the earliest possible server expiry the handle gives up (default 5% of ttlMs). */
  readonly safetyMarginMs?: number;
};

export interface ServerHealth {
  readonly epoch: number;
  readonly uptimeMs: number;
  readonly ready: boolean;
  /** Why it is not ready. */
  readonly reason?: string;
}

export interface LookupOptions {
  readonly n?: number;
  readonly version?: number;
  /** Also answer the owners at this earlier version (handover). */
  readonly previous?: number;
}

export interface RingDiffOptions {
  /** Replicas per range (default 1). */
  readonly n?: number;
  readonly start?: number;
  readonly limit?: number;
}

export type LockWatchTarget = { readonly name: string } | { readonly prefix: string };

export interface Subscription {
  close(): Promise<void>;
}

export interface ClientEvents {
  /** A socket is up and serving; `resumed`: the previous session was taken back. */
  connected: [{ readonly sessionId: string | null; readonly resumed: boolean }];
  disconnected: [];
  /** The server's lost-lease notice, for any lease this client listens to. */
  lease_expired: [LeaseExpiredPush];
  /** The session lease ended (expired while disconnected, or revoked); a new one is opened. */
  session_lost: [{ readonly leaseId: string }];
  /** A watch could not be re-established after a reconnect. */
  watch_failed: [{ readonly error: LockringClientError }];
  /** withLock's release failed for a transport reason; the lock lapses at its TTL. */
  release_failed: [{ readonly name: string; readonly token: number; readonly error: LockringClientError }];
}

interface ClientWatch {
  readonly args: OpArgs<'watch'>;
  readonly listener: (push: Push) => void;
  readonly resubscribed: (() => void) | undefined;
  serverId: number | null;
  closed: boolean;
}

export const lockTtlMsDefault = 10_000;
const expiredRemembered = 1_024;

/**
 * The TypeScript client of lockring. Requests go over the WebSocket while it is up
 * and over HTTP otherwise, with the same arguments and answers (the protocol's
 * types). Locks come back as handles that keep their lease alive and whose signal
 * fires the moment the lock may be lost. The socket reconnects with backoff,
 * resumes its session (so lost-lock notices that came meanwhile still arrive) and
 * re-subscribes its watches.
 */
export class LockringClient extends EventEmitter<ClientEvents> {
  /** The server's URL(s) as given, without trailing slashes (comma-separated). */
  readonly url: string;
  private readonly http: HttpApi;
  private readonly link: WsLink | null;
  private readonly requestTimeoutMs: number;
  private readonly sessionTtlMs: number;
  private session: string | null = null;
  /** Whether the current socket took the previous session back. */
  private resumed = false;
  private readonly holds = new Map<string, Set<Hold>>();
  private readonly expired = new Set<string>();
  private readonly watches = new Set<ClientWatch>();
  private readonly byServerId = new Map<number, ClientWatch>();
  private hashing: Promise<Hashing> | null = null;
  private closed = false;

  constructor(options: LockringClientOptions) {
    super();
    const servers = new ServerSet(options.url);
    this.url = servers.urls.join(',');
    const authToken = options.authToken ?? options.token;
    const headers: Record<string, string> = authToken === undefined ? {} : { authorization: `Bearer ${authToken}` };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.sessionTtlMs = options.sessionTtlMs ?? 15_000;
    this.http = new HttpApi(servers, headers, this.requestTimeoutMs, options.tls);
    this.link = options.websocket === false ? null : new WsLink({
      // A socket that drops (a replica died, or a standby refused the upgrade) redials the next replica.
      url: () => `${servers.current.replace(/^http/, 'ws')}/v1/ws`,
      onDialFailed: () => servers.unreachable(servers.current),
      headers,
      tls: options.tls,
      backoff: { initialDelayMs: options.reconnect?.initialDelayMs ?? 100, maxDelayMs: options.reconnect?.maxDelayMs ?? 5_000 },
      heartbeatMs: options.heartbeatMs ?? 5_000,
      requestTimeoutMs: this.requestTimeoutMs,
      onOpen: () => this.onOpen(),
      onReady: () => this.emit('connected', { sessionId: this.session, resumed: this.resumed }),
      onPush: (push) => this.onPush(push),
      onDown: () => this.emit('disconnected'),
    });
  }

  /** True while the WebSocket is up and serving. */
  get connected(): boolean {
    return this.link?.ready ?? false;
  }

  /** The session lease (kept alive by the socket): bind ring members to it to leave with the client. */
  get sessionId(): string | null {
    return this.session;
  }

  /** Opens the WebSocket (done lazily otherwise) and waits until it serves. */
  async connect(timeoutMs = this.requestTimeoutMs): Promise<void> {
    if (this.link === null) throw new LockringClientError('closed', 'this client was made with websocket: false');
    await this.link.whenReady(timeoutMs);
  }

  // ---- locks --------------------------------------------------------------

  /**
   * Acquires `name` (a try-lock unless `waitMs`), with a lease of its own (`ttlMs`,
   * default 10 s) renewed every third of the TTL. Throws LockringClientError
   * `lock_held` when not granted in time. A grant that came later than a third of the
   * TTL (it waited in line) is renewed before it is returned; check `signal` before
   * using a lock whose renewal may have failed.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<LockHandle> {
    const { signal, keepalive = true, safetyMarginMs, onPosition, ...rest } = options;
    const asksPositions = onPosition !== undefined && (rest.waitMs ?? 0) > 0;
    const args = { ...rest, name, ttlMs: rest.ttlMs ?? lockTtlMsDefault, ...(asksPositions ? { positions: true } : {}) };
    await this.firstConnection();
    const sentAtMs = performance.now();
    const grant = await this.shared('lock.acquire', args, {
      signal,
      ...(asksPositions ? { onPosition: (push: PositionPush) => onPosition(push.position, push.total) } : {}),
      timeoutMs: (args.waitMs ?? 0) + this.requestTimeoutMs,
      // Granted after we gave up: hand it straight back.
      onLateResult: (late: Grant) => void this.shared('lock.release', { name: late.name, token: late.token }).catch(() => {}),
    });
    const hold = this.keep(grant, { sentAtMs, keepalive, safetyMarginMs }, (leaseId, timeoutMs) => this.shared('lease.keepalive', { leaseId }, { timeoutMs }));
    // A grant that waited in line is renewed before it is handed out (see Hold).
    await hold.ready;
    return hold;
  }

  /**
   * Acquires several names at once, all or none (`items`: names, or `{name, mode?,
   * limit?}`), on one lease of their own, with a fencing token per name. Waits as
   * `acquire` does, as one place in every name's queue; throws `lock_held` naming
   * the names that blocked. The handle's signal fires when any hold may be lost.
   */
  async acquireAll(items: readonly (string | MultiLockItem)[], options: AcquireAllOptions = {}): Promise<MultiLockHandle> {
    const { signal, keepalive = true, safetyMarginMs, onPosition, ...rest } = options;
    const locks = items.map((item) => (typeof item === 'string' ? { name: item } : item));
    const asksPositions = onPosition !== undefined && (rest.waitMs ?? 0) > 0;
    const args = { ...rest, locks, ttlMs: rest.ttlMs ?? lockTtlMsDefault, ...(asksPositions ? { positions: true } : {}) };
    await this.firstConnection();
    const sentAtMs = performance.now();
    const granted = await this.shared('multilock.acquire', args, {
      signal,
      timeoutMs: (args.waitMs ?? 0) + this.requestTimeoutMs,
      onLateResult: (late: MultiGrant) => void this.shared('multilock.release', { holds: late.grants.map(({ name, token }) => ({ name, token })) }).catch(() => {}),
      ...(asksPositions ? { onPosition: (push: PositionPush) => onPosition(push.name, push.position, push.total) } : {}),
    });
    // Every hold keeps the one lease alive on the same beat: their keepalives share one request.
    let renewing: Promise<unknown> | null = null;
    const renew = (leaseId: string, timeoutMs: number): Promise<unknown> =>
      (renewing ??= this.shared('lease.keepalive', { leaseId }, { timeoutMs }).finally(() => (renewing = null)));
    const holds = granted.grants.map((grant) => this.keep(grant, { sentAtMs, keepalive, safetyMarginMs }, renew));
    const handle = new MultiHold(granted.leaseId, holds, (refs) => this.shared('multilock.release', { holds: refs }));
    await Promise.all(holds.map((hold) => hold.ready));
    return handle;
  }

  /**
   * Runs `fn` while holding `name` and releases after, also when `fn` throws. `fn`
   * gets the handle's signal: stop touching the resource when it fires.
   */
  async withLock<T>(name: string, fn: (signal: AbortSignal, token: number) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    const handle = await this.acquire(name, options);
    let result: T;
    try {
      result = await fn(handle.signal, handle.token);
    } catch (error) {
      await handle.release().catch(() => {});
      throw error;
    }
    try {
      await handle.release();
    } catch (error) {
      this.emit('release_failed', { name, token: handle.token, error: asClientError(error) });
    }
    return result;
  }

  release(name: string, token: number): Promise<OpResults['lock.release']> {
    return this.shared('lock.release', { name, token });
  }

  /** Whether `token` holds `name` now; with `mode`, held in that mode only. */
  check(name: string, token: number, mode?: LockMode): Promise<OpResults['lock.check']> {
    return this.shared('lock.check', mode === undefined ? { name, token } : { name, token, mode });
  }

  getLock(name: string): Promise<LockView> {
    return this.http.request('GET', `/v1/locks/${encodeURIComponent(name)}`);
  }

  /** A page of the queue of `name`, in grant order, positions as of this read. */
  getLockWaiters(name: string, options: { limit?: number; after?: number } = {}): Promise<WaiterPage> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options)) if (value !== undefined) query.set(key, String(value));
    return this.http.request('GET', `/v1/locks/${encodeURIComponent(name)}/waiters${query.size > 0 ? `?${query.toString()}` : ''}`);
  }

  listLocks(options: { prefix?: string; limit?: number; after?: string } = {}): Promise<LockPage> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options)) if (value !== undefined) query.set(key, String(value));
    return this.http.request('GET', `/v1/locks${query.size > 0 ? `?${query.toString()}` : ''}`);
  }

  // ---- leases -------------------------------------------------------------

  grantLease(ttlMs: number): Promise<OpResults['lease.grant']> {
    return this.shared('lease.grant', { ttlMs });
  }

  keepalive(leaseId: string, ttlMs?: number): Promise<OpResults['lease.keepalive']> {
    return this.shared('lease.keepalive', ttlMs === undefined ? { leaseId } : { leaseId, ttlMs });
  }

  revokeLease(leaseId: string): Promise<{ leaseId: string; released: HoldRef[]; removed: MemberRef[] }> {
    return this.shared('lease.revoke', { leaseId });
  }

  getLease(leaseId: string): Promise<LeaseDetail> {
    return this.http.request('GET', `/v1/leases/${encodeURIComponent(leaseId)}`);
  }

  // ---- health -------------------------------------------------------------

  /** The process is up (`/healthz`); `ready` says whether it serves (`/readyz`: not while recovering, nor on a standby). */
  async health(): Promise<ServerHealth> {
    const up = await this.http.request<{ epoch: number; uptimeMs: number }>('GET', '/healthz');
    try {
      await this.http.request('GET', '/readyz');
      return { epoch: up.epoch, uptimeMs: up.uptimeMs, ready: true };
    } catch (error) {
      if (asClientError(error).code !== 'not_ready') throw error;
      return { epoch: up.epoch, uptimeMs: up.uptimeMs, ready: false, reason: asClientError(error).message };
    }
  }

  // ---- rings --------------------------------------------------------------

  putRing(ring: string, options: { vnodes?: number; algorithm?: RingAlgorithm } = {}): Promise<RingSummary> {
    return this.http.request('PUT', `/v1/rings/${encodeURIComponent(ring)}`, options);
  }

  getRing(ring: string): Promise<RingDetail> {
    return this.http.request('GET', `/v1/rings/${encodeURIComponent(ring)}`);
  }

  listRings(): Promise<{ rings: (RingSummary & { nodes: number })[] }> {
    return this.http.request('GET', '/v1/rings');
  }

  deleteRing(ring: string): Promise<{ name: string }> {
    return this.http.request('DELETE', `/v1/rings/${encodeURIComponent(ring)}`);
  }

  putNode(
    ring: string,
    node: string,
    options: { weight?: number; meta?: Record<string, unknown>; leaseId?: string } = {},
  ): Promise<{ ring: string; node: string; version: number }> {
    return this.http.request('PUT', `/v1/rings/${encodeURIComponent(ring)}/nodes/${encodeURIComponent(node)}`, options);
  }

  deleteNode(ring: string, node: string): Promise<{ ring: string; node: string; version: number }> {
    return this.http.request('DELETE', `/v1/rings/${encodeURIComponent(ring)}/nodes/${encodeURIComponent(node)}`);
  }

  /**
   * Asks the server; for lookups without a round trip use `ring()`. With
   * `previous` (a version the server still keeps) the answer also carries the
   * owners at that version: read from the old owner, write to the new one.
   */
  async lookup(ring: string, key: string, options: LookupOptions = {}): Promise<LookupOneResult> {
    return (await this.shared('ring.lookup', { ring, key, ...options })) as LookupOneResult;
  }

  async lookupMany(ring: string, keys: string[], options: LookupOptions = {}): Promise<LookupManyResult> {
    return (await this.shared('ring.lookup', { ring, keys, ...options })) as LookupManyResult;
  }

  /**
   * The hash ranges whose owners changed from version `from` to `to`, one page
   * (up to `limit` ranges from position `start`); pass `next` as `start` for the
   * next page, or use `ringDiffAll`.
   */
  ringDiff(ring: string, from: number, to: number, options: RingDiffOptions = {}): Promise<RingDiffBody> {
    const query = new URLSearchParams({ from: String(from), to: String(to) });
    for (const [field, value] of Object.entries(options)) if (value !== undefined) query.set(field, String(value));
    return this.http.request('GET', `/v1/rings/${encodeURIComponent(ring)}/diff?${query.toString()}`);
  }

  /** Every moved range from `from` to `to`, reading page after page (at most `pagesMax`). */
  async ringDiffAll(ring: string, from: number, to: number, options: Omit<RingDiffOptions, 'start'> & { pagesMax?: number } = {}): Promise<MovedRange[]> {
    const { pagesMax = 10_000, ...rest } = options;
    const ranges: MovedRange[] = [];
    let start: number | undefined = 0;
    for (let page = 0; start !== undefined; page++) {
      if (page === pagesMax) throw new LockringClientError('limit_exceeded', `the diff of ring ${JSON.stringify(ring)} takes more than ${pagesMax} pages`, null);
      const body: RingDiffBody = await this.ringDiff(ring, from, to, { ...rest, start });
      ranges.push(...body.ranges);
      start = body.next;
    }
    return ranges;
  }

  /**
   * A local copy of `ring`, kept current by a ring watch, that answers lookups in
   * memory with the server's placement. Resolves once the first snapshot is in.
   */
  async ring(name: string): Promise<RingView> {
    this.hashing ??= loadHashing();
    const hashing = await this.hashing;
    let subscription: Subscription | null = null;
    const read = async (): Promise<RingDetail | null> => {
      try {
        return await this.getRing(name);
      } catch (error) {
        if (asClientError(error).code === 'ring_not_found') return null;
        throw error;
      }
    };
    const view = new RingView(name, hashing, read, () => subscription?.close() ?? Promise.resolve());
    subscription = await this.watch(
      { topic: 'ring', ring: name },
      (push) => view.applyPush(push as RingPush),
      () => void view.invalidate().catch(() => {}),
    );
    await view.refresh();
    return view;
  }

  // ---- watches ------------------------------------------------------------

  /** Pushes for one lock name or a prefix; re-subscribed after reconnects (events in between are missed). */
  watchLock(target: LockWatchTarget, listener: (push: LockPush) => void): Promise<Subscription> {
    return this.watch({ topic: 'lock', ...target }, listener as (push: Push) => void);
  }

  watchRing(ring: string, listener: (push: RingPush) => void): Promise<Subscription> {
    return this.watch({ topic: 'ring', ring }, listener as (push: Push) => void);
  }

  /** Closes the socket; held locks' signals fire (`client_closed`) and their leases run out. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of [...this.holds.values()]) for (const hold of set) hold.lose('client_closed');
    this.watches.clear();
    this.byServerId.clear();
    this.http.close();
    await this.link?.close();
  }

  // ---- internals ----------------------------------------------------------

  private async shared<Op extends SharedOp>(op: Op, args: OpArgs<Op>, options: CallOptions & Pick<SendOptions, 'onLateResult' | 'onPosition'> = {}): Promise<OpResults[Op]> {
    if (this.closed) throw new LockringClientError('closed', 'the client is closed');
    if (this.link?.ready) return this.link.send(op, args, options);
    return this.http.op(op, args, options);
  }

  /** The first request waits for the socket, so notices and keepalives use it from the start. */
  private async firstConnection(): Promise<void> {
    if (this.link === null || this.link.started) return;
    await this.link.whenReady(this.requestTimeoutMs).catch(() => {});
  }

  private async watch(args: OpArgs<'watch'>, listener: (push: Push) => void, resubscribed?: () => void): Promise<Subscription> {
    if (this.link === null) throw new LockringClientError('closed', 'watches need the WebSocket (websocket: true)');
    const watch: ClientWatch = { args, listener, resubscribed, serverId: null, closed: false };
    this.watches.add(watch);
    try {
      if (this.link.ready) await this.subscribe(watch);
      else await this.link.whenReady(this.requestTimeoutMs);
      // Subscribed on connect, unless that failed: then try once more and let it throw.
      if (watch.serverId === null) await this.subscribe(watch);
    } catch (error) {
      await this.unwatch(watch);
      throw error;
    }
    return { close: () => this.unwatch(watch) };
  }

  private async unwatch(watch: ClientWatch): Promise<void> {
    if (watch.closed) return;
    watch.closed = true;
    this.watches.delete(watch);
    const serverId = watch.serverId;
    if (serverId === null) return;
    this.byServerId.delete(serverId);
    if (this.link?.ready) await this.link.send('unwatch', { watchId: serverId }).catch(() => {});
  }

  private async subscribe(watch: ClientWatch): Promise<void> {
    const { watchId } = await this.link!.send('watch', watch.args);
    if (watch.closed) {
      await this.link!.send('unwatch', { watchId }).catch(() => {});
      return;
    }
    watch.serverId = watchId;
    this.byServerId.set(watchId, watch);
  }

  /** A new socket: take the session back (or open one), then watch again what we watched. */
  private async onOpen(): Promise<void> {
    this.resumed = false;
    try {
      this.resumed = await this.openSession();
    } catch (error) {
      // A refused session (a limit, say) leaves this socket without one; it still serves.
      if (asClientError(error).transport) throw error;
    }
    this.byServerId.clear();
    for (const watch of this.watches) watch.serverId = null;
    await Promise.all(
      [...this.watches].map(async (watch) => {
        try {
          await this.subscribe(watch);
          watch.resubscribed?.();
        } catch (error) {
          this.emit('watch_failed', { error: asClientError(error) });
        }
      }),
    );
  }

  private async openSession(): Promise<boolean> {
    if (this.sessionTtlMs === 0) return false;
    const link = this.link!;
    if (this.session !== null) {
      try {
        await link.send('session.resume', { leaseId: this.session });
        return true;
      } catch (error) {
        if (asClientError(error).code !== 'lease_not_found') throw error;
        const lost = this.session;
        this.session = null;
        this.emit('session_lost', { leaseId: lost });
      }
    }
    this.session = (await link.send('session.open', { ttlMs: this.sessionTtlMs })).leaseId;
    return false;
  }

  private onPush(push: Push): void {
    if (push.event === 'hold_ended' || push.event === 'yield_requested') {
      for (const hold of this.holds.get(push.leaseId) ?? []) {
        if (hold.token !== push.token) continue;
        if (push.event === 'hold_ended') hold.lose(push.reason);
        else hold.yieldRequested({ graceMs: push.graceMs, yieldBy: push.yieldBy });
      }
      return;
    }
    // Position pushes go to their acquire (WsLink), never here.
    if (push.event === 'position') return;
    if (push.event !== 'lease_expired') {
      this.byServerId.get(push.watchId)?.listener(push);
      return;
    }
    this.expired.add(push.leaseId);
    if (this.expired.size > expiredRemembered) this.expired.delete(this.expired.values().next().value!);
    for (const hold of this.holds.get(push.leaseId) ?? []) hold.lose(push.reason);
    this.emit('lease_expired', push);
    if (push.leaseId === this.session) {
      // Revoked under us: the socket goes on without a session until a new one opens.
      this.session = null;
      this.emit('session_lost', { leaseId: push.leaseId });
      if (this.link?.ready) void this.openSession().catch(() => {});
    }
  }

  /** A handle for `grant` that keeps its lease alive and hears of its loss. */
  private keep(
    grant: Grant,
    timing: { sentAtMs: number; keepalive: boolean; safetyMarginMs: number | undefined },
    keepalive: (leaseId: string, timeoutMs: number) => Promise<unknown>,
  ): Hold {
    const hold = new Hold(
      grant,
      {
        sentAtMs: timing.sentAtMs,
        keepaliveEveryMs: timing.keepalive ? Math.floor(grant.ttlMs / 3) : 0,
        safetyMarginMs: timing.safetyMarginMs ?? defaultSafetyMarginMs(grant.ttlMs),
      },
      {
        keepalive,
        release: (lock, token) => this.shared('lock.release', { name: lock, token }),
        ended: (ended) => this.forget(ended),
      },
    );
    if (!hold.lost) {
      let set = this.holds.get(hold.leaseId);
      if (set === undefined) this.holds.set(hold.leaseId, (set = new Set()));
      set.add(hold);
    }
    if (this.expired.has(hold.leaseId)) hold.lose('expired');
    return hold;
  }

  private forget(hold: Hold): void {
    const set = this.holds.get(hold.leaseId);
    set?.delete(hold);
    if (set?.size === 0) this.holds.delete(hold.leaseId);
  }
}
