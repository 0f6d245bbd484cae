import WebSocket from 'ws';
import type { OpArgs, OpName, OpResults, PositionPush, Push } from '../protocol/wire.js';
import { LockringClientError, serverError } from './errors.js';
import { type ClientTls, tlsConnectOptions } from './tls-options.js';

export interface Backoff {
  /** First retry delay; doubles per failed attempt up to maxDelayMs (with jitter). */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface WsLinkOptions {
  /** Asked at every dial (the client follows the active replica). */
  readonly url: string | (() => string);
  /** A socket closed before it served: the next dial may try another replica. */
  readonly onDialFailed?: () => void;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: ClientTls | undefined;
  readonly backoff: Backoff;
  /** The client pings this often; no pong by the next ping and the socket is dropped. */
  readonly heartbeatMs: number;
  readonly requestTimeoutMs: number;
  /** Runs on every new socket before it serves requests (session, watches). */
  readonly onOpen: () => Promise<void>;
  /** The socket serves requests now. */
  readonly onReady: () => void;
  readonly onPush: (push: Push) => void;
  readonly onDown: () => void;
}

export interface SendOptions {
  readonly timeoutMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** An answer that comes after the caller gave up (abort, timeout): undo it. */
  readonly onLateResult?: ((result: never) => void) | undefined;
  /** The request's position pushes (a waiting `lock.acquire` sent with `positions: true`). */
  readonly onPosition?: ((push: PositionPush) => void) | undefined;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly onLateResult: ((result: never) => void) | undefined;
  readonly onPosition: ((push: PositionPush) => void) | undefined;
  settled: boolean;
  timer: NodeJS.Timeout | null;
}

type State = 'idle' | 'connecting' | 'open' | 'ready' | 'closed';

/**
 * One logical WebSocket connection to lockring that survives reconnects: it dials
 * with exponential backoff and jitter, runs `onOpen` (session resume, watch
 * re-subscription) before serving requests, correlates replies by id, pings the
 * server and drops a socket that stops answering.
 */
export class WsLink {
  private state: State = 'idle';
  private ws: WebSocket | null = null;
  private seq = 0;
  private attempt = 0;
  private readonly pending = new Map<number, Pending>();
  private readyWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private awaitingPong = false;

  constructor(private readonly options: WsLinkOptions) {}

  get ready(): boolean {
    return this.state === 'ready';
  }

  get started(): boolean {
    return this.state !== 'idle';
  }

  start(): void {
    if (this.state === 'idle') this.dial();
  }

