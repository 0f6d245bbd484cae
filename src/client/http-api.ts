import { type Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { OpArgs, OpResults } from '../protocol/wire.js';
import { type ClientTls, makeAgent } from './tls-options.js';
import { LockringClientError, serverError } from './errors.js';
import type { ServerSet } from './server-set.js';

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** The ops that exist on both transports; sessions, watches and cancel are WebSocket only. */
export type SharedOp =
  | 'lease.grant' | 'lease.keepalive' | 'lease.revoke' | 'lock.acquire' | 'lock.release' | 'lock.check' | 'ring.lookup'
  | 'multilock.acquire' | 'multilock.release';

const path = (...parts: string[]): string => parts.map((part) => encodeURIComponent(part)).join('/');

/** Pause between two tries on other replicas. */
const followDelayMs = 100;
/** Tries of one request across replicas, at most (the call's timeout bounds them too). */
const followAttemptsMax = 100;

/**
 * JSON over node:http(s) (which, unlike fetch, takes TLS options), errors turned
 * into LockringClientError. With several replicas (replicated mode) a request
 * follows the active: a `503 not_ready` naming it, or a replica that refuses the
 * connection, sends it on, a bounded number of times.
 */
export class HttpApi {
  private readonly agent: Agent;

  constructor(
    private readonly servers: ServerSet,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
    tls?: ClientTls,
  ) {
    this.agent = makeAgent(servers.current, tls);
  }

  async request<T>(method: string, route: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    // A takeover takes a few seconds: keep following for as long as the call may take.
    const deadline = performance.now() + (options.timeoutMs ?? this.timeoutMs);
    for (let attempt = 0; ; attempt++) {
      const base = this.servers.current;
      try {
        return await this.requestOnce<T>(base, method, route, body, { ...options, timeoutMs: Math.max(1, deadline - performance.now()) });
      } catch (error) {
        const late = performance.now() + followDelayMs > deadline || attempt >= followAttemptsMax;
        if (!(error instanceof LockringClientError) || late || options.signal?.aborted) throw error;
        if (error.code === 'not_ready' && 'active' in error.details) {
          this.servers.follow(base, typeof error.details['active'] === 'string' ? error.details['active'] : null);
        } else if (error.code === 'disconnected' && !this.servers.single && (method === 'GET' || neverArrived(error))) {
          this.servers.unreachable(base);
        } else {
          throw error;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, followDelayMs));
    }
  }

  private async requestOnce<T>(base: string, method: string, route: string, body: unknown, options: CallOptions): Promise<T> {
    const timeout = AbortSignal.timeout(Math.ceil(options.timeoutMs ?? this.timeoutMs));
    const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    let response: { status: number; text: string };
    try {
      response = await exchange(this.agent, `${base}${route}`, method, {
        signal,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        throw new LockringClientError('timeout', `lockring at ${base} did not answer ${method} ${route} in time`, null, {}, { cause: error });
      }
      throw new LockringClientError('disconnected', `cannot reach lockring at ${base}: ${describeRequestError(error)}`, null, {}, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = response.text === '' ? undefined : JSON.parse(response.text);
    } catch {
      throw new LockringClientError('bad_response', `answer of ${method} ${route} is not JSON`, response.status);
    }
    if (response.status < 200 || response.status > 299) throw serverError(parsed, response.status);
    return parsed as T;
  }

  /** Closes the idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  /** Runs a protocol op through its HTTP route, answering in the WebSocket shape. */
  async op<Op extends SharedOp>(op: Op, args: OpArgs<Op>, options: CallOptions = {}): Promise<OpResults[Op]> {
    return (await this.route(op, args as OpArgs<SharedOp>, options)) as OpResults[Op];
  }

  private async route(op: SharedOp, args: OpArgs<SharedOp>, options: CallOptions): Promise<unknown> {
    switch (op) {
      case 'lease.grant': {
        const { ttlMs } = args as OpArgs<'lease.grant'>;
        return renameId(await this.request('POST', '/v1/leases', { ttlMs }, options));
      }
      case 'lease.keepalive': {
        const { leaseId, ...body } = args as OpArgs<'lease.keepalive'>;
        return renameId(await this.request('POST', `/v1/leases/${path(leaseId)}/keepalive`, body, options));
      }
      case 'lease.revoke': {
        const { leaseId } = args as OpArgs<'lease.revoke'>;
        return renameId(await this.request('DELETE', `/v1/leases/${path(leaseId)}`, undefined, options));
      }
      case 'lock.acquire': {
        // Positions are pushed over the WebSocket only; the HTTP body has no such field.
        const { name, positions: _positions, ...body } = args as OpArgs<'lock.acquire'>;
        return this.request('POST', `/v1/locks/${path(name)}/acquire`, body, options);
      }
      case 'lock.release':
      case 'lock.check': {
        const { name, ...body } = args as OpArgs<'lock.check'>;
        return this.request('POST', `/v1/locks/${path(name)}/${op === 'lock.release' ? 'release' : 'check'}`, body, options);
      }
      case 'multilock.acquire': {
        const { positions: _positions, ...body } = args as OpArgs<'multilock.acquire'>;
        return this.request('POST', '/v1/multi-locks/acquire', body, options);
      }
      case 'multilock.release':
        return this.request('POST', '/v1/multi-locks/release', args, options);
      case 'ring.lookup': {
        const { ring, key, keys, n, version, previous } = args as OpArgs<'ring.lookup'>;
        if (key !== undefined) {
          const query = new URLSearchParams({ key, n: String(n ?? 1) });
          if (version !== undefined) query.set('version', String(version));
          if (previous !== undefined) query.set('previous', String(previous));
          return this.request('GET', `/v1/rings/${path(ring)}/lookup?${query.toString()}`, undefined, options);
        }
        return this.request('POST', `/v1/rings/${path(ring)}/lookup`, { keys, n, version, previous }, options);
      }
    }
  }
}

/** HTTP names a lease's id `id`; the protocol (and the SDK) `leaseId`. */
function renameId(body: unknown): unknown {
  const { id, ...rest } = body as { id: string };
  return { leaseId: id, ...rest };
}

/** A refused connection: the request surely never reached the server, so it may go to another. */
function neverArrived(error: LockringClientError): boolean {
  const cause = error.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return cause?.code === 'ECONNREFUSED' || cause?.cause?.code === 'ECONNREFUSED';
}

/** The reason of a failed request: its code (`ECONNREFUSED`, a TLS error's code), else its message. */
function describeRequestError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

interface Exchange {
  readonly signal: AbortSignal;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** One request and its whole answer as text. */
function exchange(agent: Agent, url: string, method: string, { signal, headers, body }: Exchange): Promise<{ status: number; text: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, { method, agent, signal, headers }, (incoming) => {
      let text = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => (text += chunk));
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, text }));
      incoming.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
