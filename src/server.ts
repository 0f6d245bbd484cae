import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { type Authenticator, openAuthenticator, reloadAuthFile } from './auth/authenticator.js';
import { installAuth } from './auth/http-auth.js';
import { RequestRates } from './auth/request-rates.js';
import type { Config } from './config.js';
import { type Clock, systemClock } from './domain/clock.js';
import { LockringError } from './domain/errors.js';
import type { Hashing } from './domain/hashing.js';
import { StateMachine } from './domain/state-machine.js';
import { installErrorHandling, routingError, sendError } from './http/error-handler.js';
import { installJsonBody } from './http/json-body.js';
import { leaseRoutes } from './http/lease-routes.js';
import { lockRoutes } from './http/lock-routes.js';
import { type Health, notReadyError, opsRoutes } from './http/ops-routes.js';
import { ringRoutes } from './http/ring-routes.js';
import { makeSchemas } from './http/schemas.js';
import { installOriginPolicy } from './http/origin-policy.js';
import { parseQuery } from './protocol/validation.js';
import { logDomainEvents } from './ops/event-log.js';
import { ExpiryLoop } from './ops/expiry-loop.js';
import { createLogger } from './ops/logger.js';
import { Metrics } from './ops/metrics.js';
import { capConnections, networkOptions } from './ops/network.js';
import { registerOpenApi } from './ops/openapi.js';
import { requestLogger } from './ops/request-logger.js';
import { answerWaiters } from './ops/shutdown.js';
import { LockringService } from './service.js';
import { type Durability, memoryOnly } from './store/durability.js';
import { type IntervalTimers } from './sse/interval-timers.js';
import { registerEventStream } from './sse/sse-route.js';
import { registerConsole } from './ui/console-routes.js';
import { registerWebSocket } from './ws/plugin.js';
import { loadHashing } from './xxhash.js';

export interface ServerDeps {
  readonly clock?: Clock;
  readonly hashing?: Hashing;
  readonly logger?: Logger;
  readonly newLeaseId?: (slot: number) => string;
  /** Opens durable storage and recovers into the machine; memory only when absent. */
  readonly openDurability?: (machine: StateMachine, logger: Logger, metrics: Metrics, health: Health) => Promise<Durability & { epoch: number }>;
  /** Heartbeat timers of event streams (tests drive them by hand). */
  readonly timers?: IntervalTimers;
}

export interface Lockring {
  readonly app: FastifyInstance;
  readonly machine: StateMachine;
  readonly service: LockringService;
  readonly metrics: Metrics;
  readonly health: Health;
  readonly config: Config;
  /** The bearer tokens (null without an auth file). */
  readonly auth: Authenticator | null;
  /** SIGHUP: re-reads the auth file; a bad file keeps the old tokens. False when nothing changed. */
  reloadAuth(): boolean;
  /** Recovers state (when durable) and starts serving `/v1`. */
  start(): Promise<void>;
  /**
   * Graceful stop: refuses new requests (503 not_ready), answers queued acquires
   * (503 not_ready), lets in-flight requests finish, closes the server and flushes
   * the log. Transports that hold connections open (WebSocket) register a fastify
   * `preClose` hook to close them (code 1001), so the drain stays bounded.
   */
  close(): Promise<void>;
}