  /** Resolves when the link is (next) ready; rejects on close or after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(closedError());
    this.start();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new LockringClientError('timeout', `no WebSocket connection within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.readyWaiters.push(waiter);
    });
  }

  /** Sends one request on the current socket (open or ready) and resolves with its result. */
  send<Op extends OpName>(op: Op, args: OpArgs<Op>, options: SendOptions = {}): Promise<OpResults[Op]> {
    const ws = this.ws;
    if (ws === null || (this.state !== 'open' && this.state !== 'ready') || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new LockringClientError('disconnected', 'the WebSocket is not connected'));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const id = ++this.seq;
    return new Promise<OpResults[Op]>((resolve, reject) => {
      const cleanup = (): void => {
        if (entry.timer !== null) clearTimeout(entry.timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const entry: Pending = {
        settled: false,
        timer: null,
        onLateResult: options.onLateResult,
        onPosition: options.onPosition,
        resolve: (value) => {
          cleanup();
          resolve(value as OpResults[Op]);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      const giveUp = (error: unknown): void => {
        if (entry.settled) return;
        entry.settled = true;
        // A waiting acquire the caller no longer wants: withdraw it on the server.
        if (op === 'lock.acquire' || op === 'multilock.acquire') this.send('cancel', { requestId: id }).catch(() => {});
        // Kept to catch a late answer when there is something to undo.
        if (entry.onLateResult === undefined) this.pending.delete(id);
        entry.reject(error);
      };
      const onAbort = (): void => giveUp(options.signal!.reason);
      const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
      entry.timer = setTimeout(() => giveUp(new LockringClientError('timeout', `${op} got no answer within ${timeoutMs} ms`)), timeoutMs);
      entry.timer.unref();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, entry);
      ws.send(JSON.stringify({ id, op, ...args }));
    });
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.stopHeartbeat();
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(closedError());
    const ws = this.ws;
    this.ws = null;
    this.failPending(closedError());
    if (ws !== null && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.close(1000, 'client closing');
      const cut = setTimeout(() => ws.terminate(), 1_000);
      await closed;
      clearTimeout(cut);
    }
  }

  private dial(): void {
    this.state = 'connecting';
    const url = this.options.url;
    const ws = new WebSocket(typeof url === 'string' ? url : url(), {
      headers: this.options.headers,
      handshakeTimeout: this.options.requestTimeoutMs,
      ...tlsConnectOptions(this.options.tls),
    });
    this.ws = ws;
    ws.on('error', () => {
      // 'close' follows and schedules the retry.
    });
    ws.on('open', () => void this.opened(ws));
    ws.on('message', (data) => this.onMessage(data.toString()));
    ws.on('pong', () => {
      this.awaitingPong = false;
    });
    ws.on('close', () => this.onClose(ws));
  }

  private async opened(ws: WebSocket): Promise<void> {
    if (this.ws !== ws || this.state === 'closed') return;
    this.state = 'open';
    this.startHeartbeat(ws);
    try {
      await this.options.onOpen();
    } catch {
      // A socket that died during setup reconnects; anything else still serves.
      if (this.ws !== ws || ws.readyState !== WebSocket.OPEN) return;
    }
    if (this.ws !== ws || this.state !== 'open') return;
    this.state = 'ready';
    // Only a socket that got as far as serving resets the backoff: a server that
    // accepts and drops at once is not hammered.
    this.attempt = 0;
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    this.options.onReady();
  }

  private onMessage(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = message['id'];
    const entry = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (message['event'] === 'position') {
      // Its acquire's own: none is left once the caller gave up or the reply came.
      if (entry !== undefined && !entry.settled) entry.onPosition?.(message as unknown as PositionPush);
      return;
    }
    if (typeof message['event'] === 'string') {
      this.options.onPush(message as unknown as Push);
      return;
    }
    if (entry === undefined) return;
    this.pending.delete(id as number);
    const { id: _id, ok, error: _error, ...result } = message;
    if (entry.settled) {
      if (ok === true) entry.onLateResult?.(result as never);
      return;
    }
    entry.settled = true;
    if (ok === true) entry.resolve(result);
    else entry.reject(serverError(message, null));
  }

  private onClose(ws: WebSocket): void {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopHeartbeat();
    this.failPending(new LockringClientError('disconnected', 'the WebSocket closed before the answer came'));
    if (this.state === 'closed') return;
    const wasUp = this.state === 'open' || this.state === 'ready';
    this.state = 'connecting';
    if (wasUp) this.options.onDown();
    else this.options.onDialFailed?.();
    const { initialDelayMs, maxDelayMs } = this.options.backoff;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // Full jitter over the upper half: clients that lost the same server do not return in step.
    const delayMs = ceiling / 2 + Math.random() * (ceiling / 2);
    // Not unref'd: a process that only watches must not exit between two attempts.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'connecting') this.dial();
    }, delayMs);
  }

  private failPending(error: LockringClientError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) {
      if (entry.settled) continue;
      entry.settled = true;
      entry.reject(error);
    }
  }

  private startHeartbeat(ws: WebSocket): void {
    this.stopHeartbeat();
    this.awaitingPong = false;
    this.heartbeat = setInterval(() => {
      if (this.awaitingPong) {
        // The server (or the path to it) went silent: drop the socket and dial again.
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
    }, this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function closedError(): LockringClientError {
  return new LockringClientError('closed', 'the client is closed');
}
