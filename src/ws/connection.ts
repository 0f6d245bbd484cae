import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { Caller } from '../auth/access.js';
import type { AuthFailure, Authenticator } from '../auth/authenticator.js';
import { allows } from '../auth/grants.js';
import { type Identity, authFailure } from '../auth/http-auth.js';
import type { RequestRates } from '../auth/request-rates.js';
import type { PrincipalUsage } from '../auth/usage.js';
import { LockringError, invalid, limitExceeded, unauthorized } from '../domain/errors.js';
import type { Limits } from '../limits.js';
import type { LockringService } from '../service.js';
import type { LeaseAudience, Listener, Session } from './lease-audience.js';
import type { OpSocket, Operations } from './operations.js';
import { type FrameParser, type OpResults, type RequestId, errorReply, okReply } from './protocol.js';
import type { Watch, WatchRegistry, WatchTarget } from './watch-registry.js';

/** The stream under a WebSocket, as far as sending needs it. */
export interface WireSocket {
  cork(): void;
  uncork(): void;
}

/** What every socket shares: the server's parts and the hub's counters. */
export interface ConnectionDeps {
  readonly service: LockringService;
  readonly limits: Limits;
  readonly parser: FrameParser;
  readonly operations: Operations;
  readonly audience: LeaseAudience;
  readonly watches: WatchRegistry;
  /** null: the server runs without auth. */
  readonly authenticator: Authenticator | null;
  readonly rates: RequestRates;
  /** Sockets and watches per auth token (shared with the service's leases and waiters). */
  readonly usage: PrincipalUsage;
  /** Leadership, checked per frame (see WsHubDeps.guard). */
  readonly guard: () => void;
  readonly counters: {
    readonly framesIn: { inc(): void };
    readonly framesOut: { inc(): void };
    readonly slowClosed: { inc(): void };
    limitExceeded(limit: string): void;
    authFailed(reason: AuthFailure): void;
  };
  /** How often to ping a socket with this session (or none). */
  pingIntervalMs(session: Session | null): number;
  /** How long a closing socket may take to finish its close handshake. */
  readonly closeGraceMs: number;
  closed(connection: WsConnection): void;
}

/**
 * One WebSocket: parses frames, runs ops (many in flight, a waiting acquire never
 * blocking the rest), replies by `id`, and enforces the per-socket bounds: in-flight
 * requests, watches, bad frames, send buffer. It pings at an interval shortened by
 * its session's TTL and terminates a socket that did not answer the previous ping.
 * When it closes, its waiters leave their queues at once, its watches go, and its
 * session lease starts counting down its TTL.
 *
 * With auth, a socket is its token: the upgrade's Authorization header, or else an
 * `auth` frame within `wsAuthMsMax` (until then every other op is `unauthorized`).
 * It keeps the token's digest, not its grants, and looks the grants up for every op
 * and push, so a reload (SIGHUP) applies to open sockets at their next op.
 */
export class WsConnection implements OpSocket, Listener {
  readonly listening = new Set<string>();
  session: Session | null = null;
  closed = false;
  private closing = false;
  private inFlight = 0;
  private badFrames = 0;
  private watchSeq = 0;
  private readonly watchesById = new Map<number, Watch>();
  private readonly waiting = new Set<AbortController>();
  private readonly waitingById = new Map<RequestId, AbortController>();
  private alive = true;
  private heartbeat: NodeJS.Timeout | null = null;
  private terminateTimer: NodeJS.Timeout | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  /** The token's digest and name once authenticated; the name never changes after. */
  private digest: string | null = null;
  private principalName: string | null = null;
  /** Sends in this turn of the event loop; from the second one on, the wire is corked. */
  private sendsThisTurn = 0;
  /** Bytes sent while the wire is corked this turn (they sit in our buffer, not the peer's). */
  private corkedBytes = 0;
  private readonly endTurn = (): void => {
    if (this.sendsThisTurn > 1) this.wire?.uncork();
    this.sendsThisTurn = 0;
    this.corkedBytes = 0;
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
    private readonly log: FastifyBaseLogger,
    identity: Identity = { kind: 'open' },
    private readonly ip = '',
    /**
     * The TCP (or TLS) socket under the WebSocket, when known: corked for the rest of
     * a turn that sends more than once, so the replies and pushes of one turn (a frame
     * batch read at once, a group commit releasing many answers) share a write.
     */
    private readonly wire: WireSocket | null = null,
  ) {
    if (identity.kind === 'token') this.become(identity.digest, identity.principal.name);
    // With auth, anything but a token (pending, or a hook that did not run) must authenticate.
    else if (deps.authenticator !== null) {
      this.authTimer = setTimeout(() => this.authTimedOut(), deps.limits.wsAuthMsMax);
      this.authTimer.unref();
    }
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('close', (code) => {
      this.log.debug({ code }, 'websocket closed');
      this.closing = true;
      if (this.terminateTimer !== null) clearTimeout(this.terminateTimer);
      this.cleanup();
    });
    this.beatLater();
  }

