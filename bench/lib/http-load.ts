/**
 * autocannon, wrapped: a warm-up, a timed run, and the figures the table needs.
 * Request sequences (acquire then release with the token just granted) run per
 * connection, so lockring and the bare baseline receive byte-identical traffic.
 */
import autocannon from 'autocannon';

export type HttpRequest = autocannon.Request;

export interface HttpLoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationSec: number;
  readonly requests: HttpRequest[];
  /** Fixed request rate across all connections (latency under a set load); none = as fast as possible. */
  readonly overallRate?: number;
  /** Seconds of the same traffic first, not measured (JIT, connection setup). */
  readonly warmupSec?: number;
  /** Called when the measured run begins, after the warm-up. */
  readonly onMeasureStart?: () => void;
}

export interface HttpLoadResult {
  readonly reqPerSec: number;
  readonly requests: number;
  readonly durationSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Connection errors and timeouts plus non-2xx answers. */
  readonly errors: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
}

function once(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error: unknown, result: autocannon.Result) => {
      if (error !== null && error !== undefined) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(result);
    });
  });
}

export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const base: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 30,
    headers: { 'content-type': 'application/json' },
    requests: options.requests,
    ...(options.overallRate === undefined ? {} : { overallRate: options.overallRate }),
  };
  const warmupSec = options.warmupSec ?? 1;
  if (warmupSec > 0) await once({ ...base, duration: warmupSec });
  options.onMeasureStart?.();
  const result = await once({ ...base, duration: options.durationSec });
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
  const requests = result.requests.total;
  return {
    reqPerSec: requests / result.duration,
    requests,
    durationSec: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.errors + result.non2xx,
    non2xx: result.non2xx,
    statusCodes,
  };
}

interface CycleContext {
  name?: string;
  token?: number | undefined;
}

/**
 * Acquire (with its own lease, `ttlMs`) on a random name, then release with the
 * token the acquire returned: one lock cycle, two requests.
 */
export function lockCycleRequests(prefix: string, ttlMs = 30_000): HttpRequest[] {
  return [
    {
      method: 'POST',
      setupRequest(request, context) {
        const ctx = context as CycleContext;
        ctx.name = `${prefix}${Math.random().toString(36).slice(2, 12)}`;
        ctx.token = undefined;
        return { ...request, path: `/v1/locks/${ctx.name}/acquire`, body: JSON.stringify({ ttlMs }) };
      },
      onResponse(status, body, context) {
        if (status === 200) (context as CycleContext).token = (JSON.parse(body) as { token: number }).token;
      },
    },
    {
      method: 'POST',
      setupRequest(request, context) {
        const ctx = context as CycleContext;
        // A failed acquire restarts the sequence (autocannon counts a reset).
        if (ctx.token === undefined) return undefined as unknown as HttpRequest;
        return { ...request, path: `/v1/locks/${ctx.name}/release`, body: JSON.stringify({ token: ctx.token }) };
      },
    },
  ];
}

/** Keepalive of a lease picked round-robin from `leaseIds`, body `{}`. */
export function keepaliveRequests(leaseIds: readonly string[]): HttpRequest[] {
  let next = 0;
  return [
    {
      method: 'POST',
      setupRequest(request) {
        const id = leaseIds[next++ % leaseIds.length]!;
        return { ...request, path: `/v1/leases/${id}/keepalive`, body: '{}' };
      },
    },
  ];
}
