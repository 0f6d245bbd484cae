import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { makeConfig } from '../../src/config.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { tokens, writeAuthFile } from '../auth/helpers.js';

/**
 * Real answers against the document: every call below goes through the server, and
 * its status must be one the document lists for that operation, its body must match
 * the schema documented for that status, and an error's code must be one the
 * operation documents. Together the calls reach every operation and every error code
 * the routes can produce without auth.
 */
let lockring: Lockring;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const seen = new Map<string, Set<string>>();

before(async () => {
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, limits: { batchKeysMax: 3, listPageMax: 5 } }));
  await lockring.start();
  doc = (await lockring.app.inject({ method: 'GET', url: '/docs/json' })).json();
  ajv.addSchema({ $id: 'lockring-openapi', components: doc.components });
});
after(async () => lockring.close());

function operation(operationId: string): { path: string; method: string; op: any } {
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops as Record<string, any>)) if (op.operationId === operationId) return { path, method, op };
  }
  throw new Error(`no operation ${operationId}`);
}

/** Calls the server and checks the answer against what the document says `operationId` answers. */
async function call(
  operationId: string, method: string, url: string, payload?: unknown, headers: Record<string, string> = {}, server = lockring,
): Promise<any> {
  const reply = await server.app.inject({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload: payload as object }), headers });
  const { op } = operation(operationId);
  const documented = op.responses[String(reply.statusCode)];
  assert.ok(documented, `${operationId}: status ${reply.statusCode} is not documented (${reply.body})`);
  const content = documented.content['application/json'];
  if (content === undefined) {
    assert.ok(documented.content['text/plain'] && String(reply.headers['content-type']).startsWith('text/plain'), operationId);
    seen.set(operationId, new Set([String(reply.statusCode)]));
    return reply.body;
  }
  const body = reply.json();
  const ref = content.schema.$ref.replace('#/', 'lockring-openapi#/');
  const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  assert.ok(validate(body), `${operationId} ${reply.statusCode}: ${reply.body} ${ajv.errorsText(validate.errors)}`);
  if (reply.statusCode >= 400) {
    assert.ok(Object.keys(content.examples).includes(body.error.code), `${operationId}: ${body.error.code} not documented under ${reply.statusCode}`);
    seen.set(operationId, (seen.get(operationId) ?? new Set()).add(body.error.code));
  } else {
    seen.set(operationId, (seen.get(operationId) ?? new Set()).add(String(reply.statusCode)));
  }
  return body;
}

