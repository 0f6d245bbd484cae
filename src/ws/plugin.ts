import fastifyWebsocket from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { invalid, limitExceeded } from '../domain/errors.js';
import { sendError } from '../http/error-handler.js';
import { type WsHubDeps, type WsOptions, WsHub } from './hub.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSocket side of the server: live sockets, watches, sessions. */
    wsHub: WsHub;
  }
}

/**
 * Serves `GET /v1/ws`. The upgrade is an ordinary fastify request first, so every
 * onRequest hook (Host and Origin checks, readiness, auth) runs before a socket
 * exists: a page of a foreign origin gets 403 and never a socket; the socket bound
 * (`wsSocketsMax`) is checked there too and answered `429 limit_exceeded`. Frames
 * above `wsFrameBytesMax` are refused by `ws` itself (close 1009). Domain events are
 * taken from the machine in order and turned into pushes, and its queue changes
 * into position pushes.
 */
export function registerWebSocket(app: FastifyInstance, deps: WsHubDeps, options: WsOptions = {}): WsHub {
  const { limits, metrics, service } = deps;
  const hub = new WsHub(deps, options);
  const unsubscribe = service.machine.subscribe((event) => hub.onEvent(event));
  const locks = service.machine.locks;
  locks.onQueueChanged = (lock) => hub.positions.queueChanged(lock);
  app.decorate('wsHub', hub);
  // An upgrade refused by a hook that ran before @fastify/websocket's own (not_ready,
  // auth) is answered on the raw socket, which nothing else would close.
  app.addHook('onResponse', (request, _reply, done) => {
    const { upgrade, connection } = request.raw.headers;
    if (upgrade !== undefined && /\bupgrade\b/i.test(connection ?? '')) {
      const socket = request.raw.socket;
      socket.end(() => socket.destroy());
    }
    done();
  });

  app.register(fastifyWebsocket, {
    options: { maxPayload: limits.wsFrameBytesMax, perMessageDeflate: false },
    errorHandler: (error, _socket, request) => {
      // Protocol errors (oversized or invalid frames): ws closes with the right code itself.
      request.log.debug({ err: error }, 'websocket error');
    },
    preClose: async () => {
      unsubscribe();
      locks.onQueueChanged = null;
      await hub.closeAll(1001, 'server shutting down');
    },
  });

  app.register(async (scope) => {
    scope.route({
      method: 'GET',
      url: '/v1/ws',
      // The OpenAPI document covers HTTP; the protocol is in docs/websocket.md.
      schema: { hide: true },
      preHandler: async (request: FastifyRequest, reply: FastifyReply) => {
        if (!request.ws) return;
        if (hub.connections.size >= limits.wsSocketsMax) {
          metrics.limitExceededTotal.inc({ limit: 'wsSocketsMax' });
          return sendError(reply, limitExceeded('wsSocketsMax', limits.wsSocketsMax));
        }
        const perToken = socketsFull(request);
        if (perToken !== null) {
          metrics.limitExceededTotal.inc({ limit: perToken });
          return sendError(reply, limitExceeded(perToken, limits[perToken]));
        }
      },
      handler: async (_request: FastifyRequest, reply: FastifyReply) =>
        sendError(reply, invalid('GET /v1/ws takes a WebSocket upgrade (Upgrade: websocket)', { field: 'upgrade' })),
      wsHandler: (socket, request) => {
        // Upgrades that passed the check together may overshoot it: the last ones go.
        const full = hub.connections.size >= limits.wsSocketsMax ? 'wsSocketsMax' : socketsFull(request);
        if (full !== null) {
          metrics.limitExceededTotal.inc({ limit: full });
          socket.close(1013, `limit ${full} reached`);
          return;
        }
        hub.attach(socket, request.log, request.identity ?? { kind: 'open' }, request.ip, request.raw.socket);
      },
    });
  });
  return hub;

  /** The per-token socket limit, when the upgrade's token is at it. */
  function socketsFull(request: FastifyRequest): 'wsSocketsPerTokenMax' | null {
    const identity = request.identity;
    if (identity?.kind !== 'token') return null;
    return service.usage.full(identity.principal.name, 'sockets') === null ? null : 'wsSocketsPerTokenMax';
  }
}
