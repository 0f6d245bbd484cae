import { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../auth/authenticator.js';
import type { Identity } from '../auth/http-auth.js';
import { RequestRates } from '../auth/request-rates.js';
import { type DomainEvent, type LeaseEndedEvent, type LockReleasedEvent, copyEvent } from '../domain/events.js';
import type { Limits } from '../limits.js';
import type { Metrics } from '../ops/metrics.js';
import type { LockringService } from '../service.js';
import { type ConnectionDeps, type WireSocket, WsConnection } from './connection.js';
import { LeaseAudience, type Session } from './lease-audience.js';
import { Operations } from './operations.js';
import { FrameParser } from './protocol.js';
import { QueuePositions } from './queue-positions.js';
import { WatchRegistry, yieldTail } from './watch-registry.js';

export interface WsHubDeps {
  readonly service: LockringService;
  readonly metrics: Metrics;
  readonly limits: Limits;
  /** null or absent: the server runs without auth. */
  readonly authenticator?: Authenticator | null;
  /** The server's request rate limits (shared with HTTP); a fresh set when absent. */
  readonly rates?: RequestRates;
  /**
   * Asked before each frame is handled. In the replicated mode it stops a replica
   * whose term may be over, so a socket opened on the active is never answered by
   * a deposed one (the socket then drops and the client redials the new active).
   */
  readonly guard?: () => void;
}

export interface WsOptions {
  /** Ping interval of a socket without a session (a session's TTL may shorten it). */
  readonly pingIntervalMs?: number;
  /** The shortest ping interval, whatever the session TTL. */
  readonly pingIntervalMinMs?: number;
  /** How long a closing socket gets to finish the close handshake before it is cut. */
  readonly closeGraceMs?: number;
}

export const wsDefaults = { pingIntervalMs: 10_000, pingIntervalMinMs: 50, closeGraceMs: 1_000 } as const;

interface HubEvents {
  connection: [WsConnection];
  disconnection: [WsConnection];
}

/**
 * Every live socket and what they share: frame parser, ops, watches, the lease
 * audience. Domain events come in here, in order, and leave as pushes. Emits
 * `connection` and `disconnection` (for tests and operations tooling).
 */
export class WsHub extends EventEmitter<HubEvents> {
  readonly connections = new Set<WsConnection>();
  readonly watches: WatchRegistry;
  readonly audience = new LeaseAudience();
  /** Position pushes of waiting acquires that asked for them; fed by the domain's queue hook. */
  readonly positions: QueuePositions;
  private readonly connectionDeps: ConnectionDeps;
  private readonly metrics: Metrics;
  private readonly service: LockringService;

  constructor(deps: WsHubDeps, options: WsOptions = {}) {
    super();
    const { service, metrics, limits } = deps;
    this.metrics = metrics;
    this.service = service;
    const pingIntervalMs = options.pingIntervalMs ?? wsDefaults.pingIntervalMs;
    const pingIntervalMinMs = options.pingIntervalMinMs ?? wsDefaults.pingIntervalMinMs;
    this.watches = new WatchRegistry(service.machine.rings, limits.wsWatchesMax);
    this.positions = new QueuePositions((deliver) => service.pipeline.show(deliver));
    this.connectionDeps = {
      service,
      limits,
      parser: new FrameParser(limits),
      operations: new Operations({ service, limits, audience: this.audience, positions: this.positions }),
      audience: this.audience,
      watches: this.watches,
      authenticator: deps.authenticator ?? null,
      rates: deps.rates ?? new RequestRates(limits, metrics),
      guard: deps.guard ?? (() => {}),
      usage: service.usage,
      counters: {
        framesIn: metrics.wsMessages.counting('in'),
        framesOut: metrics.wsMessages.counting('out'),
        slowClosed: metrics.wsSlowClosedTotal,
        limitExceeded: (limit) => metrics.limitExceededTotal.inc({ limit }),
        authFailed: (reason) => metrics.authFailuresTotal.inc({ reason }),
      },
      // A session's socket is pinged often enough that a dead peer is noticed within its TTL.
      pingIntervalMs: (session: Session | null) =>
        session === null ? pingIntervalMs : Math.min(pingIntervalMs, Math.max(pingIntervalMinMs, Math.floor(session.ttlMs / 2))),
      closeGraceMs: options.closeGraceMs ?? wsDefaults.closeGraceMs,
      closed: (connection) => {
        if (!this.connections.delete(connection)) return;
        metrics.wsConnections.dec();
        this.emit('disconnection', connection);
      },
    };
  }

  /** `identity`: what the upgrade's auth hook decided; `ip`: the client's address (rate limit). */
  attach(ws: WebSocket, log: FastifyBaseLogger, identity: Identity = { kind: 'open' }, ip = '', wire: WireSocket | null = null): WsConnection {
    const connection = new WsConnection(ws, this.connectionDeps, log, identity, ip, wire);
    this.connections.add(connection);
    this.metrics.wsConnections.inc();
    this.emit('connection', connection);
    return connection;
  }

  /**
   * The machine's event sink: lock and ring changes to watches, lease ends to their
   * audience. Each push goes through the commit pipeline, so it leaves only once the
   * log is durable through the command that caused it: a token or ring version seen
   * by a watcher is never handed out again after a crash.
   */
  onEvent(event: DomainEvent): void {
    const pipeline = this.service.pipeline;
    switch (event.type) {
      // Nothing to push without a watch: no work on the hot path.
      // Events are lent: a deferred push reads its fields now, never the event later.
      case 'lock_acquired':
        if (this.watches.size > 0) this.showLockEvent('acquired', event.name, event.token, event.owner, event.mode);
        return;
      case 'lock_released':
        if (this.watches.size > 0) this.showLockEvent(event.reason, event.name, event.token, event.owner, event.mode);
        // Shown before the silent end of the hold's own lease, which comes after it.
        if ((event.reason === 'max_hold' || event.reason === 'preempted') && this.audience.concerns(event.leaseId)) {
          const ended = copyEvent(event) as LockReleasedEvent;
          pipeline.show(() => this.audience.holdEnded(ended));
        }
        return;
      case 'yield_requested': {
        if (this.watches.size > 0 && this.watches.watchesLock(event.name)) {
          const tail = yieldTail(event);
          pipeline.show(() => this.watches.sendLock(event.name, tail));
        }
        if (this.audience.concerns(event.leaseId)) {
          const asked = { ...event };
          pipeline.show(() => this.audience.yieldRequested(asked));
        }
        return;
      }
      case 'ring_configured':
      case 'member_put':
      case 'member_removed':
      case 'ring_deleted': {
        const push = this.watches.ringEvent(event.ring);
        if (push !== null) pipeline.show(push);
        return;
      }
      case 'lease_ended':
        if (this.audience.concerns(event.leaseId)) {
          const ended = copyEvent(event) as LeaseEndedEvent;
          pipeline.show(() => this.audience.leaseEnded(ended));
        }
        return;
      default:
        return;
    }
  }

  private showLockEvent(kind: Parameters<WatchRegistry['lockEvent']>[0], name: string, token: number, owner: string, mode: 'read' | undefined): void {
    this.service.pipeline.show(() => this.watches.lockEvent(kind, name, token, owner, mode));
  }

  /** Closes every socket with `code`; resolves once all are gone (cut after the grace). */
  async closeAll(code: number, reason: string): Promise<void> {
    if (this.connections.size === 0) return;
    const gone = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.connections.size > 0) return;
        this.off('disconnection', check);
        resolve();
      };
      this.on('disconnection', check);
    });
    for (const connection of this.connections) connection.closeWith(code, reason);
    await gone;
  }
}
