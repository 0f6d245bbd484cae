import type { FastifyInstance } from 'fastify';
import { LockringError } from '../domain/errors.js';
import type { Metrics } from '../ops/metrics.js';

export interface Health {
  /** True once recovery has finished and the server is serving. */
  ready: boolean;
  /** Restart counter of the data directory; 0 when running in memory. */
  epoch: number;
  readonly startedAtMs: number;
  /** Replicated mode, on a standby: the active's URL (null while none is known). */
  active?: string | null;
  /** Replicated mode, on the active: stops the process if its term may be over (called before each request). */
  guard?: () => void;
}

/** The answer of a replica that is not serving: a standby names the active. */
export function notReadyError(health: Health, path: string): { error: LockringError; location: string | null } {
  if (health.active === undefined) return { error: new LockringError('not_ready', 'recovering state from the data directory'), location: null };
  const active = health.active;
  const message = active === null ? 'this replica is a standby and no active is known yet: retry shortly' : `this replica is a standby; the active is ${active}`;
  return { error: new LockringError('not_ready', message, { active }), location: active === null ? null : `${active}${path}` };
}

/** `/healthz`, `/readyz`, `/metrics`: open even when auth is configured. */
export function opsRoutes(app: FastifyInstance, health: Health, metrics: Metrics): void {
  app.get('/healthz', async () => ({ status: 'ok', epoch: health.epoch, uptimeMs: Date.now() - health.startedAtMs }));

  app.get('/readyz', async (_request, reply) => {
    if (!health.ready) {
      const { error, location } = notReadyError(health, '/readyz');
      if (location !== null) void reply.header('location', location);
      return reply.code(503).send({ error: error.toBody() });
    }
    return { status: 'ready', epoch: health.epoch };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
