import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { tokens, writeAuthFile } from '../auth/helpers.js';
import { errorStatus } from '../../src/protocol/error-catalogue.js';
import { type Lockring, buildServer } from '../../src/server.js';

/** Every HTTP route of the contract, in OpenAPI path syntax. */
const contractRoutes = [
  ['post', '/v1/leases'], ['get', '/v1/leases/{id}'], ['post', '/v1/leases/{id}/keepalive'], ['delete', '/v1/leases/{id}'],
  ['post', '/v1/locks/{name}/acquire'], ['post', '/v1/locks/{name}/release'], ['post', '/v1/locks/{name}/check'],
  ['get', '/v1/locks/{name}'], ['get', '/v1/locks/{name}/waiters'], ['get', '/v1/locks'],
  ['post', '/v1/multi-locks/acquire'], ['post', '/v1/multi-locks/release'],
  ['put', '/v1/rings/{ring}'], ['get', '/v1/rings'], ['get', '/v1/rings/{ring}'], ['delete', '/v1/rings/{ring}'],
  ['put', '/v1/rings/{ring}/nodes/{node}'], ['delete', '/v1/rings/{ring}/nodes/{node}'],
  ['get', '/v1/rings/{ring}/lookup'], ['post', '/v1/rings/{ring}/lookup'], ['get', '/v1/rings/{ring}/diff'],
  ['get', '/healthz'], ['get', '/readyz'], ['get', '/metrics'],
] as const;

type Operation = {
  summary?: string;
  parameters?: { in: string; name: string; required: boolean }[];
  requestBody?: { content: Record<string, { schema: Record<string, any> }> };
  responses: Record<string, { content?: Record<string, { examples?: Record<string, { value: { error: { code: string } } }> }> }>;
  security?: unknown[];
};

let lockring: Lockring;
let doc: any;
const op = (method: string, path: string): Operation => doc.paths[path][method];

before(async () => {
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, limits: { waitMsMax: 120_000 } }));
  await lockring.start();
  doc = (await lockring.app.inject({ method: 'GET', url: '/docs/json' })).json();
});
after(async () => lockring.close());

describe('the OpenAPI document at /docs/json', () => {
  it('is OpenAPI 3.1 and lists exactly the contract routes, each with a summary and a tag', () => {
    assert.equal(doc.openapi, '3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).map((m) => `${m} ${path}`)).sort();
    assert.deepEqual(listed, contractRoutes.map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path] of contractRoutes) {
      assert.ok(op(method, path).summary, `${method} ${path} has a summary`);
    }
  });

  it('shows the configured bounds, not the defaults: the document is the validation', () => {
    const schema = op('post', '/v1/locks/{name}/acquire').requestBody!.content['application/json']!.schema;
    assert.equal(schema['additionalProperties'], false);
    assert.equal(schema['properties'].waitMs.maximum, 120_000);
    assert.equal(schema['properties'].waitMs.type, 'integer');
  });

  it('answers 201 where the contract creates, 200 and 201 for the PUTs', () => {
    assert.deepEqual(Object.keys(op('post', '/v1/leases').responses).filter((s) => s.startsWith('2')), ['201']);
    for (const path of ['/v1/rings/{ring}', '/v1/rings/{ring}/nodes/{node}']) {
      assert.deepEqual(Object.keys(op('put', path).responses).filter((s) => s.startsWith('2')).sort(), ['200', '201']);
    }
  });

  it('gives each error code its own example under the status the catalogue names', () => {
    const acquire = op('post', '/v1/locks/{name}/acquire').responses;
    const conflicts = Object.keys(acquire['409']!.content!['application/json']!.examples!).sort();
    assert.deepEqual(conflicts, ['limit_mismatch', 'lock_held', 'mode_mismatch']);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(ops as Record<string, Operation>)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const [code, example] of Object.entries(response.content?.['application/json']?.examples ?? {})) {
            assert.equal(String(errorStatus[code as keyof typeof errorStatus]), status, `${method} ${path}: ${code} under ${status}`);
            assert.equal(example.value.error.code, code);
          }
        }
      }
    }
  });

  it('documents the query parameters of the list and the lookup', () => {
    const names = (method: string, path: string): string[] => op(method, path).parameters!.filter((p) => p.in === 'query').map((p) => p.name);
    assert.deepEqual(names('get', '/v1/locks'), ['prefix', 'limit', 'after']);
    assert.deepEqual(names('get', '/v1/rings/{ring}/lookup'), ['key', 'n', 'version', 'previous']);
    assert.equal(op('get', '/v1/rings/{ring}/lookup').parameters!.find((p) => p.name === 'key')!.required, true);
  });

  it('declares bearer auth, optional on /v1 and absent on the operations routes', () => {
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { ...doc.components.securitySchemes.bearerAuth, type: 'http', scheme: 'bearer' });
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, {}]);
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.deepEqual(op('get', path).security, []);
  });
});

describe('the explorer at /docs', () => {
  it('is an HTML page whose assets come from this server only', async () => {
    const page = await lockring.app.inject({ method: 'GET', url: '/docs', headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(sources.length > 0);
    for (const source of sources) assert.doesNotMatch(source, /^(https?:)?\/\//, `${source} is not local`);
    const script = sources.find((s) => s.endsWith('swagger-ui-bundle.js'))!;
    const asset = await lockring.app.inject({ method: 'GET', url: new URL(script, 'http://x/docs/').pathname });
    assert.equal(asset.statusCode, 200);
    assert.match(page.body, /<title>lockring API<\/title>/);
  });

  it('hands the JSON document to a program that asks /docs for JSON', async () => {
    const reply = await lockring.app.inject({ method: 'GET', url: '/docs', headers: { accept: 'application/json' } });
    assert.equal(reply.json().openapi, '3.1.0');
  });

  it('is open while /v1 is not ready yet', async () => {
    const fresh = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
    assert.equal((await fresh.app.inject({ method: 'GET', url: '/v1/rings' })).statusCode, 503);
    assert.equal((await fresh.app.inject({ method: 'GET', url: '/docs/json' })).statusCode, 200);
    assert.equal((await fresh.app.inject({ method: 'GET', url: '/docs' })).statusCode, 200);
    await fresh.close();
  });
});

describe('the explorer with auth configured', () => {
  it('serves the page, its assets and both schemas without a token, and still guards /v1', async () => {
    const guarded = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, authFile: writeAuthFile() }));
    await guarded.start();
    const get = async (url: string, headers: Record<string, string> = {}) => (await guarded.app.inject({ method: 'GET', url, headers })).statusCode;
    const page = await guarded.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    const assets = [...page.body.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.length >= 5, page.body);
    for (const asset of assets) assert.equal(await get(asset), 200, asset);
    for (const url of ['/docs/json', '/docs/yaml', '/docs/ws.json', '/docs/static/swagger-initializer.js']) assert.equal(await get(url), 200, url);
    assert.equal(await get('/v1/rings'), 401);
    assert.equal(await get('/v1/rings', { authorization: `Bearer ${tokens.root}` }), 200);
    await guarded.close();
  });
});
