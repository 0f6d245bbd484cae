import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import { allows } from '../auth/grants.js';
import { type Identity, callerOf } from '../auth/http-auth.js';
import { invalid, limitExceeded } from '../domain/errors.js';
import type { StateMachine } from '../domain/state-machine.js';
import { checkQuery } from '../protocol/validation.js';
import type { Limits } from '../limits.js';
import type { Metrics } from '../ops/metrics.js';
import { EventFeed } from '../watch/event-feed.js';
import type { OutputGate } from '../watch/output-gate.js';
import { authorizeWatch, parseWatchTarget } from '../watch/watch-target.js';
import { EventStream, type StreamDeps, type StreamReader } from './event-stream.js';
import { type IntervalTimers, systemTimers } from './interval-timers.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The event-stream side of the server: open streams and their feed. */
    eventStreams: EventStreams;
  }
}

export interface EventStreamDeps {
  readonly machine: StateMachine;
  /** What holds every event back until the log is durable (the service's commit pipeline). */
  readonly pipeline: OutputGate;
  readonly metrics: Metrics;
  readonly limits: Limits;
  /** null: the server runs without auth. */
  readonly authenticator: Authenticator | null;
  readonly heartbeatMs: number;
  readonly timers?: IntervalTimers;
  /** Names this server run in event ids; random when absent. */
  readonly bootId?: string;
}

/** The event-stream side of the server, for shutdown and tests. */
export interface EventStreams {
  readonly feed: EventFeed;
  readonly open: ReadonlySet<EventStream>;
  closeAll(): void;
}

const queryFields = ['topic', 'name', 'prefix', 'ring'] as const;
/** Longer than any id this server writes: such a header is not ours, whatever it says. */
const lastEventIdCharsMax = 64;
const retryMs = 1_000;

/**
 * Serves `GET /v1/watch`: one watch per response, as Server-Sent Events, with the
 * same targets, event shapes, grants and durability as the WebSocket `watch` op.
 * Streams are bounded in total (`sseStreamsMax`) and per token (`sseStreamsPerTokenMax`).
 */
export function registerEventStream(app: FastifyInstance, deps: EventStreamDeps): EventStreams {
  const { limits, metrics, authenticator } = deps;
  const feed = new EventFeed(deps.machine, deps.pipeline, limits, deps.bootId ?? randomBytes(6).toString('hex'));
  const open = new Set<EventStream>();
  const perToken = new Map<string, number>();
  const owners = new Map<EventStream, string>();
  let watchSeq = 0;
  const streamDeps: StreamDeps = {
    limits, feed, retryMs,
    timers: deps.timers ?? systemTimers,
    heartbeatMs: deps.heartbeatMs,
    counters: {
      slowClosed: () => metrics.sseSlowClosedTotal.inc(),
      reset: (reason) => metrics.sseResetsTotal.inc({ reason }),
    },
    closed: (stream) => {
      if (!open.delete(stream)) return;
      metrics.sseStreams.dec();
      const owner = owners.get(stream);
      owners.delete(stream);
      if (owner !== undefined) countToken(perToken, owner, -1);
    },
  };

  app.get('/v1/watch', async (request: FastifyRequest, reply: FastifyReply) => {
    const query = checkQuery(request.query, queryFields);
    if (query['topic'] === undefined) throw invalid('topic is required ("lock" or "ring")', { field: 'topic' });
    const target = parseWatchTarget({ topic: query['topic'], name: query['name'], prefix: query['prefix'], ring: query['ring'] }, limits);
    authorizeWatch(callerOf(request), target);
    const owner = request.identity?.kind === 'token' ? request.identity.principal.name : undefined;
    checkRoom(owner);
    const stream = new EventStream(reply.raw, streamDeps, readerOf(request.identity, authenticator), ++watchSeq, target);
    const start = stream.subscribe(lastEventIdOf(request));
    open.add(stream);
    metrics.sseStreams.inc();
    if (owner !== undefined) {
      owners.set(stream, owner);
      countToken(perToken, owner, 1);
    }
    reply.hijack();
    stream.open(headersOf(reply), start);
  });

  app.addHook('preClose', (done) => {
    feed.close();
    for (const stream of open) stream.close();
    done();
  });

  const streams: EventStreams = { feed, open, closeAll: () => [...open].forEach((stream) => stream.close()) };
  app.decorate('eventStreams', streams);
  return streams;

  /** Throws `429 limit_exceeded` when the server or the token is at its stream limit. */
  function checkRoom(owner: string | undefined): void {
    const full =
      open.size >= limits.sseStreamsMax ? 'sseStreamsMax'
      : owner !== undefined && (perToken.get(owner) ?? 0) >= limits.sseStreamsPerTokenMax ? 'sseStreamsPerTokenMax'
      : null;
    if (full === null) return;
    metrics.limitExceededTotal.inc({ limit: full });
    throw limitExceeded(full, limits[full]);
  }
}

function countToken(perToken: Map<string, number>, owner: string, delta: number): void {
  const count = (perToken.get(owner) ?? 0) + delta;
  if (count <= 0) perToken.delete(owner);
  else perToken.set(owner, count);
}

function lastEventIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header !== 'string') return undefined;
  // An over-long id is not one of ours: it resets rather than being refused.
  return header.length > lastEventIdCharsMax ? `unknown` : header.trim();
}

/** Headers other hooks set on the reply (they would be lost with the hijack). */
function headersOf(reply: FastifyReply): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

/**
 * The stream's token as the auth file says now: pushes follow its current grants,
 * and the stream ends at the next heartbeat once the token is gone.
 */
function readerOf(identity: Identity | null, authenticator: Authenticator | null): StreamReader {
  if (authenticator === null || identity?.kind !== 'token') return { mayRead: () => true, stillValid: () => true };
  const { digest, principal: { name } } = identity;
  const current = (): ReturnType<Authenticator['principalOf']> => {
    const principal = authenticator.principalOf(digest);
    return principal?.name === name ? principal : undefined;
  };
  return {
    mayRead: (topic, target) => {
      const principal = current();
      return principal !== undefined && allows(principal, topic === 'lock' ? 'lock.read' : 'ring.read', target);
    },
    stillValid: () => current() !== undefined,
  };
}
