import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type LockringError, unauthorized } from '../domain/errors.js';
import { sendError } from '../http/error-handler.js';
import type { Metrics } from '../ops/metrics.js';
import type { Caller } from './access.js';
import type { AuthFailure, Authenticator } from './authenticator.js';
import type { Principal } from './grants.js';
import type { RequestRates } from './request-rates.js';

/**
 * Who a request is, decided once by the onRequest hook:
 * - `open`: the server has no auth; everything is allowed.
 * - `token`: a valid bearer token; `digest` names it without holding the secret.
 * - `pending`: a WebSocket upgrade without a header, to authenticate in its first frame.
 */
export type Identity =
  | { readonly kind: 'open' }
  | { readonly kind: 'token'; readonly digest: string; readonly principal: Principal }
  | { readonly kind: 'pending' };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every route it guards; null elsewhere. */
    identity: Identity | null;
  }
}

const open: Identity = Object.freeze({ kind: 'open' });
const pending: Identity = Object.freeze({ kind: 'pending' });

/**
 * Routes anyone may call, with auth or without: liveness and readiness probes,
 * Prometheus scrapes (no label carries a lock name, key or lease id; ring names do
 * appear, see SECURITY.md), the OpenAPI document and the console's static files (they
 * carry no data; the console asks for a token to read any). Everything else, matched or
 * not, needs a token when auth is configured: an unauthenticated client learns
 * nothing, not even which routes exist.
 */
export const openRoutes: ReadonlySet<string> = new Set([
  '/healthz', '/readyz', '/metrics', '/docs', '/docs/json',
  // The explorer's page and assets (served by the OpenAPI plugin).
  '/docs/', '/docs/yaml', '/docs/ws.json', '/docs/static/*', '/docs/static/index.html', '/docs/static/swagger-initializer.js',
  // The web console's static files (they carry no data).
  '/ui', '/ui/*',
]);

const messages: Readonly<Record<Exclude<AuthFailure, 'timeout'>, string>> = {
  missing: 'this server requires a bearer token: send Authorization: Bearer <token>',
  malformed: 'the Authorization header must be "Bearer <token>"',
  unknown: 'the bearer token is not valid',
};

export function authFailure(reason: AuthFailure): LockringError {
  return unauthorized(reason === 'timeout' ? 'no auth frame within wsAuthMsMax' : messages[reason]);
}

export interface AuthHookDeps {
  /** null: the server runs without auth. */
  readonly authenticator: Authenticator | null;
  readonly rates: RequestRates;
  readonly metrics: Metrics;
}

/**
 * The gate in front of every guarded route: the per-address rate limit, then the
 * bearer token (`401 unauthorized`), then the per-token rate limit. It runs as an
 * onRequest hook, before any body is read and before a WebSocket upgrade completes.
 */
export function installAuth(app: FastifyInstance, deps: AuthHookDeps): void {
  const { authenticator, rates, metrics } = deps;
  app.decorateRequest('identity', null);
  // Callback-style: it runs on every request, and an async hook costs a promise.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (identify(request, reply) === undefined) done();
  });

  /** Sets the request's identity, or answers the request and returns the reply. */
  function identify(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (openRoutes.has(request.routeOptions.url ?? '')) return;
    const ipRefusal = rates.ip(request.ip);
    if (ipRefusal !== null) return refuseRate(reply, ipRefusal);
    if (authenticator === null) {
      request.identity = open;
      return;
    }
    const header = request.headers.authorization;
    if (header === undefined && request.routeOptions.url === '/v1/ws' && isUpgrade(request)) {
      request.identity = pending;
      return;
    }
    const auth = authenticator.authenticateHeader(header);
    if (!auth.ok) {
      metrics.authFailuresTotal.inc({ reason: auth.reason });
      reply.header('www-authenticate', 'Bearer realm="lockring"');
      return sendError(reply, authFailure(auth.reason));
    }
    const tokenRefusal = rates.token(auth.principal.name);
    if (tokenRefusal !== null) return refuseRate(reply, tokenRefusal);
    request.identity = { kind: 'token', digest: auth.digest, principal: auth.principal };
    return undefined;
  }
}

/** The caller of a guarded route. Defensive: a request the hook did not see is refused. */
export function callerOf(request: FastifyRequest): Caller {
  const identity = request.identity;
  if (identity?.kind === 'open') return null;
  if (identity?.kind === 'token') return identity.principal;
  throw authFailure('missing');
}

function refuseRate(reply: FastifyReply, error: LockringError): FastifyReply {
  const waitMs = Number(error.details['retryAfterMs'] ?? 1000);
  reply.header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))));
  return sendError(reply, error);
}

function isUpgrade(request: FastifyRequest): boolean {
  return /^websocket$/i.test(request.headers.upgrade ?? '');
}