  get listener(): Listener {
    return this.session ?? this;
  }

  /**
   * Sends a reply or push, unless closing. A reader whose unsent backlog is already
   * past the limit is closed (1013) instead: measured before the send, so one large
   * reply to a reader that keeps up is not mistaken for a slow reader.
   */
  sendText(text: string): void {
    if (this.closing) return;
    const backlog = this.ws.bufferedAmount - this.corkedBytes;
    if (backlog > this.deps.limits.wsSendBufferBytesMax) {
      this.deps.counters.slowClosed.inc();
      this.log.info({ bufferedBytes: backlog }, 'closing a slow websocket reader');
      this.closeWith(1013, 'send buffer over wsSendBufferBytesMax');
      return;
    }
    if (this.wire !== null) this.cork(text.length);
    this.ws.send(text);
    this.deps.counters.framesOut.inc();
  }

  /**
   * A turn's first send goes straight out (a lone reply pays no buffering); a second
   * one corks the wire until the turn ends, so the rest leave in one write.
   */
  private cork(bytes: number): void {
    this.sendsThisTurn += 1;
    if (this.sendsThisTurn === 1) {
      process.nextTick(this.endTurn);
      return;
    }
    if (this.sendsThisTurn === 2) this.wire!.cork();
    this.corkedBytes += bytes;
  }

  notify(text: string): void {
    this.sendText(text);
  }

  setSession(session: Session): void {
    this.session = session;
    this.beatLater();
  }

  sessionGone(session: Session): void {
    if (this.session !== session) return;
    this.session = null;
    this.beatLater();
  }

  addWatch(target: WatchTarget): number {
    const { wsWatchesPerSocketMax } = this.deps.limits;
    if (this.watchesById.size >= wsWatchesPerSocketMax) {
      this.deps.counters.limitExceeded('wsWatchesPerSocketMax');
      throw limitExceeded('wsWatchesPerSocketMax', wsWatchesPerSocketMax);
    }
    if (this.principalName !== null) this.deps.usage.check(this.principalName, 'watches', this.deps.counters.limitExceeded);
    const watch: Watch = { id: ++this.watchSeq, sink: this, target };
    try {
      this.deps.watches.add(watch);
    } catch (error) {
      if (error instanceof LockringError && error.code === 'limit_exceeded') this.deps.counters.limitExceeded('wsWatchesMax');
      throw error;
    }
    this.watchesById.set(watch.id, watch);
    if (this.principalName !== null) this.deps.usage.add(this.principalName, 'watches', 1);
    return watch.id;
  }

  removeWatch(watchId: number): boolean {
    const watch = this.watchesById.get(watchId);
    if (watch === undefined) return false;
    this.deps.watches.remove(watch);
    this.watchesById.delete(watchId);
    if (this.principalName !== null) this.deps.usage.add(this.principalName, 'watches', -1);
    return true;
  }

  /** Watch pushes go only where the socket's token may read now. */
  mayRead(topic: 'lock' | 'ring', name: string): boolean {
    if (this.deps.authenticator === null) return true;
    const principal = this.currentPrincipal();
    return principal !== undefined && allows(principal, topic === 'lock' ? 'lock.read' : 'ring.read', name);
  }

