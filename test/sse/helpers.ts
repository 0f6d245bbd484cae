/**
 * Helpers for event-stream tests: heartbeat timers driven by hand, and a small SSE
 * client over a real socket that parses frames as a browser would.
 */
import http from 'node:http';
import type { IntervalTimers } from '../../src/sse/interval-timers.js';
import { within } from '../ws/helpers.js';

/** Heartbeats fire when the test says so. */
export class ManualTimers implements IntervalTimers {
  private readonly ticks = new Set<() => void>();
  readonly intervals: number[] = [];

  every(intervalMs: number, tick: () => void): () => void {
    this.intervals.push(intervalMs);
    this.ticks.add(tick);
    return () => this.ticks.delete(tick);
  }

  get running(): number {
    return this.ticks.size;
  }

  fire(): void {
    for (const tick of [...this.ticks]) tick();
  }
}

export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: any;
}

/** One open `GET /v1/watch` response, its frames parsed into events and comments. */
export class SseClient {
  readonly events: SseEvent[] = [];
  /** Every event received, in order. */
  readonly log: SseEvent[] = [];
  comments = 0;
  retryMs: number | undefined;
  readonly ended: Promise<void>;
  private buffer = '';
  private waiters: { match: (event: SseEvent) => boolean; resolve: (event: SseEvent) => void }[] = [];
  private commentWaiters: (() => void)[] = [];

  private constructor(
    readonly response: http.IncomingMessage,
    private readonly request: http.ClientRequest,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.take(chunk));
    this.ended = new Promise((resolve) => {
      response.on('close', resolve);
      response.on('error', () => resolve());
    });
  }

  /** Opens a stream; resolves with the response head (status and headers) and the client. */
  static open(base: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return within(
      new Promise((resolve, reject) => {
        const request = http.get(base + path, { headers }, (response) => resolve(new SseClient(response, request)));
        request.on('error', reject);
      }),
      5_000,
      `the head of ${path}`,
    );
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** The next event (kept or to come) that matches, taking every event before it. */
  next(match: (event: SseEvent) => boolean = () => true, what = 'an event'): Promise<SseEvent> {
    const index = this.events.findIndex(match);
    if (index >= 0) return Promise.resolve(this.events.splice(0, index + 1).at(-1)!);
    return within(new Promise((resolve) => this.waiters.push({ match, resolve })), 5_000, what);
  }

  /** Resolves once `count` comment lines in all have arrived. */
  async commentsReach(count: number): Promise<void> {
    while (this.comments < count) await within(new Promise<void>((resolve) => this.commentWaiters.push(resolve)), 5_000, `${count} comments`);
  }

  /** The whole body, once the server ended the stream. */
  async body(): Promise<string> {
    await within(this.ended, 5_000, 'the end of the stream');
    return this.raw;
  }

  raw = '';

  close(): void {
    this.request.destroy();
  }

  private take(chunk: string): void {
    this.raw += chunk;
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.parse(block);
    }
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments += 1;
        for (const resolve of this.commentWaiters.splice(0)) resolve();
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry') this.retryMs = Number(value);
    }
    if (data.length === 0) return;
    const parsed: SseEvent = { id, event, data: JSON.parse(data.join('\n')) };
    this.log.push(parsed);
    const waiter = this.waiters.findIndex((w) => w.match(parsed));
    if (waiter >= 0) {
      this.waiters.splice(waiter, 1)[0]!.resolve(parsed);
      // Events before the match are taken with it, as next() does for kept ones.
      this.events.length = 0;
      return;
    }
    this.events.push(parsed);
  }
}
