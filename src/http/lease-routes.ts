import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { callerOf } from '../auth/http-auth.js';
import { type RouteContext, emptyBodyAsObject } from './context.js';

type IdParams = { id: string };

/** `/v1/leases`: grant, inspect, keepalive, revoke. */
export function leaseRoutes(app: FastifyInstance, { service, schemas }: RouteContext): void {
  app.post<{ Body: Static<typeof schemas.leaseGrant> }>(
    '/v1/leases',
    { schema: { body: schemas.leaseGrant } },
    async (request, reply) => {
      const lease = await service.grantLease(request.body.ttlMs, callerOf(request));
      return reply.code(201).send(lease);
    },
  );

  app.get<{ Params: IdParams }>('/v1/leases/:id', async (request) => service.inspectLease(request.params.id, callerOf(request)));

  app.post<{ Params: IdParams; Body: Static<typeof schemas.leaseKeepalive> }>(
    '/v1/leases/:id/keepalive',
    { preValidation: emptyBodyAsObject, schema: { body: schemas.leaseKeepalive } },
    async (request) => service.keepalive(request.params.id, request.body.ttlMs, callerOf(request)),
  );

  app.delete<{ Params: IdParams }>('/v1/leases/:id', async (request) => service.revokeLease(request.params.id, callerOf(request)));
}
