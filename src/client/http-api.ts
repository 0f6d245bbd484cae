import type { OpArgs, OpResults } from '../ws/protocol.js';
import { LockringClientError, serverError } from './errors.js';
import type { ServerSet } from './server-set.js';

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** The ops that exist on both transports; sessions, watches and cancel are WebSocket only. */
export type SharedOp = 'lease.grant' | 'lease.keepalive' | 'lease.revoke' | 'lock.acquire' | 'lock.release' | 'lock.check' | 'ring.lookup';

const path = (...parts: string[]): string => parts.map((part) => encodeURIComponent(part)).join('/');

/** Pause between two tries on other replicas. */
const followDelayMs = 100;
/** Tries of one request across replicas, at most (the call's timeout bounds them too). */
const followAttemptsMax = 100;

/**
 * JSON over fetch, errors turned into LockringClientError. With several replicas
 * (replicated mode) a request follows the active: a `503 not_ready` naming it, or
 * a replica that refuses the connection, sends it on, a bounded number of times.
 */
export class HttpApi {
  constructor(
    private readonly servers: ServerSet,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly timeoutMs: number,
  ) {}

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
    let response: Response;
    try {
      response = await fetch(`${base}${route}`, {
        method,
        signal,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        throw new LockringClientError('timeout', `lockring at ${base} did not answer ${method} ${route} in time`, null, {}, { cause: error });
      }
      throw new LockringClientError('disconnected', `cannot reach lockring at ${base}: ${describeFetchError(error)}`, null, {}, { cause: error });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new LockringClientError('bad_response', `answer of ${method} ${route} is not JSON`, response.status);
    }
    if (!response.ok) throw serverError(parsed, response.status);
    return parsed as T;
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
        const { name, ...body } = args as OpArgs<'lock.acquire'>;
        return this.request('POST', `/v1/locks/${path(name)}/acquire`, body, options);
      }
      case 'lock.release':
      case 'lock.check': {
        const { name, token } = args as OpArgs<'lock.release'>;
        return this.request('POST', `/v1/locks/${path(name)}/${op === 'lock.release' ? 'release' : 'check'}`, { token }, options);
      }
      case 'ring.lookup': {
        const { ring, key, keys, n, version } = args as OpArgs<'ring.lookup'>;
        if (key !== undefined) {
          const query = new URLSearchParams({ key, n: String(n ?? 1) });
          if (version !== undefined) query.set('version', String(version));
          return this.request('GET', `/v1/rings/${path(ring)}/lookup?${query.toString()}`, undefined, options);
        }
        return this.request('POST', `/v1/rings/${path(ring)}/lookup`, { keys, n, version }, options);
      }
    }
  }
}

/** HTTP names a lease's id `id`; the protocol (and the SDK) `leaseId`. */
function renameId(body: unknown): unknown {
  const { id, ...rest } = body as { id: string };
  return { leaseId: id, ...rest };
}

/** fetch says `fetch failed`; the reason (`ECONNREFUSED`, a TLS error, ...) is its cause. */
/** A refused connection: the request surely never reached the server, so it may go to another. */
function neverArrived(error: LockringClientError): boolean {
  const cause = error.cause as { cause?: { code?: unknown } } | undefined;
  return cause?.cause?.code === 'ECONNREFUSED';
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