  /**
   * The `auth` op. A bad token is answered `unauthorized` and the socket closed
   * (1008): a socket is no place to guess tokens. A socket already authenticated
   * may present a new token of the same name (rotation), not another identity.
   */
  authenticate(token: string): OpResults['auth'] {
    const authenticator = this.deps.authenticator;
    if (authenticator === null) return { name: null };
    const auth = authenticator.authenticateToken(token);
    if (!auth.ok) {
      this.deps.counters.authFailed(auth.reason);
      process.nextTick(() => this.closeWith(1008, 'authentication failed'));
      throw authFailure(auth.reason);
    }
    const name = auth.principal.name;
    if (this.principalName !== null && this.principalName !== name) {
      throw invalid(`this socket is authenticated as ${JSON.stringify(this.principalName)}; open another socket for another token`, { field: 'token' });
    }
    if (this.principalName === null) {
      const limit = this.deps.usage.full(name, 'sockets');
      if (limit !== null) {
        this.deps.counters.limitExceeded(limit);
        process.nextTick(() => this.closeWith(1013, `limit ${limit} reached`));
        throw limitExceeded(limit, this.deps.limits[limit]);
      }
    }
    this.become(auth.digest, name);
    return { name };
  }

  waitSignal(requestId: RequestId | null): { signal: AbortSignal; done(): void } {
    const controller = new AbortController();
    this.waiting.add(controller);
    if (requestId !== null) this.waitingById.set(requestId, controller);
    return {
      signal: controller.signal,
      done: () => {
        this.waiting.delete(controller);
        if (requestId !== null && this.waitingById.get(requestId) === controller) this.waitingById.delete(requestId);
      },
    };
  }

  cancel(requestId: RequestId): boolean {
    const controller = this.waitingById.get(requestId);
    if (controller === undefined) return false;
    controller.abort('cancel');
    return true;
  }

  /** Starts closing with `code`; the socket is cut if the peer does not finish within the grace. */
  closeWith(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
    this.terminateTimer = setTimeout(() => this.ws.terminate(), this.deps.closeGraceMs);
    this.terminateTimer.unref();
    // Maybe inside a command (a push from a domain event): touch the machine after it.
    process.nextTick(() => this.cleanup());
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    // The socket outlives the upgrade's leadership check: every frame asks again.
    this.deps.guard();
    if (this.closing) return;
    this.alive = true;
    this.deps.counters.framesIn.inc();
    const request = this.deps.parser.parse(textOf(data));
    // Every frame spends its sender's request rate, a bad one too: the rate limits, not a
    // cap on bad frames, are what bound a client that sends nonsense (the socket stays open).
    const refusal = this.deps.rates.ip(this.ip) ?? (this.principalName === null ? null : this.deps.rates.token(this.principalName));
    if (refusal !== null) {
      this.sendText(errorReply(request.id, refusal));
      return;
    }
    if (isBinary) {
      this.badFrame(request.id, invalid('frames must be text frames holding one JSON object', { field: 'frame' }));
      return;
    }
    if ('error' in request) {
      this.badFrame(request.id, request.error);
      return;
    }
    const { wsInFlightPerSocketMax } = this.deps.limits;
    if (this.inFlight >= wsInFlightPerSocketMax) {
      this.deps.counters.limitExceeded('wsInFlightPerSocketMax');
      this.sendText(errorReply(request.id, limitExceeded('wsInFlightPerSocketMax', wsInFlightPerSocketMax)));
      return;
    }
    // Never the frame's arguments: an auth frame carries a secret.
    this.log.debug({ op: request.op, principal: this.principalName ?? undefined }, 'websocket op');
    let result;
    try {
      result = this.deps.operations.run(this, request, request.op === 'auth' ? null : this.caller());
    } catch (error) {
      this.fail(request.id, error, true);
      return;
    }
    if (!(result instanceof Promise)) {
      this.sendText(okReply(request.id, result));
      return;
    }
    this.inFlight += 1;
    result.then(
      (value) => {
        this.inFlight -= 1;
        this.sendText(okReply(request.id, value));
      },
      (error: unknown) => {
        this.inFlight -= 1;
        this.fail(request.id, error, false);
      },
    );
  }

