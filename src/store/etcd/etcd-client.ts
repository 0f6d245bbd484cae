import { EtcdError } from './etcd-error.js';

/**
 * A small typed client of etcd's JSON gateway (`/v3/...` over HTTP), on Node's
 * built-in fetch: no runtime dependency, and every call carries its own deadline.
 * Keys and values are bytes (base64 on the wire); revisions are numbers (they stay
 * far below 2^53); lease ids are decimal strings (they use all 64 bits).
 *
 * Calls go to one endpoint at a time; a call that cannot reach it moves on to the
 * next. Reads and lease calls are retried on another endpoint after any failure;
 * a txn only when the connection was refused (it surely never arrived): a txn
 * that timed out may have committed, so its caller must decide (the log treats
 * it as the end of its term).
 */
export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: string;
}

export interface RangeOptions {
  /** End of the range, exclusive; `prefixEnd(key)` for a prefix. */
  readonly rangeEnd?: Buffer;
  readonly limit?: number;
  readonly revision?: number;
  readonly sortTarget?: 'KEY' | 'CREATE' | 'MOD';
  readonly sortOrder?: 'ASCEND' | 'DESCEND';
  readonly maxCreateRevision?: number;
  readonly keysOnly?: boolean;
}

export interface RangeResult {
  readonly kvs: KeyValue[];
  readonly more: boolean;
  readonly revision: number;
}

export type Compare =
  | { readonly key: Buffer; readonly target: 'CREATE'; readonly createRevision: number }
  | { readonly key: Buffer; readonly target: 'VERSION'; readonly version: number }
  | { readonly key: Buffer; readonly target: 'VALUE'; readonly value: Buffer };

export type TxnOp =
  | { readonly put: { readonly key: Buffer; readonly value: Buffer; readonly lease?: string } }
  | { readonly range: { readonly key: Buffer; readonly rangeEnd?: Buffer } }
  | { readonly deleteRange: { readonly key: Buffer; readonly rangeEnd?: Buffer } };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
  /** Key-values of the range ops among the responses, in order. */
  readonly ranges: KeyValue[][];
}

export interface EtcdClientOptions {
  readonly endpoints: readonly string[];
  /** Deadline of one call, from sending to the whole answer. */
  readonly callTimeoutMs: number;
}

type Json = Record<string, unknown>;

/** `key` with its last byte incremented: the end of the range of keys starting with `key`. */
export function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

const b64 = (bytes: Buffer): string => bytes.toString('base64');
const num = (value: unknown): number => (value === undefined ? 0 : Number(value));

export function decodeKv(raw: unknown): KeyValue {
  const kv = raw as Json;
  return {
    key: Buffer.from(String(kv['key'] ?? ''), 'base64'),
    value: Buffer.from(String(kv['value'] ?? ''), 'base64'),
    createRevision: num(kv['create_revision']),
    modRevision: num(kv['mod_revision']),
    version: num(kv['version']),
    lease: String(kv['lease'] ?? '0'),
  };
}

function encodeCompare(compare: Compare): Json {
  const base = { key: b64(compare.key), result: 'EQUAL', target: compare.target };
  switch (compare.target) {
    case 'CREATE':
      return { ...base, create_revision: String(compare.createRevision) };
    case 'VERSION':
      return { ...base, version: String(compare.version) };
    case 'VALUE':
      return { ...base, value: b64(compare.value) };
  }
}

function encodeOp(op: TxnOp): Json {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) } };
  }
  const target = 'range' in op ? op.range : op.deleteRange;
  const body = { key: b64(target.key), ...(target.rangeEnd === undefined ? {} : { range_end: b64(target.rangeEnd) }) };
  return 'range' in op ? { request_range: body } : { request_delete_range: body };
}

export class EtcdClient {
  private current = 0;

  constructor(readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new RangeError('etcd needs at least one endpoint');
  }

  /** The endpoint calls go to now (watches open there too). */
  get endpoint(): string {
    return this.options.endpoints[this.current]!;
  }

  /** Moves to the next endpoint (after a failure there). */
  rotate(): void {
    this.current = (this.current + 1) % this.options.endpoints.length;
  }

  async range(key: Buffer, options: RangeOptions = {}): Promise<RangeResult> {
    const body: Json = { key: b64(key) };
    if (options.rangeEnd !== undefined) body['range_end'] = b64(options.rangeEnd);
    if (options.limit !== undefined) body['limit'] = String(options.limit);
    if (options.revision !== undefined) body['revision'] = String(options.revision);
    if (options.sortTarget !== undefined) body['sort_target'] = options.sortTarget;
    if (options.sortOrder !== undefined) body['sort_order'] = options.sortOrder;
    if (options.maxCreateRevision !== undefined) body['max_create_revision'] = String(options.maxCreateRevision);
    if (options.keysOnly === true) body['keys_only'] = true;
    const answer = await this.call('/v3/kv/range', body, true);
    const kvs = Array.isArray(answer['kvs']) ? answer['kvs'].map(decodeKv) : [];
    return { kvs, more: answer['more'] === true, revision: headerRevision(answer) };
  }

