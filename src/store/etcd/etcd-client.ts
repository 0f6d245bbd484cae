import { Client, type ClientDuplexStream, type ServiceError, credentials, status } from '@grpc/grpc-js';
import { EtcdError } from './etcd-error.js';
import { type LeaseKeepAliveResponse, type RpcKeyValue, type RpcMethod, rpc } from './etcd-rpc.js';

/**
 * A small typed client of etcd's v3 gRPC API (@grpc/grpc-js, one HTTP/2 channel per
 * endpoint), with every call under its own deadline. Keys and values are bytes;
 * revisions are numbers (they stay far below 2^53); lease ids are decimal strings
 * (they use all 64 bits).
 *
 * gRPC rather than etcd's JSON gateway: the gateway turns every request and every
 * watch event into JSON inside etcd, with keys and values in base64, and measured on
 * a 3-member cluster it doubled etcd's CPU per log append and the append's latency
 * (docs/high-availability.md gives the figures).
 *
 * Calls go to one endpoint at a time; a call that cannot reach it moves on to the
 * next. Reads and lease calls are retried on another endpoint after any failure;
 * a txn only when no connection to the endpoint existed (it surely never arrived):
 * a txn that timed out may have committed, so its caller must decide (the log treats
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

/**
 * Bytes of one message from etcd we accept (a page of log batches, a watch
 * response): above it the call fails and the caller reads in smaller steps.
 */
export const etcdMessageBytesMax = 16 * 1024 * 1024;

const num = (value: string | undefined): number => (value === undefined || value === '' ? 0 : Number(value));
const empty = Buffer.alloc(0);

export function decodeKv(kv: RpcKeyValue | null | undefined): KeyValue {
  return {
    key: kv?.key ?? empty,
    value: kv?.value ?? empty,
    createRevision: num(kv?.create_revision),
    modRevision: num(kv?.mod_revision),
    version: num(kv?.version),
    lease: kv?.lease ?? '0',
  };
}

export const headerRevision = (answer: { readonly header: { readonly revision: string } | null }): number => num(answer.header?.revision);

function encodeCompare(compare: Compare): object {
  const base = { key: compare.key, result: 'EQUAL', target: compare.target };
  switch (compare.target) {
    case 'CREATE':
      return { ...base, create_revision: String(compare.createRevision) };
    case 'VERSION':
      return { ...base, version: String(compare.version) };
    case 'VALUE':
      return { ...base, value: compare.value };
  }
}

function encodeOp(op: TxnOp): object {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key, value, ...(lease === undefined ? {} : { lease }) } };
  }
  const target = 'range' in op ? op.range : op.deleteRange;
  const body = { key: target.key, ...(target.rangeEnd === undefined ? {} : { range_end: target.rangeEnd }) };
  return 'range' in op ? { request_range: body } : { request_delete_range: body };
}

/** etcd's refusals while it has no leader or just changed it. */
const transientRefusal = /leader changed|no leader|request timed out|too many requests/;

/** What a failed call means to its caller (see EtcdErrorCode). */
export function etcdErrorOf(error: ServiceError, endpoint: string, what: string): EtcdError {
  const details = error.details ?? error.message;
  // etcd's own refusals carry its package's prefix; the rest is the channel's.
  if (/^(etcdserver|mvcc|lease):/.test(details)) {
    const code = /required revision has been compacted/.test(details) ? 'compacted' : 'server_error';
    return new EtcdError(code, `etcd at ${endpoint} refused ${what}: ${details}`);
  }
  switch (error.code) {
    case status.DEADLINE_EXCEEDED:
      return new EtcdError('timeout', `etcd at ${endpoint} did not answer in time (${what})`, { cause: error });
    case status.UNAVAILABLE:
      // No connection at all: the request never left this process.
      if (/No connection established/.test(details)) return new EtcdError('refused', `etcd at ${endpoint} cannot be reached (${what}): ${details}`, { cause: error });
      return new EtcdError('unreachable', `etcd at ${endpoint} cannot be reached (${what}): ${details}`, { cause: error });
    case status.RESOURCE_EXHAUSTED:
      return new EtcdError('too_large', `etcd at ${endpoint} (${what}): ${details}`, { cause: error });
    case status.CANCELLED:
      return new EtcdError('unreachable', `the call to etcd at ${endpoint} was cut (${what}): ${details}`, { cause: error });
    case status.INTERNAL:
    case status.UNKNOWN:
      return new EtcdError('bad_answer', `etcd at ${endpoint} answered ${what} with something we cannot read: ${details}`, { cause: error });
    default:
      return new EtcdError('server_error', `etcd at ${endpoint} refused ${what}: ${details}`, { cause: error });
  }
}

