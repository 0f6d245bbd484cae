import { authorize, type Caller } from './auth/access.js';
import type { DiffRequest, LookupResult } from './domain/rings.js';
import type { Limits } from './limits.js';
import type { RingDiffBody } from './protocol/wire.js';
import type { Durable, LockringService } from './service.js';

/**
 * The ring reads that show past versions (diffs and handover lookups), shared by
 * HTTP and WebSocket. A past version may have been made by a change the log does
 * not hold durably yet; each answer goes out through the commit pipeline.
 */
export type { RingDiffBody } from './protocol/wire.js';

export function ringDiff(service: LockringService, ring: string, request: DiffRequest, caller: Caller = null): Durable<RingDiffBody> {
  return service.pipeline.run((machine) => {
    authorize(caller, 'ring.read', ring);
    const page = machine.rings.diff(ring, request);
    const body: RingDiffBody = { ring, version: page.version, from: request.from, to: request.to, n: request.n, ranges: page.ranges };
    return page.next === undefined ? body : { ...body, next: page.next };
  });
}

/** A diff request with the optional fields at their defaults (n 1, from position 0, a page of up to 1,000). */
export function diffRequest(
  limits: Limits,
  args: { from: number; to: number; n?: number | undefined; start?: number | undefined; limit?: number | undefined },
): DiffRequest {
  return { from: args.from, to: args.to, n: args.n ?? 1, start: args.start ?? 0, limit: args.limit ?? Math.min(1_000, limits.ringDiffRangesPageMax) };
}

export interface LookupOneBody {
  readonly ring: string;
  readonly version: number;
  readonly key: string;
  readonly nodes: string[];
  readonly previous?: { readonly version: number; readonly nodes: string[] };
}

/** One key's owners, with `previous` also its owners at that version. */
export function handoverLookupOne(
  service: LockringService,
  ring: string,
  key: string,
  n: number,
  version: number | undefined,
  previous: number | undefined,
  caller: Caller = null,
): Durable<LookupOneBody> {
  const shape = (result: LookupResult): LookupOneBody => {
    const body = { ring: result.ring, version: result.version, key, nodes: result.nodes[0]! };
    return result.previous === undefined ? body : { ...body, previous: { version: result.previous.version, nodes: result.previous.nodes[0]! } };
  };
  const result = service.lookup(ring, [key], n, version, caller, previous);
  return result instanceof Promise ? result.then(shape) : shape(result);
}

