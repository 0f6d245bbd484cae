import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../ops/metrics.js';

export interface Health {
  /** True once recovery has finished and the server is serving. */
  ready: boolean;
  /** Restart counter of the data directory; 0 when running in memory. */
  epoch: number;
  readonly startedAtMs: number;
}

/** `/healthz`, `/readyz`, `/metrics`: open even when auth is configured. */
export function opsRoutes(app: FastifyInstance, health: Health, metrics: Metrics): void {
  app.get('/healthz', async () => ({ status: 'ok', epoch: health.epoch, uptimeMs: Date.now() - health.startedAtMs }));

  app.get('/readyz', async (_request, reply) => {
    if (!health.ready) {
      return reply.code(503).send({ error: { code: 'not_ready', message: 'recovering state from the data directory' } });
    }
    return { status: 'ready', epoch: health.epoch };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