  async txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): Promise<TxnResult> {
    const answer = await this.call(
      '/v3/kv/txn',
      { compare: compare.map(encodeCompare), success: success.map(encodeOp), failure: failure.map(encodeOp) },
      false,
    );
    const responses = Array.isArray(answer['responses']) ? (answer['responses'] as Json[]) : [];
    const ranges = responses
      .filter((response) => response['response_range'] !== undefined)
      .map((response) => {
        const kvs = (response['response_range'] as Json)['kvs'];
        return Array.isArray(kvs) ? kvs.map(decodeKv) : [];
      });
    return { succeeded: answer['succeeded'] === true, revision: headerRevision(answer), ranges };
  }

  async put(key: Buffer, value: Buffer, lease?: string): Promise<number> {
    const answer = await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) }, false);
    return headerRevision(answer);
  }

  /** Drops history before `revision` (old versions of keys, deleted keys). */
  async compact(revision: number): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision) }, true);
  }

  /** A lease of `ttlSeconds` (etcd counts whole seconds); resolves with its id. */
  async leaseGrant(ttlSeconds: number): Promise<string> {
    const answer = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) }, true);
    if (typeof answer['ID'] !== 'string') throw new EtcdError('bad_answer', 'lease grant answered without an ID');
    return answer['ID'];
  }

  /**
   * Renews the lease; resolves with its TTL in seconds, 0 when the lease is gone.
   * `attemptTimeoutMs` bounds each endpoint's try, so that a stalled member leaves
   * time to reach the others within the lease's TTL.
   */
  async leaseKeepAlive(id: string, attemptTimeoutMs = this.options.callTimeoutMs): Promise<number> {
    const answer = await this.call('/v3/lease/keepalive', { ID: id }, true, attemptTimeoutMs);
    const result = answer['result'] as Json | undefined;
    return num(result?.['TTL']);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call('/v3/lease/revoke', { ID: id }, true);
    } catch (error) {
      if (!(error instanceof EtcdError && error.code === 'server_error' && /lease not found/.test(error.message))) throw error;
    }
  }

  /**
   * One POST with its own deadline. A retried call moves through the endpoints
   * once; etcd's own errors (a compare that failed is not one) are not retried.
   */
  private async call(route: string, body: Json, retry: boolean, attemptTimeoutMs = this.options.callTimeoutMs): Promise<Json> {
    let last: unknown;
    for (let attempt = 0; attempt < this.options.endpoints.length; attempt++) {
      try {
        return await this.post(this.endpoint, route, body, attemptTimeoutMs);
      } catch (error) {
        last = error;
        if (!(error instanceof EtcdError)) throw error;
        // etcd electing its own leader refuses calls for a moment: a read or a lease call asks elsewhere.
        if (error.code === 'server_error' && !(retry && transientRefusal.test(error.message))) throw error;
        this.rotate();
        // A request that may have reached etcd is retried only when repeating it is harmless.
        if (!retry && error.code !== 'refused') throw error;
      }
    }
    throw last;
  }

  private async post(endpoint: string, route: string, body: Json, timeoutMs: number): Promise<Json> {
    let response: Response;
    let text: string;
    const signal = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
    try {
      response = await fetch(`${endpoint}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      const code = signal.aborted ? 'timeout' : connectionRefused(error) ? 'refused' : 'unreachable';
      throw new EtcdError(code, `etcd at ${endpoint} ${code === 'timeout' ? 'did not answer in time' : 'cannot be reached'} (${route})`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new EtcdError('bad_answer', `etcd at ${endpoint} answered ${route} with something that is not JSON (HTTP ${response.status})`);
    }
    const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Json;
    if (!response.ok || answer['error'] !== undefined) {
      const message = typeof answer['message'] === 'string' ? answer['message'] : `HTTP ${response.status}`;
      throw new EtcdError('server_error', `etcd at ${endpoint} refused ${route}: ${message}`);
    }
    return answer;
  }
}

/** etcd's refusals while it has no leader or just changed it. */
const transientRefusal = /leader changed|no leader|request timed out|too many requests/;

function connectionRefused(error: unknown): boolean {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'ECONNREFUSED';
}

export function headerRevision(answer: Json): number {
  const header = (answer['header'] ?? (answer['result'] as Json | undefined)?.['header']) as Json | undefined;
  return num(header?.['revision']);
}