describe('the server answers as its OpenAPI document says', () => {
  it('leases: grant, inspect, keep alive, revoke, and their errors', async () => {
    const lease = await call('grantLease', 'POST', '/v1/leases', { ttlMs: 10_000 });
    await call('grantLease', 'POST', '/v1/leases', { ttlMs: '10000' });
    await call('getLease', 'GET', `/v1/leases/${lease.id}`);
    await call('keepaliveLease', 'POST', `/v1/leases/${lease.id}/keepalive`);
    await call('keepaliveLease', 'POST', `/v1/leases/${lease.id}/keepalive`, { ttlMs: 20_000 });
    await call('revokeLease', 'DELETE', `/v1/leases/${lease.id}`);
    for (const [id, method, url] of [['getLease', 'GET', ''], ['keepaliveLease', 'POST', '/keepalive'], ['revokeLease', 'DELETE', '']] as const) {
      await call(id, method, `/v1/leases/${lease.id}${url}`);
    }
  });

  it('locks: acquire, check, inspect, list, release, and their errors', async () => {
    const grant = await call('acquireLock', 'POST', '/v1/locks/jobs%2Fa/acquire', { ttlMs: 10_000, owner: 'w1' });
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fa/acquire', { ttlMs: 10_000 });
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fa/acquire', { ttlMs: 10_000, limit: 2 });
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fb/acquire', { leaseId: 'no-such-lease' });
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fb/acquire', { ttlMs: 10_000, waitMs: -1 });
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fb/acquire', { ttlMs: 10_000, pad: 'x'.repeat(70_000) });
    await call('checkLock', 'POST', '/v1/locks/jobs%2Fa/check', { token: grant.token });
    await call('getLock', 'GET', '/v1/locks/jobs%2Fa');
    await call('getLock', 'GET', '/v1/locks/jobs%2Fnone');
    await call('getLockWaiters', 'GET', '/v1/locks/jobs%2Fa/waiters?limit=10');
    await call('getLockWaiters', 'GET', '/v1/locks/jobs%2Fnone/waiters');
    await call('getLockWaiters', 'GET', '/v1/locks/jobs%2Fa/waiters?limit=0');
    await call('acquireLock', 'POST', '/v1/locks/jobs%2Fc/acquire', { ttlMs: 10_000 });
    const page = await call('listLocks', 'GET', '/v1/locks?prefix=jobs%2F&limit=1');
    assert.equal(page.next, 'jobs/a');
    await call('listLocks', 'GET', '/v1/locks?limit=6');
    await call('releaseLock', 'POST', '/v1/locks/jobs%2Fa/release', { token: grant.token });
    await call('releaseLock', 'POST', '/v1/locks/jobs%2Fa/release', { token: grant.token });
  });

  it('multi-locks: acquire, refusals, release together', async () => {
    const multi = await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [{ name: 'm/a' }, { name: 'm/b', mode: 'read' }], ttlMs: 10_000 });
    await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [{ name: 'm/c' }, { name: 'm/a' }], ttlMs: 10_000 });
    await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [{ name: 'm/c' }, { name: 'm/c' }], ttlMs: 10_000 });
    await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [], ttlMs: 10_000 });
    await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [{ name: 'm/b', limit: 2 }], ttlMs: 10_000 });
    await call('acquireMultiLock', 'POST', '/v1/multi-locks/acquire', { locks: [{ name: 'm/d' }], leaseId: 'no-such-lease' });
    const holds = multi.grants.map((g: { name: string; token: number }) => ({ name: g.name, token: g.token }));
    await call('releaseMultiLock', 'POST', '/v1/multi-locks/release', { holds: [...holds, { name: 'm/z', token: 1 }] });
    await call('releaseMultiLock', 'POST', '/v1/multi-locks/release', { holds });
  });

  it('rings: configure, members, lookups, delete, and their errors', async () => {
    await call('putRing', 'PUT', '/v1/rings/cache', { vnodes: 100 });
    await call('putRing', 'PUT', '/v1/rings/cache');
    await call('putNode', 'PUT', '/v1/rings/cache/nodes/n1', { weight: 0 });
    await call('lookupKey', 'GET', '/v1/rings/cache/lookup?key=k');
    await call('putNode', 'PUT', '/v1/rings/cache/nodes/n1', { weight: 1, meta: { zone: 'a' } });
    await call('putNode', 'PUT', '/v1/rings/cache/nodes/n2', { leaseId: 'no-such-lease' });
    await call('listRings', 'GET', '/v1/rings');
    await call('getRing', 'GET', '/v1/rings/cache');
    const one = await call('lookupKey', 'GET', '/v1/rings/cache/lookup?key=user%3A1&n=2');
    await call('lookupKey', 'GET', `/v1/rings/cache/lookup?key=k&version=${one.version + 1}`);
    await call('lookupKeys', 'POST', '/v1/rings/cache/lookup', { keys: ['a', 'b'], n: 1 });
    await call('lookupKeys', 'POST', '/v1/rings/cache/lookup', { keys: ['a', 'b', 'c', 'd'] });
    await call('lookupKeys', 'POST', '/v1/rings/cache/lookup', { keys: ['a'], version: one.version + 1 });
    await call('lookupKey', 'GET', `/v1/rings/cache/lookup?key=k&previous=${one.version}`);
    await call('ringDiff', 'GET', `/v1/rings/cache/diff?from=1&to=${one.version}`);
    await call('ringDiff', 'GET', `/v1/rings/cache/diff?from=1&to=${one.version + 5}`);
    await call('deleteNode', 'DELETE', '/v1/rings/cache/nodes/n1');
    await call('deleteNode', 'DELETE', '/v1/rings/cache/nodes/n1');
    await call('deleteRing', 'DELETE', '/v1/rings/cache');
    for (const [id, method, url] of [
      ['deleteRing', 'DELETE', '/v1/rings/cache'], ['getRing', 'GET', '/v1/rings/cache'], ['lookupKey', 'GET', '/v1/rings/cache/lookup?key=k'],
      ['lookupKeys', 'POST', '/v1/rings/cache/lookup'], ['deleteNode', 'DELETE', '/v1/rings/cache/nodes/n1'],
    ] as const) {
      await call(id, method, url, method === 'POST' ? { keys: ['a'] } : undefined);
    }
  });

  it('operations routes, and the refusals every route can give', async () => {
    await call('health', 'GET', '/healthz');
    await call('readiness', 'GET', '/readyz');
    await call('metrics', 'GET', '/metrics');
    await call('listRings', 'GET', '/v1/rings', undefined, { origin: 'https://evil.example' });
    await call('health', 'GET', '/healthz', undefined, { host: 'rebind.example' });
    await call('listRings', 'GET', '/v1/rings?bogus=1');
    const unstarted = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
    await call('readiness', 'GET', '/readyz', undefined, {}, unstarted);
    await call('acquireLock', 'POST', '/v1/locks/a/acquire', { ttlMs: 1000 }, {}, unstarted);
    await unstarted.close();
    const guarded = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, authFile: writeAuthFile() }));
    await guarded.start();
    await call('getLock', 'GET', '/v1/locks/a', undefined, {}, guarded);
    await call('getLock', 'GET', '/v1/locks/a', undefined, { authorization: `Bearer ${tokens.teamB}` }, guarded);
    await guarded.close();
  });

  it('reached every operation, each success status and the errors these calls can produce', () => {
    const operations = Object.values(doc.paths).flatMap((ops) => Object.values(ops as Record<string, any>).map((op) => op.operationId));
    assert.deepEqual(operations.filter((id) => !seen.has(id)), []);
    const all = new Set([...seen.values()].flatMap((codes) => [...codes]));
    for (const code of ['201', '200', 'invalid_request', 'forbidden', 'lease_not_found', 'lock_not_found', 'ring_not_found', 'node_not_found',
      'lock_held', 'limit_mismatch', 'not_holder', 'ring_empty', 'stale_ring', 'payload_too_large', 'not_ready', 'unauthorized']) {
      assert.ok(all.has(code), code);
    }
  });
});
