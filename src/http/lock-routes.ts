import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import { callerOf } from '../auth/http-auth.js';
import type { Grant, MultiGrant } from '../domain/model.js';
import type { RouteContext } from './context.js';
import { routeSchemas, schemaOf } from './route-schema.js';
import type { AcquireBody, MultiAcquireBody, MultiReleaseBody } from './schemas.js';
import { checkQuery, nameParam, ownerField, queryInt } from '../protocol/validation.js';

type NameParams = { name: string };

/**
 * The signal fires when the client hangs up before its answer: a waiter whose HTTP
 * connection closed leaves the queue at once. It is the response's 'close' that
 * tells; the request's fires as soon as the body has been read.
 */
function hangupSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** `/v1/locks`: acquire (try or wait), release, check, inspect, list. */
export function lockRoutes(app: FastifyInstance, { service, schemas, limits }: RouteContext): void {
  const routes = routeSchemas(limits, schemas);
  app.post<{ Params: NameParams; Body: AcquireBody }>(
    '/v1/locks/:name/acquire',
    { schema: schemaOf(routes, 'acquireLock') },
    async (request, reply): Promise<Grant> => {
      const body = request.body;
      const name = nameParam('name', request.params.name, limits);
      const owner = ownerField(body.owner, limits);
      const signal = (body.waitMs ?? 0) > 0 ? hangupSignal(reply) : undefined;
      return service.acquire({ ...body, name, owner }, signal, callerOf(request));
    },
  );

  app.post<{ Body: MultiAcquireBody }>(
    '/v1/multi-locks/acquire',
    { schema: schemaOf(routes, 'acquireMultiLock') },
    async (request, reply): Promise<MultiGrant> => {
      const body = request.body;
      const owner = ownerField(body.owner, limits);
      const signal = (body.waitMs ?? 0) > 0 ? hangupSignal(reply) : undefined;
      return service.acquireAll({ ...body, owner }, signal, callerOf(request));
    },
  );

  app.post<{ Body: MultiReleaseBody }>(
    '/v1/multi-locks/release',
    { schema: schemaOf(routes, 'releaseMultiLock') },
    async (request) => service.releaseAll(request.body.holds, callerOf(request)),
  );

  app.post<{ Params: NameParams; Body: Static<typeof schemas.tokenBody> }>(
    '/v1/locks/:name/release',
    { schema: schemaOf(routes, 'releaseLock') },
    async (request) => service.release(nameParam('name', request.params.name, limits), request.body.token, callerOf(request)),
  );

  app.post<{ Params: NameParams; Body: Static<typeof schemas.checkBody> }>(
    '/v1/locks/:name/check',
    { schema: schemaOf(routes, 'checkLock') },
    async (request) =>
      service.check(nameParam('name', request.params.name, limits), request.body.token, callerOf(request), request.body.mode),
  );

  app.get<{ Params: NameParams }>('/v1/locks/:name', { schema: schemaOf(routes, 'getLock') }, async (request) =>
    service.inspectLock(nameParam('name', request.params.name, limits), callerOf(request)),
  );

  app.get<{ Params: NameParams }>('/v1/locks/:name/waiters', { schema: schemaOf(routes, 'getLockWaiters') }, async (request) => {
    const query = checkQuery(request.query, ['limit', 'after']);
    const pageMax = queryInt(query, 'limit', 1, limits.listPageMax, 100);
    const after = queryInt(query, 'after', 0, limits.waitersPerLockMax, 0);
    return service.lockWaiters(nameParam('name', request.params.name, limits), after, pageMax, callerOf(request));
  });

  app.get('/v1/locks', { schema: schemaOf(routes, 'listLocks') }, async (request) => {
    const query = checkQuery(request.query, ['prefix', 'limit', 'after']);
    const pageMax = queryInt(query, 'limit', 1, limits.listPageMax, 100);
    const prefix = query['prefix'] ?? '';
    if (prefix !== '') nameParam('prefix', prefix, limits);
    // An empty cursor means "from the start": every name is after ''.
    const after = query['after'] === '' ? undefined : query['after'];
    if (after !== undefined) nameParam('after', after, limits);
    return service.listLocks(prefix, after, pageMax, callerOf(request));
  });
}
