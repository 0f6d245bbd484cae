/**
 * Throws random and adversarial requests at the server and checks it never answers
 * 5xx, never crashes, and never changes state on a rejected request. Bounded by
 * default; LOCKRING_FUZZ_RUNS=20000 runs longer.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { makeConfig } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import { type Lockring, buildServer } from '../../src/server.js';

const runs = Number(process.env['LOCKRING_FUZZ_RUNS'] ?? 400);
let lockring: Lockring;

before(async () => {
  let seq = 0;
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }), {
    clock: new ManualClock(),
    newLeaseId: () => `L${++seq}`,
  });
  await lockring.start();
  // Some state for requests to collide with.
  await lockring.app.inject({ method: 'PUT', url: '/v1/rings/r/nodes/a', payload: { weight: 1 } });
  const lease = await lockring.app.inject({ method: 'POST', url: '/v1/leases', payload: { ttlMs: 60_000 } });
  const leaseId = (JSON.parse(lease.body) as { id: string }).id;
  await lockring.app.inject({ method: 'POST', url: '/v1/locks/held/acquire', payload: { leaseId } });
});

after(async () => {
  await lockring.close();
});

/** Everything a client could observe changing, as one comparable value. */
function digest(): string {
  const m = lockring.machine;
  const rings = [...m.rings.byName.values()].map((r) => `${r.name}@${r.version}`).join(',');
  return [m.leases.byId.size, m.locks.byName.size, m.locks.holdCount, m.locks.waiterCount, m.lastToken, rings].join('|');
}

const hostile = fc.oneof(
  fc.constant('__proto__'),
  fc.constant('constructor'),
  fc.constant('prototype'),
  fc.constant(''),
  fc.constant('\u0000'),
  fc.constant('\ud800'),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const scalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, 1.5, 99.999),
  fc.constantFrom('1000', 'NaN', 'Infinity', '-Infinity', '1e3', ''),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 40 }),
);

const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(hostile, fc.constantFrom('ttlMs', 'leaseId', 'waitMs', 'limit', 'owner', 'token', 'weight', 'meta', 'keys', 'n', 'vnodes', 'lockDelayMs', 'version')), tie('value'), { maxKeys: 5 }),
})).value;

const rawBody = fc.oneof(
  jsonValue.map((v) => JSON.stringify(v)),
  fc.constantFrom('{', '[', '{"ttlMs":1000,}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', 'null', '"x"', '1e999', '{"ttlMs":1e400}'),
  fc.integer({ min: 1, max: 12_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

const segment = fc.oneof(
  fc.constantFrom('held', 'r', 'a', 'L1', 'nope', '%ZZ', '%FF', '%00', '%2F', '%C0%AF', '%ED%A0%80', 'x'.repeat(300), '%E2%82%AC'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);

const path = fc.oneof(
  fc.tuple(segment).map(([a]) => `/v1/locks/${a}/acquire`),
  fc.tuple(segment).map(([a]) => `/v1/locks/${a}/release`),
  fc.tuple(segment).map(([a]) => `/v1/locks/${a}/check`),
  fc.tuple(segment).map(([a]) => `/v1/leases/${a}/keepalive`),
  fc.constant('/v1/leases'),
  fc.tuple(segment).map(([a]) => `/v1/rings/${a}`),
  fc.tuple(segment, segment).map(([a, b]) => `/v1/rings/${a}/nodes/${b}`),
  fc.tuple(segment).map(([a]) => `/v1/rings/${a}/lookup`),
  fc.tuple(segment, fc.string({ maxLength: 10 })).map(([a, q]) => `/v1/rings/${a}/lookup?key=${encodeURIComponent(q)}&n=${q}`),
  fc.tuple(fc.string({ maxLength: 10 })).map(([q]) => `/v1/locks?limit=${encodeURIComponent(q)}&prefix=${q}`),
  fc.string({ maxLength: 30 }).map((s) => `/${encodeURIComponent(s)}`),
);

const contentType = fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', undefined);

test('random and adversarial HTTP requests: no 5xx, no state change when rejected', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), path, rawBody, contentType, async (method, url, body, type) => {
      const before = digest();
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
      const res = await lockring.app.inject({ method, url, headers, payload: method === 'GET' ? undefined : body });
      assert.ok(res.statusCode < 500, `${method} ${url} ${body.slice(0, 80)} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
      if (res.statusCode >= 400) {
        assert.equal(digest(), before, `rejected ${method} ${url} changed state`);
        const error = (JSON.parse(res.body) as { error: { code: string; message: string } }).error;
        assert.equal(typeof error.code, 'string');
        assert.equal(typeof error.message, 'string');
      }
    }),
    { numRuns: runs },
  );
  const health = await lockring.app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(health.statusCode, 200);
});

/** Writes raw bytes to a fresh TCP connection and waits for the server to answer or hang up. */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, 500);
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

test('garbage on the wire: the server answers 4xx or hangs up, and keeps serving', async () => {
  const address = await lockring.app.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(address).port);
  const samples = [
    Buffer.from('GARBAGE\r\n\r\n'),
    Buffer.from('GET / HTTP/9.9\r\n\r\n'),
    Buffer.from(`GET /v1/locks HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    Buffer.from('POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"tt'),
    Buffer.from('POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
    Buffer.from('POST /v1/leases HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"ttlMs":\xff\xfe}'),
    Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00]),
  ];
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.constantFrom(...samples), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), async (bytes) => {
      const answer = await rawExchange(port, bytes);
      assert.ok(!/^HTTP\/1\.1 5\d\d/.test(answer), answer.slice(0, 200));
    }),
    { numRuns: Math.min(runs, 200) },
  );
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
});
