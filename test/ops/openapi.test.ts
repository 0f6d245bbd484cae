import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { type Lockring, buildServer } from '../../src/server.js';

/** Every HTTP route of API.md, in OpenAPI path syntax. */
const contractRoutes = [
  ['post', '/v1/leases'], ['get', '/v1/leases/{id}'], ['post', '/v1/leases/{id}/keepalive'], ['delete', '/v1/leases/{id}'],
  ['post', '/v1/locks/{name}/acquire'], ['post', '/v1/locks/{name}/release'], ['post', '/v1/locks/{name}/check'],
  ['get', '/v1/locks/{name}'], ['get', '/v1/locks'],
  ['put', '/v1/rings/{ring}'], ['get', '/v1/rings'], ['get', '/v1/rings/{ring}'], ['delete', '/v1/rings/{ring}'],
  ['put', '/v1/rings/{ring}/nodes/{node}'], ['delete', '/v1/rings/{ring}/nodes/{node}'],
  ['get', '/v1/rings/{ring}/lookup'], ['post', '/v1/rings/{ring}/lookup'],
  ['get', '/healthz'], ['get', '/readyz'], ['get', '/metrics'],
] as const;

let lockring: Lockring;
before(async () => {
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
  await lockring.start();
});
after(async () => lockring.close());

describe('GET /docs', () => {
  it('serves an OpenAPI document listing every route, with the bodies the routes validate', async () => {
    for (const url of ['/docs', '/docs/json']) {
      const response = await lockring.app.inject({ method: 'GET', url });
      assert.equal(response.statusCode, 200, url);
      const doc = response.json();
      assert.match(doc.openapi, /^3\./);
      assert.equal(doc.info.title, 'lockring');
      for (const [method, path] of contractRoutes) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} missing from ${url}`);
      assert.equal(doc.paths['/docs'], undefined, 'the document does not list itself');
      const acquire = doc.paths['/v1/locks/{name}/acquire'].post;
      const schema = acquire.requestBody.content['application/json'].schema;
      assert.equal(schema.additionalProperties, false);
      assert.deepEqual(schema.properties.waitMs, { type: 'integer', minimum: 0, maximum: 300_000 });
      assert.ok(acquire.parameters.some((p: { in: string; name: string }) => p.in === 'path' && p.name === 'name'));
    }
  });

  it('is open while /v1 is not ready yet', async () => {
    const fresh = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
    assert.equal((await fresh.app.inject({ method: 'GET', url: '/v1/rings' })).statusCode, 503);
    assert.equal((await fresh.app.inject({ method: 'GET', url: '/docs' })).statusCode, 200);
    await fresh.close();
  });
});
