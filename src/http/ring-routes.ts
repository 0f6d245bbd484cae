import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { callerOf } from '../auth/http-auth.js';
import { LockringError } from '../domain/errors.js';
import { circleMax } from '../domain/ring-diff.js';
import { diffRequest, handoverLookupOne, ringDiff } from '../ring-reads.js';
import { type RouteContext, emptyBodyAsObject } from './context.js';
import { lookupManyJson } from './lookup-json.js';
import { routeSchemas, schemaOf } from './route-schema.js';
import type { LookupBatchBody, NodePutBody } from './schemas.js';
import { checkQuery, keyField, nameParam, queryInt } from '../protocol/validation.js';

type RingParams = { ring: string };
type NodeParams = { ring: string; node: string };

/** `/v1/rings`: configure rings, manage members, look keys up. */
export function ringRoutes(app: FastifyInstance, { service, schemas, limits }: RouteContext): void {
  const routes = routeSchemas(limits, schemas);
  const ringName = (params: RingParams): string => nameParam('ring', params.ring, limits);

  app.put<{ Params: RingParams; Body: Static<typeof schemas.ringPut> }>(
    '/v1/rings/:ring',
    { preValidation: emptyBodyAsObject, schema: schemaOf(routes, 'putRing') },
    async (request, reply) => {
      const { vnodes, algorithm } = request.body;
      const { status, body } = await service.putRing(ringName(request.params), vnodes, callerOf(request), algorithm);
      return reply.code(status === 'created' ? 201 : 200).send(body);
    },
  );

  app.get('/v1/rings', { schema: schemaOf(routes, 'listRings') }, async (request) => {
    checkQuery(request.query, []);
    return service.listRings(callerOf(request));
  });

  app.get<{ Params: RingParams }>('/v1/rings/:ring', { schema: schemaOf(routes, 'getRing') }, async (request) => service.getRing(ringName(request.params), callerOf(request)));

  app.delete<{ Params: RingParams }>('/v1/rings/:ring', { schema: schemaOf(routes, 'deleteRing') }, async (request) => service.deleteRing(ringName(request.params), callerOf(request)));

  app.put<{ Params: NodeParams; Body: NodePutBody }>(
    '/v1/rings/:ring/nodes/:node',
    { preValidation: emptyBodyAsObject, schema: schemaOf(routes, 'putNode') },
    async (request, reply) => {
      const node = nameParam('node', request.params.node, limits);
      const { status, body } = await service.putNode(ringName(request.params), node, request.body, callerOf(request));
      return reply.code(status === 'created' ? 201 : 200).send(body);
    },
  );

  app.delete<{ Params: NodeParams }>('/v1/rings/:ring/nodes/:node', { schema: schemaOf(routes, 'deleteNode') }, async (request) =>
    service.deleteNode(ringName(request.params), nameParam('node', request.params.node, limits), callerOf(request)),
  );

  app.get<{ Params: RingParams }>('/v1/rings/:ring/lookup', { schema: schemaOf(routes, 'lookupKey') }, async (request) => {
    const ring = ringName(request.params);
    const query = checkQuery(request.query, ['key', 'n', 'version', 'previous']);
    const key = query['key'];
    if (key === undefined) throw new LockringError('invalid_request', 'key is required', { field: 'key' });
    keyField('key', key, limits);
    const n = queryInt(query, 'n', 1, limits.replicasMax, 1);
    const version = queryInt(query, 'version', 1, Number.MAX_SAFE_INTEGER);
    const previous = queryInt(query, 'previous', 1, Number.MAX_SAFE_INTEGER);
    return handoverLookupOne(service, ring, key, n, version, previous, callerOf(request));
  });

  app.get<{ Params: RingParams }>('/v1/rings/:ring/diff', { schema: schemaOf(routes, 'ringDiff') }, async (request) => {
    const ring = ringName(request.params);
    const query = checkQuery(request.query, ['from', 'to', 'n', 'start', 'limit']);
    for (const field of ['from', 'to']) {
      if (query[field] === undefined) throw new LockringError('invalid_request', `${field} is required`, { field });
    }
    const args = {
      from: queryInt(query, 'from', 1, Number.MAX_SAFE_INTEGER)!,
      to: queryInt(query, 'to', 1, Number.MAX_SAFE_INTEGER)!,
      n: queryInt(query, 'n', 1, limits.replicasMax),
      start: queryInt(query, 'start', 0, circleMax),
      limit: queryInt(query, 'limit', 1, limits.ringDiffRangesPageMax),
    };
    return ringDiff(service, ring, diffRequest(limits, args), callerOf(request));
  });

  app.post<{ Params: RingParams; Body: LookupBatchBody }>(
    '/v1/rings/:ring/lookup',
    { bodyLimit: limits.lookupBodyBytesMax, schema: schemaOf(routes, 'lookupKeys') },
    async (request, reply) => {
      const ring = ringName(request.params);
      const { keys, n, version, previous } = request.body;
      if (keys.length > limits.batchKeysMax) {
        throw new LockringError('payload_too_large', `keys must hold at most ${limits.batchKeysMax} keys`, {
          field: 'keys',
          limit: 'batchKeysMax',
          max: limits.batchKeysMax,
        });
      }
      for (let i = 0; i < keys.length; i++) keyField(`keys.${i}`, keys[i]!, limits);
      const owners = await service.lookupOwners(ring, keys, n ?? 1, version, callerOf(request), previous);
      // Up to 10,000 arrays of ids: written directly, the bytes the serializer would write.
      return reply.header('content-type', 'application/json; charset=utf-8').send(lookupManyJson(owners));
    },
  );
}