/** Whether a read or lease call that failed so may be asked of the next endpoint. */
function worthAnotherEndpoint(error: EtcdError): boolean {
  if (error.code === 'server_error') return transientRefusal.test(error.message);
  return error.code === 'timeout' || error.code === 'refused' || error.code === 'unreachable';
}

/** A channel's target and credentials from an endpoint URL (http:// or https://). */
function channelOf(endpoint: string): Client {
  const url = new URL(endpoint);
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? '443' : '80') : url.port;
  return new Client(`${url.hostname}:${port}`, secure ? credentials.createSsl() : credentials.createInsecure(), {
    'grpc.max_receive_message_length': etcdMessageBytesMax,
    // A member that comes back is reached again within a second, not after gRPC's
    // default backoff of up to two minutes (a whole cluster restarted, say).
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1_000,
  });
}

export class EtcdClient {
  private current = 0;
  private readonly channels: (Client | undefined)[] = [];

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

  /** Closes every channel; calls in flight fail. */
  close(): void {
    for (const channel of this.channels) channel?.close();
    this.channels.length = 0;
  }

  async range(key: Buffer, options: RangeOptions = {}): Promise<RangeResult> {
    const request = {
      key,
      ...(options.rangeEnd === undefined ? {} : { range_end: options.rangeEnd }),
      ...(options.limit === undefined ? {} : { limit: String(options.limit) }),
      ...(options.revision === undefined ? {} : { revision: String(options.revision) }),
      ...(options.sortTarget === undefined ? {} : { sort_target: options.sortTarget }),
      ...(options.sortOrder === undefined ? {} : { sort_order: options.sortOrder }),
      ...(options.maxCreateRevision === undefined ? {} : { max_create_revision: String(options.maxCreateRevision) }),
      ...(options.keysOnly === true ? { keys_only: true } : {}),
    };
    const answer = await this.call(rpc.range, 'range', request, true);
    return { kvs: answer.kvs.map(decodeKv), more: answer.more, revision: headerRevision(answer) };
  }

