import { type KeyValue, decodeKv, headerRevision } from './etcd-client.js';
import { EtcdError } from './etcd-error.js';

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

/** Bytes of one watch message we accept before calling the stream garbage. */
const watchMessageBytesMax = 16 * 1024 * 1024;

/**
 * A watch over etcd's streaming JSON gateway: one POST whose answer is a stream of
 * JSON messages, one per line. The stream is read as it comes; a cancelled watch
 * (`compact_revision` set when history before our start was compacted) ends it
 * with `compacted`, so the caller reloads instead of missing changes. A watch
 * that is silent for `idleMsMax` while the caller believes it is behind is the
 * caller's to detect (see the log follower): a silent stream is also a quiet log.
 */
export function openWatch(endpoint: string, request: WatchRequest, handlers: WatchHandlers, connectTimeoutMs: number): Watch {
  const controller = new AbortController();
  let closed = false;
  const end = (error: EtcdError): void => {
    if (closed) return;
    closed = true;
    controller.abort();
    handlers.ended(error);
  };
  const create = {
    key: request.key.toString('base64'),
    start_revision: String(request.startRevision),
    ...(request.rangeEnd === undefined ? {} : { range_end: request.rangeEnd.toString('base64') }),
  };
  const connectTimer = setTimeout(() => end(new EtcdError('timeout', `etcd at ${endpoint} did not open the watch in time`)), connectTimeoutMs);
  void (async () => {
    try {
      const response = await fetch(`${endpoint}/v3/watch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ create_request: create }),
        signal: controller.signal,
      });
      clearTimeout(connectTimer);
      if (!response.ok || response.body === null) throw new EtcdError('server_error', `etcd at ${endpoint} refused the watch (HTTP ${response.status})`);
      let pending = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        pending += decoder.decode(chunk as Uint8Array, { stream: true });
        if (pending.length > watchMessageBytesMax) throw new EtcdError('bad_answer', 'a watch message is larger than we accept');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line !== '' && !closed) deliver(line, handlers, end);
        }
      }
      end(new EtcdError('unreachable', `etcd at ${endpoint} closed the watch stream`));
    } catch (error) {
      clearTimeout(connectTimer);
      end(error instanceof EtcdError ? error : new EtcdError('unreachable', `the watch stream from etcd at ${endpoint} broke`, { cause: error }));
    }
  })();
  return {
    close() {
      closed = true;
      clearTimeout(connectTimer);
      controller.abort();
    },
  };
}

function deliver(line: string, handlers: WatchHandlers, end: (error: EtcdError) => void): void {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(line) as Record<string, unknown>;
  } catch {
    end(new EtcdError('bad_answer', 'a watch message is not JSON'));
    return;
  }
  const result = message['result'] as Record<string, unknown> | undefined;
  if (result === undefined) {
    end(new EtcdError('server_error', `etcd ended the watch: ${String(message['message'] ?? line.slice(0, 200))}`));
    return;
  }
  if (result['canceled'] === true) {
    const compacted = Number(result['compact_revision'] ?? 0) > 0;
    end(new EtcdError(compacted ? 'compacted' : 'server_error', compacted ? 'the watch started before the compacted history' : `etcd cancelled the watch: ${String(result['cancel_reason'] ?? '')}`));
    return;
  }
  const raw = Array.isArray(result['events']) ? (result['events'] as Record<string, unknown>[]) : [];
  const events = raw.map((event) => ({ type: event['type'] === 'DELETE' ? ('delete' as const) : ('put' as const), kv: decodeKv(event['kv']) }));
  handlers.events(events, headerRevision({ header: result['header'] }));
}
