import type { FastifySchema } from 'fastify';
import type { Limits } from '../limits.js';
import { type RouteSpec, httpRoutes } from '../protocol/http-routes.js';
import type { Schemas } from '../protocol/request-bodies.js';
import { responses } from '../protocol/response-bodies.js';

/**
 * Fastify route schemas from the protocol's route table: the body to validate and
 * the response serializers, one per success status plus the error shape for every
 * 4xx and 5xx. Paths and query strings are checked by the routes themselves (in
 * bytes, without coercion), so only the document shows them.
 */
export type RouteSchemas = ReadonlyMap<string, FastifySchema>;

function routeSchema(route: RouteSpec, bodies: Schemas): FastifySchema {
  const response: Record<string, unknown> = { '4xx': responses.error, '5xx': responses.error };
  if (route.response !== 'metricsText') {
    const schema = responses[route.response];
    if (route.createdOr200 || !route.created) response['200'] = schema;
    if (route.createdOr200 || route.created) response['201'] = schema;
  }
  return route.body === undefined ? { response } : { body: bodies[route.body], response };
}

export function routeSchemas(limits: Limits, bodies: Schemas): RouteSchemas {
  return new Map(httpRoutes(limits).map((route) => [route.operationId, routeSchema(route, bodies)]));
}

/** The schema of one operation; a typo is a startup failure, not a silently unchecked route. */
export function schemaOf(schemas: RouteSchemas, operationId: string): FastifySchema {
  const schema = schemas.get(operationId);
  if (schema === undefined) throw new Error(`no route ${operationId} in the protocol's route table`);
  return schema;
}