/** Wires lockring together; never listens, so tests can `inject()`. */
export async function buildServer(config: Config, deps: ServerDeps = {}): Promise<Lockring> {
  const logger = deps.logger ?? createLogger(config.logLevel);
  const auth = openAuthenticator(config);
  const machine = new StateMachine({
    clock: deps.clock ?? systemClock,
    limits: config.limits,
    hashing: deps.hashing ?? (await loadHashing()),
    newLeaseId: deps.newLeaseId ?? leaseIdSource(),
  });
  const metrics = new Metrics(machine);
  const expiry = new ExpiryLoop(machine);
  const service = new LockringService(machine, memoryOnly, metrics, expiry);
  const health: Health = { ready: false, epoch: 0, startedAtMs: Date.now() };
  const app = createApp(config, logger, metrics);
  capConnections(app.server, config.limits, metrics);
  const rates = new RequestRates(config.limits, metrics);
  installErrorHandling(app);
  installJsonBody(app);
  // First of all hooks: a foreign page's request is refused before anything runs.
  installOriginPolicy(app, config);
  logDomainEvents(machine, logger);
  let closing = false;
  // Hooks on every request are callback-style: an async hook costs a promise and a
  // microtask hop per request on the hot path.
  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      sendError(reply, new LockringError('not_ready', 'server is shutting down'));
      return;
    }
    if (!request.url.startsWith('/v1')) {
      done();
      return;
    }
    if (!health.ready) {
      const { error, location } = notReadyError(health, request.url);
      if (location !== null) void reply.header('location', location);
      sendError(reply, error);
      return;
    }
    health.guard?.();
    done();
  });
  installAuth(app, { authenticator: auth, rates, metrics });
  app.addHook('preClose', async () => {
    closing = true;
    health.ready = false;
    const answered = answerWaiters(machine);
    if (answered > 0) logger.info({ waiters: answered }, 'answered queued acquires: shutting down');
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeHttp(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
    // 503 is not_ready, an answer by design (a standby, recovery, shutdown), not a failure:
    // a load balancer polling a standby's /readyz must not fill its log with errors.
    if (reply.statusCode >= 500 && reply.statusCode !== 503) request.log.error({ route, status: reply.statusCode }, 'request failed');
    else if (logger.isLevelEnabled('debug')) {
      const principal = request.identity?.kind === 'token' ? request.identity.principal.name : undefined;
      request.log.debug({ route, status: reply.statusCode, ms: reply.elapsedTime, principal }, 'request');
    }
    done();
  });
  const context = { service, limits: config.limits, schemas: makeSchemas(config.limits) };
  await registerOpenApi(app, config.limits);
  opsRoutes(app, health, metrics);
  leaseRoutes(app, context);
  lockRoutes(app, context);
  ringRoutes(app, context);
  registerWebSocket(app, { service, metrics, limits: config.limits, authenticator: auth, rates, guard: () => health.guard?.() });
  const streamDeps = { machine, pipeline: service.pipeline, metrics, limits: config.limits, authenticator: auth, heartbeatMs: config.sseHeartbeatMs };
  registerEventStream(app, deps.timers === undefined ? streamDeps : { ...streamDeps, timers: deps.timers });
  registerConsole(app, context);

  let durability: Durability = memoryOnly;
  return {
    app, machine, service, metrics, health, config, auth,
    reloadAuth: () => reloadAuthFile(auth, logger),
    async start() {
      if (deps.openDurability !== undefined) {
        const opened = await deps.openDurability(machine, logger, metrics, health);
        durability = opened;
        service.durability = opened;
        metrics.walBacklogSource = () => opened.backlogBytes();
        health.epoch = opened.epoch;
        metrics.epoch.set(opened.epoch);
      }
      expiry.poke();
      health.ready = true;
    },
    async close() {
      expiry.stop();
      await app.close();
      await durability.close();
    },
  };
}

function createApp(config: Config, logger: Logger, metrics: Metrics): FastifyInstance {
  return Fastify({
    ...networkOptions(config, metrics),
    loggerInstance: logger,
    // One line per request at most, written by our onResponse hook at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: requestLogger,
    bodyLimit: config.limits.bodyBytesMax,
    routerOptions: { maxParamLength: 4 * 1024, querystringParser: parseQuery },
    // Our onRequest hook answers in the contract's error shape instead.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, verbose: true } },
    frameworkErrors: (error, request, reply) => {
      request.log.debug({ err: error }, 'framework error');
      return sendError(reply, routingError(error));
    },
  }) as unknown as FastifyInstance;
}

/**
 * Lease ids as 32 hex characters: the lease's slot in the lease table (32 bits, see
 * src/domain/lease-table.ts), then 96 random bits. Lease ids are bearer-like
 * capabilities, so they are unguessable; the random bytes are cut from a pooled buffer
 * to keep the CSPRNG off the hot path, and one `toString('hex')` of the 16 bytes gives a
 * flat string (a concatenation, or Node 20's `randomUUID()`, gives a rope that costs
 * hundreds of bytes more per lease).
 */
export function leaseIdSource(): (slot: number) => string {
  const randomBytesPerId = 12;
  const pool = Buffer.alloc(randomBytesPerId * 256);
  let offset = pool.length;
  const id = Buffer.alloc(4 + randomBytesPerId);
  return (slot) => {
    if (offset === pool.length) {
      randomBytes(pool.length).copy(pool);
      offset = 0;
    }
    id.writeUInt32BE(slot, 0);
    pool.copy(id, 4, offset, offset + randomBytesPerId);
    offset += randomBytesPerId;
    return id.toString('hex');
  };
}
