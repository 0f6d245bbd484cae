import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, type Reply, expectError, expectInvalid, expectStatus, seg, startApi } from '../helpers/http.js';

/** Everything a client can observe, to show a rejected request changed none of it. */
async function snapshot(api: Api): Promise<unknown> {
  const locks = expectStatus(await api.call('GET', '/v1/locks?limit=1000'), 200);
  const rings = expectStatus(await api.call('GET', '/v1/rings'), 200);
  const details = [];
  for (const ring of rings.rings) details.push(expectStatus(await api.call('GET', `/v1/rings/${seg(ring.name)}`), 200));
  const machine = api.lockring.machine;
  const leases = [...machine.leases.byId.keys()].sort();
  return { locks, rings, details, leases, lastToken: machine.lastToken, waiters: machine.locks.waiterCount };
}

describe('HTTP conventions: strict bodies', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  // One table for every route that takes a body: [method, url, body, field named].
  const routes = (leaseId: string): [string, string, unknown, string][] => [
    ['POST', '/v1/leases', { ttlMs: 1_000, extra: 1 }, 'extra'],
    ['POST', '/v1/leases', { ttlMs: '1000' }, 'ttlMs'],
    ['POST', '/v1/leases', { ttlMs: 1_000.25 }, 'ttlMs'],
    ['POST', '/v1/leases', { ttlMs: 1e12 }, 'ttlMs'],
    ['POST', `/v1/leases/${leaseId}/keepalive`, { ttlMs: 1_000, extra: 1 }, 'extra'],
    ['POST', `/v1/leases/${leaseId}/keepalive`, { ttlMs: '1000' }, 'ttlMs'],
    ['POST', `/v1/leases/${leaseId}/keepalive`, { ttlMs: 99.5 }, 'ttlMs'],
    ['POST', `/v1/leases/${leaseId}/keepalive`, { ttlMs: 86_400_001 }, 'ttlMs'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: 1_000, extra: 1 }, 'extra'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: '1000' }, 'ttlMs'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: 1_000, waitMs: '0' }, 'waitMs'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: 1_000, limit: '2' }, 'limit'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: 1_000, lockDelayMs: 1.5 }, 'lockDelayMs'],
    ['POST', '/v1/locks/s/acquire', { ttlMs: 1_000, owner: ['a'] }, 'owner'],
    ['POST', '/v1/locks/s/release', { token: '1' }, 'token'],
    ['POST', '/v1/locks/s/release', { token: 1, owner: 'x' }, 'owner'],
    ['POST', '/v1/locks/s/release', { token: 0.5 }, 'token'],
    ['POST', '/v1/locks/s/release', { token: 0 }, 'token'],
    ['POST', '/v1/locks/s/check', { token: '1' }, 'token'],
    ['POST', '/v1/locks/s/check', { token: -3 }, 'token'],
    ['PUT', '/v1/rings/s', { vnodes: '10' }, 'vnodes'],
    ['PUT', '/v1/rings/s', { vnodes: 10.5 }, 'vnodes'],
    ['PUT', '/v1/rings/s', { vnodes: 10, extra: 1 }, 'extra'],
    ['PUT', '/v1/rings/s/nodes/n', { weight: '1' }, 'weight'],
    ['PUT', '/v1/rings/s/nodes/n', { weight: 101 }, 'weight'],
    ['PUT', '/v1/rings/s/nodes/n', { weight: 1, extra: 1 }, 'extra'],
    ['POST', '/v1/rings/s/lookup', { keys: ['a'], n: '2' }, 'n'],
    ['POST', '/v1/rings/s/lookup', { keys: ['a'], extra: 1 }, 'extra'],
    ['POST', '/v1/rings/s/lookup', { keys: ['a'], version: 1.5 }, 'version'],
  ];

  test('unknown fields, strings for numbers, floats for integers, out of range: 400 naming the field', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 60_000 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/s/nodes/existing', {}), 201);
    const before = await snapshot(api);
    for (const [method, url, body, field] of routes(lease.id)) {
      const reply = await api.call(method as 'POST', url, body);
      const error = expectInvalid(reply, field);
      assert.equal(error.field, field, `${method} ${url} ${JSON.stringify(body)}`);
    }
    assert.deepEqual(await snapshot(api), before);
  });

  test('range messages state the allowed range', async () => {
    const error = expectInvalid(await api.call('POST', '/v1/locks/r/acquire', { ttlMs: 1_000, waitMs: 300_001 }), 'waitMs');
    assert.match(error.message, /0/);
    assert.match(error.message, /300000/);
    const vnodes = expectInvalid(await api.call('PUT', '/v1/rings/r', { vnodes: 0 }), 'vnodes');
    assert.match(vnodes.message, /1 to 1000|1000/);
  });

  test('a body that is not a JSON object is 400', async () => {
    for (const body of ['[]', 'null', '3', '"x"', '{', '{"ttlMs": 1000,}']) {
      expectError(await api.call('POST', '/v1/leases', body, { 'content-type': 'application/json' }), 400, 'invalid_request');
    }
    expectError(await api.call('POST', '/v1/leases'), 400, 'invalid_request');
  });

  test('a body sent as another content type is 400 naming content-type', async () => {
    expectInvalid(await api.call('POST', '/v1/leases', '{"ttlMs":1000}', { 'content-type': 'text/plain' }), 'content-type');
    expectInvalid(await api.call('POST', '/v1/leases', 'ttlMs=1000', { 'content-type': 'application/x-www-form-urlencoded' }), 'content-type');
    expectStatus(await api.call('POST', '/v1/leases', '{"ttlMs":1000}', { 'content-type': 'application/json; charset=utf-8' }), 201);
  });

  test('__proto__ and constructor.prototype keys are rejected and change nothing', async () => {
    const before = await snapshot(api);
    const bodies: [string, string][] = [
      ['/v1/leases', '{"ttlMs":1000,"__proto__":{"ttlMs":5}}'],
      ['/v1/leases', '{"ttlMs":1000,"\\u005f_proto__":{}}'],
      ['/v1/leases', '{"ttlMs":1000,"constructor":{"prototype":{"x":1}}}'],
      ['/v1/locks/proto/acquire', '{"ttlMs":1000,"__proto__":{"limit":5}}'],
    ];
    for (const [url, body] of bodies) {
      const error = expectError(await api.call('POST', url, body, { 'content-type': 'application/json' }), 400, 'invalid_request');
      assert.match(error.message, /__proto__|constructor/);
    }
    const metaPoison = '{"meta":{"__proto__":{"polluted":true}}}';
    expectInvalid(await api.call('PUT', '/v1/rings/proto/nodes/n', metaPoison, { 'content-type': 'application/json' }), '__proto__');
    expectInvalid(await api.call('GET', '/v1/locks?__proto__=x'), '__proto__');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.deepEqual(await snapshot(api), before);
    expectError(await api.call('GET', '/v1/rings/proto'), 404, 'ring_not_found');
    // A name spelled __proto__ is just a name.
    expectStatus(await api.call('PUT', '/v1/rings/__proto__/nodes/constructor', {}), 201);
    expectStatus(await api.call('POST', '/v1/locks/__proto__/acquire', { ttlMs: 1_000 }), 200);
    expectStatus(await api.call('GET', '/v1/locks/__proto__'), 200);
  });

  test('an empty body with a JSON content type counts as no body', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const json = { 'content-type': 'application/json' };
    expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, '', json), 200);
    expectStatus(await api.call('PUT', '/v1/rings/empty-body', '', json), 201);
    expectStatus(await api.call('PUT', '/v1/rings/empty-body/nodes/a', '', json), 201);
    expectStatus(await api.call('DELETE', '/v1/rings/empty-body/nodes/a', '', json), 200);
    expectStatus(await api.call('DELETE', `/v1/leases/${lease.id}`, '', json), 200);
    // Routes that need a body still say so.
    expectError(await api.call('POST', '/v1/leases', '', json), 400, 'invalid_request');
    expectError(await api.call('POST', '/v1/locks/x/release', '', json), 400, 'invalid_request');
  });

  test('a body over the limit is 413 payload_too_large', async () => {
    const padded = `{"ttlMs":1000,"pad":"${'x'.repeat(70 * 1024)}"}`;
    expectError(await api.call('POST', '/v1/leases', padded, { 'content-type': 'application/json' }), 413, 'payload_too_large');
    const owner = { ttlMs: 1_000, owner: 'o'.repeat(80 * 1024) };
    expectError(await api.call('POST', '/v1/locks/big/acquire', owner), 413, 'payload_too_large');
    expectError(await api.call('GET', '/v1/locks/big'), 404, 'lock_not_found');
  });

  test('an error is {error: {code, message}} with the code status', async () => {
    const reply = await api.call('GET', '/v1/leases/nope');
    assert.equal(reply.status, 404);
    assert.deepEqual(Object.keys(reply.body), ['error']);
    assert.equal(reply.body.error.code, 'lease_not_found');
    assert.equal(typeof reply.body.error.message, 'string');
    assert.match(String(reply.headers['content-type']), /^application\/json/);
  });

  test('an unknown route or method is 404 not_found', async () => {
    for (const [method, url] of [
      ['GET', '/v1/nothing'],
      ['GET', '/v2/leases'],
      ['PATCH', '/v1/leases'],
      ['GET', '/v1/leases'],
      ['PUT', '/v1/locks/a'],
      ['DELETE', '/v1/locks/a'],
      ['POST', '/v1/rings/r'],
      ['GET', '/nowhere'],
    ] as const) {
      expectError(await api.call(method, url), 404, 'not_found');
    }
  });
});

