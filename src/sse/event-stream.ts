import type { ServerResponse } from 'node:http';
import type { Limits } from '../limits.js';
import type { EventFeed, FeedStart } from '../watch/event-feed.js';
import type { FeedEvent } from '../watch/replay-buffer.js';
import type { Watch, WatchSink } from '../watch/watch-registry.js';
import { type WatchTarget, targetMatches } from '../watch/watch-target.js';
import type { IntervalTimers } from './interval-timers.js';

/** What every stream shares. */
export interface StreamDeps {
  readonly limits: Limits;
  readonly feed: EventFeed;
  readonly timers: IntervalTimers;
  readonly heartbeatMs: number;
  /** How long a browser waits before reconnecting (the `retry:` field). */
  readonly retryMs: number;
  readonly counters: {
    slowClosed(): void;
    reset(reason: 'too_old' | 'unknown'): void;
  };
  closed(stream: EventStream): void;
}

/** Who reads: whether the stream's token may see `name` now (auth reloads apply at once). */
export interface StreamReader {
  mayRead(topic: 'lock' | 'ring', name: string): boolean;
  /** False once the stream's token is no longer valid: the stream is then closed. */
  stillValid(): boolean;
}

/**
 * One `text/event-stream` response following one watch target. Every event carries
 * an `id:` (the feed's), so a client that reconnects with `Last-Event-ID` gets what
 * it missed, or a `reset` when that is gone. Comment lines at `heartbeatMs` keep
 * proxies from closing a quiet stream. A reader whose unsent bytes pass
 * `sseSendBufferBytesMax` is cut: measured before each write, as for WebSockets.
 */
export class EventStream implements WatchSink {
  readonly watch: Watch;
  private closed = false;
  private stopHeartbeat: (() => void) | null = null;

  constructor(
    private readonly out: ServerResponse,
    private readonly deps: StreamDeps,
    private readonly reader: StreamReader,
    watchId: number,
    target: WatchTarget,
  ) {
    this.watch = { id: watchId, sink: this, target };
  }

  /** Joins the feed; may throw `limit_exceeded`, before anything is written. */
  subscribe(lastEventId: string | undefined): FeedStart {
    return this.deps.feed.subscribe(this.watch, lastEventId);
  }

  /** Writes the head and the opening events, then follows the feed until either side closes. */
  open(headers: Readonly<Record<string, string>>, start: FeedStart): void {
    this.out.on('close', () => this.cleanup());
    // The client may have gone while the request was admitted: no 'close' would follow.
    if (this.out.destroyed || this.out.socket === null || this.out.socket.destroyed) return this.cleanup();
    this.out.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Proxies such as nginx would otherwise hold events back to fill a buffer.
      'x-accel-buffering': 'no',
    });
    this.write(`retry: ${this.deps.retryMs}\n\n`);
    this.opening(start);
    this.stopHeartbeat = this.deps.timers.every(this.deps.heartbeatMs, () => this.beat());
  }

  sendText(text: string, eventId?: string): void {
    this.write(frame(this.watch.target.topic, eventId ?? this.deps.feed.currentId, text));
  }

  mayRead(topic: 'lock' | 'ring', name: string): boolean {
    return this.reader.mayRead(topic, name);
  }

  /** Ends the stream (server shutdown, a token gone, a slow reader). */
  close(): void {
    if (this.closed) return;
    this.out.end();
    this.cleanup();
  }

  /** What was missed (if it is still kept), or a reset; then the mark that the stream is live. */
  private opening(start: FeedStart): void {
    const id = this.deps.feed.currentId;
    const watchId = this.watch.id;
    if (start.kind === 'resumed') for (const event of start.missed) this.replay(event);
    if (start.kind === 'reset') {
      this.deps.counters.reset(start.reason);
      this.write(frame('reset', id, `{"event":"reset","watchId":${watchId},"reason":"${start.reason}"}`));
    }
    this.write(frame('watching', id, `{"event":"watching","watchId":${watchId},"resumed":${start.kind === 'resumed'}}`));
  }

  private replay(event: FeedEvent): void {
    if (!targetMatches(this.watch.target, event.topic, event.name) || !this.reader.mayRead(event.topic, event.name)) return;
    this.sendText(`{"event":"${event.topic}","watchId":${this.watch.id}${event.tail}`, this.deps.feed.idOf(event.seq));
  }

  private beat(): void {
    if (!this.reader.stillValid()) return this.close();
    this.write(': heartbeat\n\n');
  }

  private write(text: string): void {
    if (this.closed) return;
    const backlog = this.out.writableLength;
    if (backlog > this.deps.limits.sseSendBufferBytesMax) {
      this.deps.counters.slowClosed();
      // A reader this far behind will not read a clean end either.
      this.out.destroy();
      this.cleanup();
      return;
    }
    this.out.write(text);
  }

  private cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopHeartbeat?.();
    this.deps.feed.unsubscribeWatch(this.watch);
    this.deps.closed(this);
  }
}

function frame(event: string, id: string, data: string): string {
  return `id: ${id}\nevent: ${event}\ndata: ${data}\n\n`;
}
