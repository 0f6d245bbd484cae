import { type MethodDefinition, fromJSON } from '@grpc/proto-loader';

/**
 * The part of etcd's v3 gRPC API this mode calls (KV, Lease, Watch), described to
 * protobuf as data: the message and field names and numbers of etcd's
 * `etcdserverpb` and `mvccpb` packages, which are its wire contract. Only the
 * fields we read or send are listed; protobuf skips the others on the wire.
 *
 * Decoded with int64 as decimal strings (lease ids use all 64 bits; revisions are
 * turned into numbers where read, they stay far below 2^53), enums as their names,
 * bytes as Buffers, absent fields as their defaults.
 */
type Fields = Record<string, { readonly type: string; readonly id: number; readonly rule?: 'repeated' }>;

const message = (fields: Fields, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ fields, ...extra });
const int64 = (id: number) => ({ type: 'int64', id });
const bytes = (id: number) => ({ type: 'bytes', id });
const bool = (id: number) => ({ type: 'bool', id });
const repeated = (type: string, id: number) => ({ type, id, rule: 'repeated' as const });

const header = { header: { type: 'ResponseHeader', id: 1 } };

const etcdserverpb = {
  ResponseHeader: message({ revision: int64(3) }),
  RangeRequest: message({
    key: bytes(1), range_end: bytes(2), limit: int64(3), revision: int64(4), sort_order: { type: 'SortOrder', id: 5 },
    sort_target: { type: 'SortTarget', id: 6 }, keys_only: bool(8), max_create_revision: int64(13),
  }, {
    nested: {
      SortOrder: { values: { NONE: 0, ASCEND: 1, DESCEND: 2 } },
      SortTarget: { values: { KEY: 0, VERSION: 1, CREATE: 2, MOD: 3, VALUE: 4 } },
    },
  }),
  RangeResponse: message({ ...header, kvs: repeated('mvccpb.KeyValue', 2), more: bool(3) }),
  PutRequest: message({ key: bytes(1), value: bytes(2), lease: int64(3) }),
  PutResponse: message({ ...header }),
  DeleteRangeRequest: message({ key: bytes(1), range_end: bytes(2) }),
  RequestOp: message(
    { request_range: { type: 'RangeRequest', id: 1 }, request_put: { type: 'PutRequest', id: 2 }, request_delete_range: { type: 'DeleteRangeRequest', id: 3 } },
    { oneofs: { request: { oneof: ['request_range', 'request_put', 'request_delete_range'] } } },
  ),
  ResponseOp: message(
    { response_range: { type: 'RangeResponse', id: 1 } },
    { oneofs: { response: { oneof: ['response_range'] } } },
  ),
  Compare: message(
    {
      result: { type: 'CompareResult', id: 1 }, target: { type: 'CompareTarget', id: 2 }, key: bytes(3),
      version: int64(4), create_revision: int64(5), mod_revision: int64(6), value: bytes(7),
    },
    {
      oneofs: { target_union: { oneof: ['version', 'create_revision', 'mod_revision', 'value'] } },
      nested: {
        CompareResult: { values: { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } },
        CompareTarget: { values: { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } },
      },
    },
  ),
  TxnRequest: message({ compare: repeated('Compare', 1), success: repeated('RequestOp', 2), failure: repeated('RequestOp', 3) }),
  TxnResponse: message({ ...header, succeeded: bool(2), responses: repeated('ResponseOp', 3) }),
  CompactionRequest: message({ revision: int64(1) }),
  CompactionResponse: message({ ...header }),
  LeaseGrantRequest: message({ TTL: int64(1) }),
  LeaseGrantResponse: message({ ...header, ID: int64(2), TTL: int64(3), error: { type: 'string', id: 4 } }),
  LeaseRevokeRequest: message({ ID: int64(1) }),
  LeaseRevokeResponse: message({ ...header }),
  LeaseKeepAliveRequest: message({ ID: int64(1) }),
  LeaseKeepAliveResponse: message({ ...header, TTL: int64(3) }),
  WatchRequest: message({ create_request: { type: 'WatchCreateRequest', id: 1 } }, { oneofs: { request_union: { oneof: ['create_request'] } } }),
  WatchCreateRequest: message({ key: bytes(1), range_end: bytes(2), start_revision: int64(3) }),
  WatchResponse: message({
    ...header, canceled: bool(4), compact_revision: int64(5), cancel_reason: { type: 'string', id: 6 },
    events: repeated('mvccpb.Event', 11),
  }),
  KV: {
    methods: {
      Range: { requestType: 'RangeRequest', responseType: 'RangeResponse' },
      Put: { requestType: 'PutRequest', responseType: 'PutResponse' },
      Txn: { requestType: 'TxnRequest', responseType: 'TxnResponse' },
      Compact: { requestType: 'CompactionRequest', responseType: 'CompactionResponse' },
    },
  },
  Lease: {
    methods: {
      LeaseGrant: { requestType: 'LeaseGrantRequest', responseType: 'LeaseGrantResponse' },
      LeaseRevoke: { requestType: 'LeaseRevokeRequest', responseType: 'LeaseRevokeResponse' },
      LeaseKeepAlive: { requestType: 'LeaseKeepAliveRequest', requestStream: true, responseType: 'LeaseKeepAliveResponse', responseStream: true },
    },
  },
  Watch: {
    methods: {
      Watch: { requestType: 'WatchRequest', requestStream: true, responseType: 'WatchResponse', responseStream: true },
    },
  },
};

