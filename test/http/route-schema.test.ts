import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { routeSchemas, schemaOf } from '../../src/http/route-schema.js';
import { defaultLimits } from '../../src/limits.js';
import { makeSchemas } from '../../src/protocol/request-bodies.js';

const schemas = routeSchemas(defaultLimits, makeSchemas(defaultLimits));

describe('route schemas', () => {
  it('the compiled serializer never drops a field the contract may add', async () => {
    const app = Fastify();
    const view = { name: 'a', limit: 1, holders: [{ token: 1, owner: '', mode: 'write', leaseId: 'L', acquiredAt: 1, expiresAt: null, priority: 0, since: 'x' }], waiters: 0, extra: { deep: [1] } };
    app.get('/lock', { schema: schemaOf(schemas, 'getLock') }, async () => view);
    app.get('/held', { schema: schemaOf(schemas, 'getLock') }, async (_request, reply) =>
      reply.code(409).send({ error: { code: 'lock_held', message: 'held', holders: [{ token: 1 }], retryAfterMs: 5 } }));
    assert.deepEqual((await app.inject({ method: 'GET', url: '/lock' })).json(), view);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/held' })).json().error, { code: 'lock_held', message: 'held', holders: [{ token: 1 }], retryAfterMs: 5 });
    await app.close();
  });

  it('gives each operation a body schema only where the route takes a body, and 201 only where it creates', () => {
    assert.equal(schemaOf(schemas, 'getLock').body, undefined);
    assert.ok(schemaOf(schemas, 'acquireLock').body);
    assert.deepEqual(Object.keys(schemaOf(schemas, 'grantLease').response as object).sort(), ['201', '4xx', '5xx']);
    assert.deepEqual(Object.keys(schemaOf(schemas, 'putNode').response as object).sort(), ['200', '201', '4xx', '5xx']);
  });

  it('a misspelt operation is a startup error, not a route without schema', () => {
    assert.throws(() => schemaOf(schemas, 'acquireLocks'), /no route acquireLocks/);
  });
});