describe('HTTP conventions: names', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  const routesFor = (name: string): (() => Promise<Reply>)[] => [
    () => api.call('POST', `/v1/locks/${seg(name)}/acquire`, { ttlMs: 10_000 }),
    () => api.call('PUT', `/v1/rings/${seg(name)}`, {}),
    () => api.call('PUT', `/v1/rings/names/nodes/${seg(name)}`, {}),
  ];

  test('1 to 256 bytes of UTF-8: 256 is fine, 257 is 400', async () => {
    const ok = ['a'.repeat(256), 'é'.repeat(128), '😀'.repeat(64), 'ключ', 'x'];
    for (const name of ok) {
      assert.ok(Buffer.byteLength(name) <= 256);
      for (const route of routesFor(name)) assert.ok((await route()).status < 300, name);
      const lock = expectStatus(await api.call('GET', `/v1/locks/${seg(name)}`), 200);
      assert.equal(lock.name, name);
      expectStatus(await api.call('POST', `/v1/locks/${seg(name)}/check`, { token: 1 }), 200);
    }
    const tooLong = ['a'.repeat(257), `${'é'.repeat(128)}a`, `${'😀'.repeat(64)}a`];
    for (const name of tooLong) {
      for (const route of routesFor(name)) expectError(await route(), 400, 'invalid_request');
      expectError(await api.call('GET', `/v1/locks/${seg(name)}`), 400, 'invalid_request');
      expectError(await api.call('GET', `/v1/rings/${seg(name)}`), 400, 'invalid_request');
    }
  });

  test('the error names the path field', async () => {
    const long = seg('a'.repeat(257));
    expectInvalid(await api.call('POST', `/v1/locks/${long}/acquire`, { ttlMs: 1_000 }), 'name');
    expectInvalid(await api.call('PUT', `/v1/rings/${long}`, {}), 'ring');
    expectInvalid(await api.call('PUT', `/v1/rings/ok/nodes/${long}`, {}), 'node');
  });

  test('control characters are 400', async () => {
    for (const encoded of ['%00', 'a%01b', '%1F', 'x%7F', 'line%0Abreak', 'tab%09']) {
      expectInvalid(await api.call('POST', `/v1/locks/${encoded}/acquire`, { ttlMs: 1_000 }), 'name');
      expectInvalid(await api.call('GET', `/v1/locks/${encoded}`), 'name');
      expectInvalid(await api.call('PUT', `/v1/rings/${encoded}`, {}), 'ring');
      expectInvalid(await api.call('PUT', `/v1/rings/ok/nodes/${encoded}`, {}), 'node');
      expectInvalid(await api.call('POST', `/v1/locks/${encoded}/release`, { token: 1 }), 'name');
    }
    // U+0080 and U+00A0 are not in the forbidden range.
    expectStatus(await api.call('POST', '/v1/locks/%C2%80%C2%A0/acquire', { ttlMs: 1_000 }), 200);
  });

  test('bad percent-encoding and invalid UTF-8 are 400', async () => {
    for (const encoded of ['%ZZ', 'a%', 'a%F', '%FF', '%C3%28', '%ED%A0%80', '%C0%AF']) {
      expectError(await api.call('POST', `/v1/locks/${encoded}/acquire`, { ttlMs: 1_000 }), 400, 'invalid_request');
      expectError(await api.call('GET', `/v1/rings/${encoded}`), 400, 'invalid_request');
      expectError(await api.call('PUT', `/v1/rings/ok/nodes/${encoded}`, {}), 400, 'invalid_request');
      expectInvalid(await api.call('GET', `/v1/locks?prefix=${encoded}`), 'prefix');
      expectInvalid(await api.call('GET', `/v1/locks?after=${encoded}`), 'after');
    }
    expectError(await api.call('GET', '/v1/rings/ok'), 404, 'ring_not_found');
  });

  test('%2F inside a name is part of the name', async () => {
    const grant = expectStatus(await api.call('POST', '/v1/locks/jobs%2Fnightly%2Freport/acquire', { ttlMs: 1_000 }), 200);
    assert.equal(grant.name, 'jobs/nightly/report');
    expectStatus(await api.call('GET', '/v1/locks/jobs%2Fnightly%2Freport'), 200);
    expectStatus(await api.call('GET', '/v1/locks/jobs%2fnightly%2freport'), 200);
    const check = expectStatus(await api.call('POST', '/v1/locks/jobs%2Fnightly%2Freport/check', { token: grant.token }), 200);
    assert.equal(check.held, true);
    assert.deepEqual(expectStatus(await api.call('GET', '/v1/locks?prefix=jobs%2F'), 200).locks.map((l: any) => l.name), ['jobs/nightly/report']);
    expectStatus(await api.call('POST', '/v1/locks/jobs%2Fnightly%2Freport/release', { token: grant.token }), 200);
    // An unencoded slash is a different path, not this name.
    expectError(await api.call('GET', '/v1/locks/jobs/nightly/report'), 404, 'not_found');
  });

  test('a path segment far longer than any name is 400 naming the path, without echoing it', async () => {
    const error = expectInvalid(await api.call('GET', `/v1/locks/${'a'.repeat(5_000)}`), 'path');
    assert.ok(error.message.length < 200);
    expectInvalid(await api.call('GET', '/v1/locks/%ZZ'), 'path');
  });

  test('a percent-encoded name of 768 characters (256 bytes) works', async () => {
    const name = '\u00ff'.repeat(128); // 2 bytes each, 6 characters encoded
    const path = seg(name);
    assert.equal(path.length, 768);
    expectStatus(await api.call('POST', `/v1/locks/${path}/acquire`, { ttlMs: 1_000 }), 200);
    const encodedAll = [...Buffer.from('z'.repeat(256))].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    expectStatus(await api.call('PUT', `/v1/rings/${encodedAll}`, {}), 201);
    expectStatus(await api.call('GET', `/v1/rings/${'z'.repeat(256)}`), 200);
  });
});