const mvccpb = {
  KeyValue: message({ key: bytes(1), create_revision: int64(2), mod_revision: int64(3), version: int64(4), value: bytes(5), lease: int64(6) }),
  Event: message(
    { type: { type: 'EventType', id: 1 }, kv: { type: 'KeyValue', id: 2 } },
    { nested: { EventType: { values: { PUT: 0, DELETE: 1 } } } },
  ),
};

const descriptor: Record<string, unknown> = { nested: { etcdserverpb: { nested: etcdserverpb }, mvccpb: { nested: mvccpb } } };
const definition = fromJSON(
  // protobuf's JSON form; its declared type wants comments on every method.
  descriptor as Parameters<typeof fromJSON>[0],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
);

/** Decoded messages (int64 as decimal strings). */
export interface RpcKeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly create_revision: string;
  readonly mod_revision: string;
  readonly version: string;
  readonly lease: string;
}

export interface RpcHeader {
  readonly revision: string;
}

export interface RangeResponse {
  readonly header: RpcHeader | null;
  readonly kvs: readonly RpcKeyValue[];
  readonly more: boolean;
}

export interface TxnResponse {
  readonly header: RpcHeader | null;
  readonly succeeded: boolean;
  readonly responses: readonly { readonly response?: string; readonly response_range?: RangeResponse | null }[];
}

export interface HeaderResponse {
  readonly header: RpcHeader | null;
}

export interface LeaseGrantResponse extends HeaderResponse {
  readonly ID: string;
  readonly TTL: string;
  readonly error: string;
}

export interface LeaseKeepAliveResponse extends HeaderResponse {
  readonly TTL: string;
}

export interface WatchResponse extends HeaderResponse {
  readonly canceled: boolean;
  readonly compact_revision: string;
  readonly cancel_reason: string;
  readonly events: readonly { readonly type: string; readonly kv: RpcKeyValue | null }[];
}

/** One method: its path and its (de)serialisers, typed by what we send and read. */
export interface RpcMethod<Req, Res> {
  readonly path: string;
  readonly serialize: (request: Req) => Buffer;
  readonly deserialize: (bytes: Buffer) => Res;
}

function method<Req, Res>(service: string, name: string): RpcMethod<Req, Res> {
  const found = (definition[`etcdserverpb.${service}`] as Record<string, MethodDefinition<object, object>> | undefined)?.[name];
  if (found === undefined) throw new Error(`etcd rpc ${service}.${name} is not described`);
  return {
    path: found.path,
    serialize: (request) => found.requestSerialize(request as object),
    deserialize: (bytes) => found.responseDeserialize(bytes) as Res,
  };
}

export const rpc = {
  range: method<object, RangeResponse>('KV', 'Range'),
  put: method<object, HeaderResponse>('KV', 'Put'),
  txn: method<object, TxnResponse>('KV', 'Txn'),
  compact: method<object, HeaderResponse>('KV', 'Compact'),
  leaseGrant: method<object, LeaseGrantResponse>('Lease', 'LeaseGrant'),
  leaseRevoke: method<object, HeaderResponse>('Lease', 'LeaseRevoke'),
  leaseKeepAlive: method<object, LeaseKeepAliveResponse>('Lease', 'LeaseKeepAlive'),
  watch: method<object, WatchResponse>('Watch', 'Watch'),
};