  async txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[] = []): Promise<TxnResult> {
    const answer = await this.call(rpc.txn, 'txn', { compare: compare.map(encodeCompare), success: success.map(encodeOp), failure: failure.map(encodeOp) }, false);
    const ranges = answer.responses
      .filter((response) => response.response === 'response_range')
      .map((response) => (response.response_range?.kvs ?? []).map(decodeKv));
    return { succeeded: answer.succeeded, revision: headerRevision(answer), ranges };
  }

  async put(key: Buffer, value: Buffer, lease?: string): Promise<number> {
    return headerRevision(await this.call(rpc.put, 'put', { key, value, ...(lease === undefined ? {} : { lease }) }, false));
  }

  /** Drops history before `revision` (old versions of keys, deleted keys). */
  async compact(revision: number): Promise<void> {
    await this.call(rpc.compact, 'compaction', { revision: String(revision) }, true);
  }

  /**
   * A lease of `ttlSeconds` (etcd counts whole seconds); resolves with its id and the
   * TTL etcd granted, which is longer when the cluster's minimum lease TTL is (2 s with
   * etcd's default election timeout).
   */
  async leaseGrant(ttlSeconds: number): Promise<{ readonly id: string; readonly ttlSeconds: number }> {
    const answer = await this.call(rpc.leaseGrant, 'lease grant', { TTL: String(ttlSeconds) }, true);
    if (answer.error !== '') throw new EtcdError('server_error', `etcd refused the lease grant: ${answer.error}`);
    if (answer.ID === '' || answer.ID === '0') throw new EtcdError('bad_answer', 'lease grant answered without an ID');
    return { id: answer.ID, ttlSeconds: num(answer.TTL) };
  }

  /**
   * Renews the lease; resolves with its TTL in seconds, 0 when the lease is gone.
   * `attemptTimeoutMs` bounds each endpoint's try, so that a stalled member leaves
   * time to reach the others within the lease's TTL.
   */
  async leaseKeepAlive(id: string, attemptTimeoutMs = this.options.callTimeoutMs): Promise<number> {
    return this.acrossEndpoints(() => this.keepAliveOnce(id, attemptTimeoutMs), true);
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call(rpc.leaseRevoke, 'lease revoke', { ID: id }, true);
    } catch (error) {
      if (!(error instanceof EtcdError && error.code === 'server_error' && /lease not found/.test(error.message))) throw error;
    }
  }

  /** A bidirectional stream on the current endpoint (a watch); no deadline: it lasts until closed. */
  stream<Res>(method: RpcMethod<object, Res>): ClientDuplexStream<object, Res> {
    return this.channel().makeBidiStreamRequest(method.path, method.serialize, method.deserialize);
  }

  private channel(): Client {
    return (this.channels[this.current] ??= channelOf(this.endpoint));
  }

  /** One unary call with its own deadline, moving on through the endpoints as `acrossEndpoints` says. */
  private call<Res>(method: RpcMethod<object, Res>, what: string, request: object, retry: boolean): Promise<Res> {
    return this.acrossEndpoints(() => this.unary(method, what, request, this.options.callTimeoutMs), retry);
  }

  /**
   * Runs `attempt` on the current endpoint, then on the next ones (once through
   * them) while it fails in a way worth asking elsewhere. etcd's own errors (a
   * compare that failed is not one) are not retried, but for its refusals while it
   * elects a leader; without `retry` only a call that never left is sent again.
   */
  private async acrossEndpoints<T>(attempt: () => Promise<T>, retry: boolean): Promise<T> {
    let last: unknown;
    for (let tried = 0; tried < this.options.endpoints.length; tried++) {
      try {
        return await attempt();
      } catch (error) {
        last = error;
        if (!(error instanceof EtcdError)) throw error;
        // A request that may have reached etcd is sent again only when repeating it is harmless.
        if (retry ? !worthAnotherEndpoint(error) : error.code !== 'refused') throw error;
        this.rotate();
      }
    }
    throw last;
  }

  private unary<Res>(method: RpcMethod<object, Res>, what: string, request: object, timeoutMs: number): Promise<Res> {
    const endpoint = this.endpoint;
    return new Promise((resolve, reject) => {
      this.channel().makeUnaryRequest(method.path, method.serialize, method.deserialize, request, { deadline: Date.now() + Math.max(1, timeoutMs) }, (error, answer) => {
        if (error !== null) reject(etcdErrorOf(error, endpoint, what));
        else if (answer === undefined) reject(new EtcdError('bad_answer', `etcd at ${endpoint} answered ${what} with nothing`));
        else resolve(answer);
      });
    });
  }

  /** LeaseKeepAlive is a stream in etcd's API: one request, its one answer, then the stream ends. */
  private keepAliveOnce(id: string, timeoutMs: number): Promise<number> {
    const endpoint = this.endpoint;
    const method = rpc.leaseKeepAlive;
    return new Promise((resolve, reject) => {
      const call = this.channel().makeBidiStreamRequest(method.path, method.serialize, method.deserialize, { deadline: Date.now() + Math.max(1, timeoutMs) });
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        outcome();
        call.cancel();
      };
      call.on('data', (answer: LeaseKeepAliveResponse) => settle(() => resolve(num(answer.TTL))));
      call.on('error', (error: ServiceError) => settle(() => reject(etcdErrorOf(error, endpoint, 'lease keepalive'))));
      call.on('end', () => settle(() => reject(new EtcdError('unreachable', `etcd at ${endpoint} ended the keepalive stream without an answer`))));
      call.write({ ID: id });
    });
  }
}
