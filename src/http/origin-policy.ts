import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Config, isLoopbackHost } from '../config.js';
import { forbidden } from '../domain/errors.js';
import { sendError } from './error-handler.js';

/**
 * Browser safety. A web page on any origin can make a browser send requests to a
 * server on loopback, and a DNS-rebinding page can even read the answers under its
 * own name. So every request, WebSocket upgrades included, passes two checks before
 * anything else runs:
 * - Host: the name the client used must be one this server answers to.
 * - Origin: a browser request from a page of another origin is refused unless that
 *   origin is configured; configured origins get CORS headers (and preflights).
 * A request without Origin is not from a browser page (or is same-origin) and passes.
 */
export type OriginVerdict = 'none' | 'same' | 'allowed' | 'refused';

const loopbackNames: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];
const allowedMethods = 'GET, POST, PUT, DELETE';
const allowedHeaders = 'authorization, content-type';
const exposedHeaders = 'retry-after, www-authenticate, location';
const preflightMaxAgeS = '600';

export class OriginPolicy {
  /** null: any Host. */
  private readonly hosts: ReadonlySet<string> | null;
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;

  constructor(config: Pick<Config, 'host' | 'authFile' | 'allowedOrigins' | 'allowedHosts'>) {
    this.hosts = hostsFor(config);
    this.origins = new Set(config.allowedOrigins);
    this.anyOrigin = this.origins.has('*');
  }

  /** Whether the Host header (name and optional port) names this server. */
  hostAllowed(host: string | undefined): boolean {
    if (this.hosts === null) return true;
    if (host === undefined) return false;
    const name = hostName(host);
    return this.hosts.has(name) || (name.startsWith('127.') && this.hosts.has('127.0.0.1') && isLoopbackHost(name));
  }

  /** Same-origin means the page came from this very host and scheme. */
  origin(origin: string | undefined, host: string | undefined, scheme: string): OriginVerdict {
    if (origin === undefined) return 'none';
    const lower = origin.toLowerCase();
    if (host !== undefined && lower === `${scheme}://${host.toLowerCase()}`) return 'same';
    return this.anyOrigin || this.origins.has(lower) ? 'allowed' : 'refused';
  }
}

function hostsFor(config: Pick<Config, 'host' | 'authFile' | 'allowedHosts'>): ReadonlySet<string> | null {
  const listed = config.allowedHosts;
  if (listed !== null) return listed.includes('*') ? null : new Set(listed.map((name) => name.toLowerCase()));
  if (config.authFile !== null || !isLoopbackHost(config.host)) return null;
  const bound = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  return new Set([...loopbackNames, bound.toLowerCase()]);
}

/** `name:port` or `[v6]:port` to the name (brackets kept for IPv6). */
function hostName(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end < 0 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.indexOf(':');
  return colon < 0 ? lower : lower.slice(0, colon);
}

/** Registers the checks as the first onRequest hook, and answers CORS preflights. */
export function installOriginPolicy(app: FastifyInstance, config: Config): OriginPolicy {
  const policy = new OriginPolicy(config);
  const scheme = config.tlsCert === null ? 'http' : 'https';
  // Callback-style: it runs on every request, and an async hook costs a promise.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if (guard(policy, scheme, request, reply) === undefined) done();
  });
  return policy;
}

function guard(policy: OriginPolicy, scheme: string, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  const { host, origin } = request.headers;
  if (!policy.hostAllowed(host)) {
    return sendError(reply, forbidden(`host ${JSON.stringify(host ?? '')} is not one this server answers to (allowedHosts)`, { header: 'host' }));
  }
  const verdict = policy.origin(origin, host, scheme);
  if (verdict === 'refused') {
    return sendError(reply, forbidden(`origin ${JSON.stringify(origin)} is not allowed (allowedOrigins)`, { header: 'origin' }));
  }
  if (verdict !== 'allowed') return undefined;
  reply.header('access-control-allow-origin', origin).header('vary', 'origin').header('access-control-expose-headers', exposedHeaders);
  if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
    return reply
      .code(204)
      .header('access-control-allow-methods', allowedMethods)
      .header('access-control-allow-headers', allowedHeaders)
      .header('access-control-max-age', preflightMaxAgeS)
      .send();
  }
  return undefined;
}
