/**
 * A small purpose-built WebSocket load client for lockring's `/v1/ws` protocol:
 * one JSON object per frame, replies matched to requests by `id`, pushes (frames
 * with `event` and no `id`) ignored. N sockets each run K loops concurrently
 * (K requests in flight per socket); every loop awaits its reply before sending
 * the next request (no batching). Loops stop by themselves at their deadline.
 */
import WebSocket from 'ws';
import { type LoopResult, timedLoops } from './loops.js';
import { sleep } from './stats.js';

export interface WsReply {
  readonly id: number;
  readonly ok: boolean;
  readonly error?: { readonly code: string; readonly message: string };
  readonly [field: string]: unknown;
}

export class WsReplyError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

interface Pending {
  resolve(reply: WsReply): void;
  reject(error: Error): void;
}

export class WsClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedError: Error | null = null;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.onFrame(data.toString()));
    socket.on('close', (code) => this.failAll(new Error(`socket closed (${code})`)));
    socket.on('error', (error) => this.failAll(error));
  }

  /** Opens a socket to `baseUrl` (http://host:port) + /v1/ws. */
  static connect(baseUrl: string, timeoutMs = 10_000): Promise<WsClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/v1/ws`;
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      socket.once('open', () => {
        socket.removeAllListeners('error');
        resolve(new WsClient(socket));
      });
      socket.once('error', (error) => reject(error));
    });
  }

  request(op: string, args: Record<string, unknown> = {}): Promise<WsReply> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, op, ...args }));
    });
  }

  /** Like `request`, but an `ok: false` reply rejects with its error code. */
  async call(op: string, args: Record<string, unknown> = {}): Promise<WsReply> {
    const reply = await this.request(op, args);
    if (!reply.ok) throw new WsReplyError(reply.error?.code ?? 'unknown', reply.error?.message ?? '');
    return reply;
  }

  close(): void {
    this.failAll(new Error('client closed'));
    this.socket.close();
  }

  private onFrame(text: string): void {
    const frame = JSON.parse(text) as Partial<WsReply> & { event?: string };
    if (typeof frame.id !== 'number') return; // a push, or an error for a frame without id
    const waiting = this.pending.get(frame.id);
    if (waiting === undefined) return;
    this.pending.delete(frame.id);
    waiting.resolve(frame as WsReply);
  }

  private failAll(error: Error): void {
    this.closedError ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}

/**
 * Null when `/v1/ws` accepts a WebSocket and answers a request; otherwise why not,
 * in words for the table (the endpoint is being written concurrently).
 */
export async function wsUnavailable(baseUrl: string): Promise<string | null> {
  let client: WsClient;
  try {
    client = await WsClient.connect(baseUrl, 5_000);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return `/v1/ws is not served by this build (${message}); this part runs once the WebSocket endpoint lands`;
  }
  try {
    const reply = await Promise.race([client.request('lease.grant', { ttlMs: 1_000 }), sleep(5_000).then(() => null)]);
    if (reply === null) return '/v1/ws accepted the socket but did not answer lease.grant within 5 s';
    if (!reply.ok) return `/v1/ws answered lease.grant with ${reply.error?.code ?? 'an error'}`;
    return null;
  } finally {
    client.close();
  }
}

export interface WsLoadOptions {
  readonly url: string;
  readonly clients: number;
  /** Loops per socket: requests in flight on each socket. */
  readonly inFlight: number;
  readonly durationSec: number;
  readonly warmupSec?: number;
  /** One unit of work (e.g. acquire then release); returns how many requests it made. */
  readonly cycle: (client: WsClient, loop: number) => Promise<number>;
  /** Called when the measured run begins, after the warm-up. */
  readonly onMeasureStart?: () => void;
}

const classify = (error: unknown): { code: string; fatal: boolean } =>
  error instanceof WsReplyError ? { code: error.code, fatal: false } : { code: 'socket', fatal: true };

export async function wsLoad(options: WsLoadOptions): Promise<LoopResult> {
  const clients = await Promise.all(Array.from({ length: options.clients }, () => WsClient.connect(options.url)));
  const durationSec = options.durationSec;
  // A server that stops answering must not hang the bench: close the sockets.
  const guard = setTimeout(() => clients.forEach((client) => client.close()), ((options.warmupSec ?? 1) + durationSec) * 1000 + 30_000);
  try {
    const warmupSec = options.warmupSec ?? 1;
    const base = { connections: clients, inFlight: options.inFlight, cycle: options.cycle, classify };
    if (warmupSec > 0) await timedLoops({ ...base, durationSec: warmupSec });
    options.onMeasureStart?.();
    return await timedLoops({ ...base, durationSec });
  } finally {
    clearTimeout(guard);
    clients.forEach((client) => client.close());
  }
}

/** Acquire (own lease via ttlMs) on a random name, then release: one cycle, two requests. */
export function wsLockCycle(prefix: string, ttlMs = 30_000): (client: WsClient) => Promise<number> {
  return async (client) => {
    const name = `${prefix}${Math.random().toString(36).slice(2, 12)}`;
    const granted = await client.call('lock.acquire', { name, ttlMs });
    await client.call('lock.release', { name, token: granted['token'] });
    return 2;
  };
}