describe('HTTP conventions: limits', () => {
  test('leasesMax: grants and ttlMs acquires past it are 429 naming the limit', async () => {
    const api = await startApi({ limits: { leasesMax: 2 } });
    try {
      expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
      expectStatus(await api.call('POST', '/v1/locks/a/acquire', { ttlMs: 1_000 }), 200);
      const before = await snapshot(api);
      const error = expectError(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 429, 'limit_exceeded');
      assert.equal(error.limit, 'leasesMax');
      assert.match(error.message, /leasesMax/);
      assert.equal(expectError(await api.call('POST', '/v1/locks/b/acquire', { ttlMs: 1_000 }), 429, 'limit_exceeded').limit, 'leasesMax');
      assert.deepEqual(await snapshot(api), before);
      api.advance(1_000);
      expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    } finally {
      await api.close();
    }
  });

  test('locksMax: a new name past it is 429 and grants no lease', async () => {
    const api = await startApi({ limits: { locksMax: 2 } });
    try {
      const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 10_000 }), 201);
      expectStatus(await api.call('POST', '/v1/locks/a/acquire', { ttlMs: 1_000 }), 200);
      expectStatus(await api.call('POST', '/v1/locks/b/acquire', { leaseId: lease.id, limit: 2 }), 200);
      const before = await snapshot(api);
      assert.equal(expectError(await api.call('POST', '/v1/locks/c/acquire', { ttlMs: 1_000 }), 429, 'limit_exceeded').limit, 'locksMax');
      assert.equal(expectError(await api.call('POST', '/v1/locks/c/acquire', { leaseId: lease.id }), 429, 'limit_exceeded').limit, 'locksMax');
      assert.deepEqual(await snapshot(api), before);
      // An existing name still takes another permit.
      expectStatus(await api.call('POST', '/v1/locks/b/acquire', { ttlMs: 1_000 }), 200);
    } finally {
      await api.close();
    }
  });

  test('ringsMax: a new ring past it is 429, by ring PUT or node PUT', async () => {
    const api = await startApi({ limits: { ringsMax: 2 } });
    try {
      expectStatus(await api.call('PUT', '/v1/rings/a'), 201);
      expectStatus(await api.call('PUT', '/v1/rings/b/nodes/n'), 201);
      const before = await snapshot(api);
      assert.equal(expectError(await api.call('PUT', '/v1/rings/c'), 429, 'limit_exceeded').limit, 'ringsMax');
      assert.equal(expectError(await api.call('PUT', '/v1/rings/c/nodes/n'), 429, 'limit_exceeded').limit, 'ringsMax');
      assert.deepEqual(await snapshot(api), before);
      expectStatus(await api.call('PUT', '/v1/rings/a', { vnodes: 10 }), 200);
      expectStatus(await api.call('DELETE', '/v1/rings/a'), 200);
      expectStatus(await api.call('PUT', '/v1/rings/c'), 201);
    } finally {
      await api.close();
    }
  });

  test('nodesPerRingMax: a new member past it is 429; existing members still change', async () => {
    const api = await startApi({ limits: { nodesPerRingMax: 2 } });
    try {
      expectStatus(await api.call('PUT', '/v1/rings/r/nodes/a'), 201);
      expectStatus(await api.call('PUT', '/v1/rings/r/nodes/b'), 201);
      const before = await snapshot(api);
      const error = expectError(await api.call('PUT', '/v1/rings/r/nodes/c'), 429, 'limit_exceeded');
      assert.equal(error.limit, 'nodesPerRingMax');
      assert.match(error.message, /nodesPerRingMax/);
      assert.deepEqual(await snapshot(api), before);
      expectStatus(await api.call('PUT', '/v1/rings/r/nodes/b', { weight: 3 }), 200);
    } finally {
      await api.close();
    }
  });

  test('waitersPerLockMax: a waiter past it is 429', async () => {
    const api = await startApi({ limits: { waitersPerLockMax: 1 } });
    try {
      expectStatus(await api.call('POST', '/v1/locks/w/acquire', { ttlMs: 10_000 }), 200);
      const waiting = api.call('POST', '/v1/locks/w/acquire', { ttlMs: 10_000, waitMs: 1_000 });
      for (let i = 0; i < 1_000 && api.lockring.machine.locks.waiterCount === 0; i++) await new Promise(setImmediate);
      const leases = api.lockring.machine.leases.byId.size;
      const error = expectError(await api.call('POST', '/v1/locks/w/acquire', { ttlMs: 10_000, waitMs: 1_000 }), 429, 'limit_exceeded');
      assert.equal(error.limit, 'waitersPerLockMax');
      assert.equal(api.lockring.machine.leases.byId.size, leases);
      api.advance(1_000);
      expectError(await waiting, 409, 'lock_held');
    } finally {
      await api.close();
    }
  });
});

describe('HTTP conventions: readiness', () => {
  test('before start, /v1 answers 503 not_ready; health stays open', async () => {
    const api = await startApi({ unstarted: true });
    try {
      expectError(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 503, 'not_ready');
      expectError(await api.call('GET', '/v1/locks'), 503, 'not_ready');
      expectError(await api.call('GET', '/readyz'), 503, 'not_ready');
      expectStatus(await api.call('GET', '/healthz'), 200);
      await api.lockring.start();
      expectStatus(await api.call('GET', '/readyz'), 200);
      expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    } finally {
      await api.close();
    }
  });
});
