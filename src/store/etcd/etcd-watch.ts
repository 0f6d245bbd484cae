import type { ServiceError } from '@grpc/grpc-js';
import { type EtcdClient, type KeyValue, decodeKv, etcdErrorOf, headerRevision } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';
import { type WatchResponse, rpc } from './etcd-rpc.js';

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
}

export interface WatchRequest {
  readonly key: Buffer;
  readonly rangeEnd?: Buffer;
  /** First revision to deliver; history before it must not be compacted. */
  readonly startRevision: number;
}

export interface WatchHandlers {
  /** Events of one revision batch, in revision order. */
  events(events: readonly WatchEvent[], revision: number): void;
  /** The watch ended (never called after `close()`): the stream broke, etcd cancelled it, or it compacted past us. */
  ended(error: EtcdError): void;
}

export interface Watch {
  close(): void;
}

/**
 * A watch on etcd's Watch stream, opened on the client's current endpoint. Messages
 * are read as they come (each at most etcdMessageBytesMax); a cancelled watch
 * (`compact_revision` set when history before our start was compacted) ends it with
 * `compacted`, so the caller reloads instead of missing changes. A watch that etcd
 * has not confirmed within `connectTimeoutMs` ends with `timeout`. A watch that is
 * silent while the caller believes it is behind is the caller's to detect (see the
 * log follower): a silent stream is also a quiet log.
 */
export function openWatch(client: EtcdClient, request: WatchRequest, handlers: WatchHandlers, connectTimeoutMs: number): Watch {
  const endpoint = client.endpoint;
  const call = client.stream(rpc.watch);
  let closed = false;
  const end = (error: EtcdError): void => {
    if (closed) return;
    closed = true;
    clearTimeout(connectTimer);
    call.cancel();
    handlers.ended(error);
  };
  const connectTimer = setTimeout(() => end(new EtcdError('timeout', `etcd at ${endpoint} did not open the watch in time`)), connectTimeoutMs);
  call.on('data', (message: WatchResponse) => {
    if (closed) return;
    clearTimeout(connectTimer);
    try {
      deliver(message, handlers, end);
    } catch (error) {
      // A handler that throws ends the watch (its owner watches again) rather than the process.
      end(new EtcdError('bad_answer', `a watch message from etcd at ${endpoint} could not be handled`, { cause: error }));
    }
  });
  call.on('error', (error: ServiceError) => end(etcdErrorOf(error, endpoint, 'watch')));
  call.on('end', () => end(new EtcdError('unreachable', `etcd at ${endpoint} closed the watch stream`)));
  call.write({
    create_request: {
      key: request.key,
      start_revision: String(request.startRevision),
      ...(request.rangeEnd === undefined ? {} : { range_end: request.rangeEnd }),
    },
  });
  return {
    close() {
      closed = true;
      clearTimeout(connectTimer);
      call.cancel();
    },
  };
}

function deliver(message: WatchResponse, handlers: WatchHandlers, end: (error: EtcdError) => void): void {
  if (message.canceled) {
    const compacted = Number(message.compact_revision) > 0;
    end(new EtcdError(compacted ? 'compacted' : 'server_error', compacted ? 'the watch started before the compacted history' : `etcd cancelled the watch: ${message.cancel_reason}`));
    return;
  }
  // The confirmation that the watch exists carries no events.
  if (message.events.length === 0) return;
  const events = message.events.map((event) => ({ type: event.type === 'DELETE' ? ('delete' as const) : ('put' as const), kv: decodeKv(event.kv) }));
  handlers.events(events, headerRevision(message));
}
