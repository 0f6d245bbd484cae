import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { callerOf } from '../auth/http-auth.js';
import { type RouteContext, emptyBodyAsObject } from './context.js';
import { routeSchemas, schemaOf } from './route-schema.js';

type IdParams = { id: string };

/** `/v1/leases`: grant, inspect, keepalive, revoke. */
export function leaseRoutes(app: FastifyInstance, { service, schemas, limits }: RouteContext): void {
  const routes = routeSchemas(limits, schemas);
  app.post<{ Body: Static<typeof schemas.leaseGrant> }>(
    '/v1/leases',
    { schema: schemaOf(routes, 'grantLease') },
    async (request, reply) => {
      const lease = await service.grantLease(request.body.ttlMs, callerOf(request));
      return reply.code(201).send(lease);
    },
  );

  app.get<{ Params: IdParams }>('/v1/leases/:id', { schema: schemaOf(routes, 'getLease') }, async (request) => service.inspectLease(request.params.id, callerOf(request)));

  app.post<{ Params: IdParams; Body: Static<typeof schemas.leaseKeepalive> }>(
    '/v1/leases/:id/keepalive',
    { preValidation: emptyBodyAsObject, schema: schemaOf(routes, 'keepaliveLease') },
    async (request) => service.keepalive(request.params.id, request.body.ttlMs, callerOf(request)),
  );

  app.delete<{ Params: IdParams }>('/v1/leases/:id', { schema: schemaOf(routes, 'revokeLease') }, async (request) => service.revokeLease(request.params.id, callerOf(request)));
}
