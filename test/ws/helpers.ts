/**
 * Helpers for WebSocket and SDK tests: a real lockring on 127.0.0.1 port 0, and a
 * small test socket that correlates replies by id and lets a test await a push.
 */
import { once } from 'node:events';
import net from 'node:net';
import WebSocket from 'ws';
import { makeConfig } from '../../src/config.js';
import type { Limits } from '../../src/limits.js';
import { type Lockring, type ServerDeps, buildServer } from '../../src/server.js';
import type { WsHub } from '../../src/ws/hub.js';

export interface TestServer {
  readonly lockring: Lockring;
  readonly hub: WsHub;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** `ws://127.0.0.1:<port>/v1/ws` */
  readonly wsUrl: string;
  /** GET/POST/... with a JSON body; answers status and parsed body. */
  http(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Resolves when the server next sees a socket go (call it before causing the close). */
  disconnected(): Promise<unknown>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Runs after buildServer, before listen (add hooks here). */
  readonly beforeListen?: (lockring: Lockring) => void;
  /** false: listen without start() (the server answers 503 not_ready). */
  readonly start?: boolean;
}

export async function startServer(limits: Partial<Limits> = {}, deps: ServerDeps = {}, options: StartOptions = {}): Promise<TestServer> {
  const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, port: 0, limits }), deps);
  options.beforeListen?.(lockring);
  await lockring.app.listen({ host: '127.0.0.1', port: 0 });
  if (options.start !== false) await lockring.start();
  const { port } = lockring.app.server.address() as net.AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    lockring,
    hub: lockring.app.wsHub,
    base,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    async http(method, path, body) {
      const res = await fetch(base + path, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    disconnected: () =>
      within(new Promise((resolve) => lockring.app.wsHub.once('disconnection', resolve)), 5_000, 'the server to see a socket close'),
    async close() {
      // A keep-alive connection Node does not count as idle (seen after a client aborts
      // a waiting HTTP acquire) would hold close() for undici's 4 s keep-alive: cut
      // what is left once the graceful part (WebSocket 1001 closes) had its chance.
      const cut = setTimeout(() => lockring.app.server.closeAllConnections(), 300);
      try {
        await lockring.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

/** Rejects after `ms` with `what` in the message; the timer never holds the process. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (bounded) until it returns true: for server-side state no event tells. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Message = Record<string, any>;

interface Waiter {
  readonly match: (message: Message) => boolean;
  readonly resolve: (message: Message) => void;
}

/** A raw protocol client: requests with ids, every frame kept, pushes awaited by predicate. */
export class TestSocket {
  /** Frames not yet taken by next()/push(). */
  readonly messages: Message[] = [];
  /** Every frame received, in order. */
  readonly log: Message[] = [];
  private readonly waiters: Waiter[] = [];
  private seq = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Message;
      this.log.push(message);
      this.messages.push(message);
      for (let i = 0; i < this.waiters.length; i++) {
        if (this.waiters[i]!.match(message)) {
          this.waiters[i]!.resolve(message);
          this.waiters.splice(i, 1);
          return;
        }
      }
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}, timeoutMs = 5_000): Promise<TestSocket> {
    const ws = new WebSocket(url, options);
    ws.on('error', () => {});
    await within(once(ws, 'open'), timeoutMs, 'websocket open');
    return new TestSocket(ws);
  }

  /** Sends `{id, op, ...args}` and resolves with the whole reply. */
  request(op: string, args: Record<string, unknown> = {}, id: number | string = ++this.seq): Promise<Message> {
    const reply = this.next((m) => m['id'] === id && 'ok' in m, `reply to ${op} #${String(id)}`, 10_000);
    this.ws.send(JSON.stringify({ id, op, ...args }));
    return reply;
  }

  /** Like request, but resolves with the result and throws on an error reply. */
  async call(op: string, args: Record<string, unknown> = {}): Promise<Message> {
    const reply = await this.request(op, args);
    if (reply['ok'] !== true) throw new Error(`${op} failed: ${JSON.stringify(reply['error'])}`);
    return reply;
  }

  send(text: string | Buffer, binary = false): void {
    this.ws.send(text, { binary });
  }

  /** The first message matching `match`, already received or still to come. */
  next(match: (message: Message) => boolean, what = 'a message', ms = 5_000): Promise<Message> {
    const index = this.messages.findIndex(match);
    if (index >= 0) return Promise.resolve(this.messages.splice(index, 1)[0]!);
    return within(
      new Promise<Message>((resolve) =>
        this.waiters.push({
          match,
          resolve: (message) => {
            this.messages.splice(this.messages.indexOf(message), 1);
            resolve(message);
          },
        }),
      ),
      ms,
      what,
    );
  }

  push(event: string, match: (message: Message) => boolean = () => true, ms = 5_000): Promise<Message> {
    return this.next((m) => m['event'] === event && match(m), `a ${event} push`, ms);
  }

  pushesOf(event: string): Message[] {
    return this.messages.filter((m) => m['event'] === event);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await within(this.closed, 5_000, 'websocket close');
  }

  /** Cuts the TCP connection without a close handshake (a crashed client). */
  async kill(): Promise<void> {
    this.ws.terminate();
    await this.closed;
  }
}

/**
 * A TCP proxy that can go silent: while `blocked`, bytes in both directions are
 * dropped and connections stay open, as when a network partition hides the server.
 */
export class BlackholeProxy {
  blocked = false;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(target: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        this.sockets.add(from);
        from.on('data', (chunk) => {
          if (!this.blocked) to.write(chunk);
        });
        from.on('error', () => {});
        from.on('close', () => {
          this.sockets.delete(from);
          to.destroy();
        });
      }
    });
  }

  static async start(targetPort: number): Promise<BlackholeProxy & { port: number }> {
    const proxy = new BlackholeProxy(targetPort);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return Object.assign(proxy, { port: (proxy.server.address() as net.AddressInfo).port });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export function portOf(base: string): number {
  return Number(new URL(base).port);
}

/** The status and JSON body with which an upgrade to `url` is refused. */
export function refusedUpgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: any }> {
  const ws = new WebSocket(url, options);
  ws.on('error', () => {});
  return within(
    new Promise((resolve, reject) => {
      ws.on('open', () => reject(new Error('the upgrade was accepted')));
      ws.on('unexpected-response', (request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, body: body === '' ? undefined : JSON.parse(body) });
        });
      });
    }),
    5_000,
    `refusal of ${url}`,
  );
}