  /** Replies with the error; a bad request counts toward the flood limit. */
  private fail(id: RequestId | null, error: unknown, synchronous: boolean): void {
    if (!(error instanceof LockringError)) {
      this.log.error({ err: error }, 'websocket request failed');
      this.sendText(JSON.stringify({ id, ok: false, error: { code: 'internal', message: 'internal error' } }));
      return;
    }
    if (synchronous && error.code === 'invalid_request') this.badFrame(id, error);
    else this.sendText(errorReply(id, error));
  }

  private badFrame(id: RequestId | null, error: LockringError): void {
    this.badFrames += 1;
    this.sendText(errorReply(id, error));
    const { wsBadFramesPerSocketMax } = this.deps.limits;
    if (wsBadFramesPerSocketMax > 0 && this.badFrames > wsBadFramesPerSocketMax) {
      this.deps.counters.limitExceeded('wsBadFramesPerSocketMax');
      this.closeWith(1008, 'too many bad frames (wsBadFramesPerSocketMax)');
    }
  }

  /** Who this socket's ops run as now; 401 before authentication or once the token is gone. */
  private caller(): Caller {
    if (this.deps.authenticator === null) return null;
    if (this.digest === null) throw unauthorized('authenticate first: send {"op": "auth", "token": "..."} or connect with Authorization: Bearer <token>');
    const principal = this.currentPrincipal();
    if (principal === undefined) throw unauthorized('the token of this socket is no longer valid: send an auth frame with a current token');
    return principal;
  }

  /** The socket's principal as the auth file says now; undefined if its token left (or changed name). */
  private currentPrincipal(): Exclude<Caller, null> | undefined {
    if (this.digest === null) return undefined;
    const principal = this.deps.authenticator?.principalOf(this.digest);
    return principal !== undefined && principal.name === this.principalName ? principal : undefined;
  }

  private become(digest: string, name: string): void {
    if (this.principalName === null) this.deps.usage.add(name, 'sockets', 1);
    this.digest = digest;
    this.principalName = name;
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
  }

  private authTimedOut(): void {
    this.authTimer = null;
    if (this.digest !== null || this.closing) return;
    this.deps.counters.authFailed('timeout');
    this.closeWith(1008, 'no auth frame within wsAuthMsMax');
  }

  private beatLater(): void {
    if (this.heartbeat !== null) clearTimeout(this.heartbeat);
    if (this.closed) return;
    this.heartbeat = setTimeout(() => this.beat(), this.deps.pingIntervalMs(this.session));
    this.heartbeat.unref();
  }

  /** No pong (nor frame) since the last ping: the peer is gone, or frozen. */
  private beat(): void {
    this.heartbeat = null;
    if (this.closing) return;
    if (!this.alive) {
      this.log.info('terminating a websocket that stopped answering pings');
      this.closing = true;
      this.ws.terminate();
      this.cleanup();
      return;
    }
    this.alive = false;
    this.ws.ping();
    this.beatLater();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== null) clearTimeout(this.heartbeat);
    this.heartbeat = null;
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
    const waiting = [...this.waiting];
    this.waiting.clear();
    this.waitingById.clear();
    for (const controller of waiting) controller.abort('closed');
    for (const watch of this.watchesById.values()) this.deps.watches.remove(watch);
    if (this.principalName !== null) {
      this.deps.usage.add(this.principalName, 'watches', -this.watchesById.size);
      this.deps.usage.add(this.principalName, 'sockets', -1);
    }
    this.watchesById.clear();
    const session = this.session;
    if (session !== null) {
      this.session = null;
      this.deps.audience.detach(session);
      this.deps.service.detachSession(session.leaseId);
    } else {
      this.deps.audience.forget(this);
    }
    this.deps.closed(this);
  }
}

function textOf(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
