/**
 * bearer-token authentication and grant-based authorization over HTTP.
 * Every /v1 route needs a token (401 unauthorized), every action needs a grant for
 * its name (403 forbidden), leases belong to the token that made them, and lock
 * listings show only what the token may read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/ops/logger.js';
import { type AuthServer, metricValue, startAuthServer, tokens } from './helpers.js';

let server: AuthServer;
before(async () => {
  server = await startAuthServer();
});
after(async () => {
  await server.close();
});

const enc = encodeURIComponent;

/** Everything a client could observe changing, as one comparable value. */
function digest(): string {
  const m = server.lockring.machine;
  const rings = [...m.rings.byName.values()].map((r) => `${r.name}@${r.version}`).join(',');
  return [m.leases.byId.size, m.locks.byName.size, m.locks.holdCount, m.locks.waiterCount, m.lastToken, rings].join('|');
}

const guarded: [string, string, unknown?][] = [
  ['POST', '/v1/leases', { ttlMs: 10_000 }],
  ['GET', '/v1/leases/L1'],
  ['POST', '/v1/leases/L1/keepalive', {}],
  ['DELETE', '/v1/leases/L1'],
  ['POST', `/v1/locks/${enc('a/x')}/acquire`, { ttlMs: 10_000 }],
  ['POST', `/v1/locks/${enc('a/x')}/release`, { token: 1 }],
  ['POST', `/v1/locks/${enc('a/x')}/check`, { token: 1 }],
  ['GET', `/v1/locks/${enc('a/x')}`],
  ['GET', '/v1/locks'],
  ['PUT', '/v1/rings/r', {}],
  ['GET', '/v1/rings'],
  ['GET', '/v1/rings/r'],
  ['DELETE', '/v1/rings/r'],
  ['PUT', '/v1/rings/r/nodes/n', {}],
  ['DELETE', '/v1/rings/r/nodes/n'],
  ['GET', '/v1/rings/r/lookup?key=k'],
  ['POST', '/v1/rings/r/lookup', { keys: ['k'] }],
  ['GET', '/v1/ws'],
  ['GET', '/v1/no-such-route'],
];

describe('authentication: 401 unauthorized without a valid bearer token', () => {
  it('every /v1 route refuses a missing, malformed or unknown token, and nothing changes', async () => {
    const before = digest();
    const metricsBefore = (await server.http('GET', '/metrics')).body as string;
    const headers: (string | undefined)[] = [
      undefined,
      'Bearer not-a-real-token-0000000',
      'Basic dXNlcjpwYXNz',
      'Bearer',
      `Bearer ${tokens.teamA} extra`,
      `Token ${tokens.teamA}`,
      `bearer ${tokens.teamA.slice(0, -1)}`,
    ];
    for (const [method, path, body] of guarded) {
      for (const header of headers) {
        const res = await fetch(server.base + path, {
          method,
          headers: { ...(header === undefined ? {} : { authorization: header }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const answer = (await res.json()) as { error: { code: string; message: string } };
        assert.equal(res.status, 401, `${method} ${path} with ${String(header)}`);
        assert.equal(answer.error.code, 'unauthorized');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
        const sent = header?.split(' ').at(-1) ?? '';
        if (sent.length >= 16) assert.ok(!answer.error.message.includes(sent), 'the token is not echoed');
      }
    }
    assert.equal(digest(), before);
    const metrics = (await server.http('GET', '/metrics')).body as string;
    for (const reason of ['missing', 'malformed', 'unknown']) {
      const series = `lockring_auth_failures_total{reason="${reason}"}`;
      assert.ok(metricValue(metrics, series) > metricValue(metricsBefore, series), series);
    }
  });

  it('the scheme is case-insensitive, as RFC 6750 says', async () => {
    const res = await fetch(`${server.base}/v1/rings`, { headers: { authorization: `bEaReR ${tokens.reader}` } });
    assert.equal(res.status, 200);
  });

  it('health, readiness, metrics and the OpenAPI document stay open', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/docs', '/docs/json']) {
      const res = await fetch(server.base + path);
      assert.equal(res.status, 200, path);
    }
  });
});

describe('authorization: 403 forbidden outside the grants', () => {
  it('every kind of action is checked against the name, and a refusal changes nothing', async () => {
    const lease = await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamA);
    assert.equal(lease.status, 201);
    const held = await server.http('POST', `/v1/locks/${enc('a/held')}/acquire`, { leaseId: lease.body.id }, tokens.teamA);
    assert.equal(held.status, 200);
    await server.http('PUT', '/v1/rings/cache/nodes/n1', {}, tokens.ops);
    await server.http('PUT', '/v1/rings/a-cache', {}, tokens.aRings);
    const before = digest();
    const refused: [string, string, string, unknown?][] = [
      // lock.write
      [tokens.teamB, 'POST', `/v1/locks/${enc('a/x')}/acquire`, { ttlMs: 10_000 }],
      [tokens.reader, 'POST', `/v1/locks/${enc('a/x')}/acquire`, { ttlMs: 10_000 }],
      [tokens.ops, 'POST', `/v1/locks/${enc('a/x')}/acquire`, { ttlMs: 10_000 }],
      [tokens.teamB, 'POST', `/v1/locks/${enc('a/held')}/release`, { token: held.body.token }],
      [tokens.teamA, 'POST', '/v1/locks/a/acquire', { ttlMs: 10_000 }],
      // lock.read
      [tokens.teamB, 'GET', `/v1/locks/${enc('a/held')}`],
      [tokens.teamB, 'POST', `/v1/locks/${enc('a/held')}/check`, { token: held.body.token }],
      [tokens.ops, 'GET', `/v1/locks/${enc('a/held')}`],
      // lease.write (no lease rights at all)
      [tokens.reader, 'POST', '/v1/leases', { ttlMs: 10_000 }],
      [tokens.reader, 'GET', `/v1/leases/${lease.body.id}`],
      // lease ownership
      [tokens.teamB, 'GET', `/v1/leases/${lease.body.id}`],
      [tokens.teamB, 'POST', `/v1/leases/${lease.body.id}/keepalive`, {}],
      [tokens.teamB, 'DELETE', `/v1/leases/${lease.body.id}`],
      [tokens.teamB, 'POST', `/v1/locks/${enc('b/x')}/acquire`, { leaseId: lease.body.id }],
      [tokens.ops, 'PUT', '/v1/rings/cache/nodes/n2', { leaseId: lease.body.id }],
      // ring.write
      [tokens.teamA, 'PUT', '/v1/rings/cache', {}],
      [tokens.reader, 'PUT', '/v1/rings/cache', { vnodes: 10 }],
      [tokens.aRings, 'PUT', '/v1/rings/cache', {}],
      [tokens.aRings, 'DELETE', '/v1/rings/cache'],
      [tokens.aRings, 'PUT', '/v1/rings/cache/nodes/n9', {}],
      [tokens.aRings, 'DELETE', '/v1/rings/cache/nodes/n1'],
      [tokens.teamA, 'PUT', '/v1/rings/a-cache/nodes/n1', {}],
      // ring.read
      [tokens.teamB, 'GET', '/v1/rings/cache'],
      [tokens.teamB, 'GET', '/v1/rings/cache/lookup?key=k'],
      [tokens.teamB, 'POST', '/v1/rings/cache/lookup', { keys: ['k'] }],
      [tokens.aRings, 'GET', '/v1/rings/cache'],
    ];
    for (const [token, method, path, body] of refused) {
      const res = await server.http(method, path, body, token);
      assert.equal(res.status, 403, `${token} ${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'forbidden');
      assert.equal(typeof res.body.error.message, 'string');
    }
    assert.equal(digest(), before, 'no refused request changed anything');
  });

  it('within their grants the same tokens are served', async () => {
    const allowed: [string, string, string, unknown?][] = [
      [tokens.reader, 'GET', '/v1/rings/cache'],
      [tokens.reader, 'GET', '/v1/rings/cache/lookup?key=k'],
      [tokens.reader, 'GET', `/v1/locks/${enc('a/held')}`],
      [tokens.teamA, 'GET', `/v1/locks/${enc('a/held')}`],
      [tokens.aRings, 'PUT', '/v1/rings/a-cache/nodes/n1', {}],
      [tokens.aRings, 'GET', '/v1/rings/a-cache/lookup?key=k'],
      [tokens.root, 'PUT', '/v1/rings/cache', { vnodes: 100 }],
    ];
    for (const [token, method, path, body] of allowed) {
      const res = await server.http(method, path, body, token);
      assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
});

describe('two teams on one server', () => {
  it('team A locks a/* only; it can neither release nor see team B\'s lock; holders name their token', async () => {
    const a = await server.http('POST', `/v1/locks/${enc('a/job')}/acquire`, { ttlMs: 60_000, owner: 'worker-a' }, tokens.teamA);
    assert.equal(a.status, 200);
    const b = await server.http('POST', `/v1/locks/${enc('b/job')}/acquire`, { ttlMs: 60_000 }, tokens.teamB);
    assert.equal(b.status, 200);

    assert.equal((await server.http('POST', `/v1/locks/${enc('b/job')}/acquire`, { ttlMs: 1_000 }, tokens.teamA)).status, 403);
    assert.equal((await server.http('POST', `/v1/locks/${enc('b/job')}/release`, { token: b.body.token }, tokens.teamA)).status, 403);
    assert.equal((await server.http('GET', `/v1/locks/${enc('b/job')}`, undefined, tokens.teamA)).status, 403);
    assert.equal((await server.http('GET', `/v1/leases/${b.body.leaseId}`, undefined, tokens.teamA)).status, 403);

    const inspected = await server.http('GET', `/v1/locks/${enc('a/job')}`, undefined, tokens.teamA);
    assert.equal(inspected.body.holders[0].principal, 'team-a');
    assert.equal(inspected.body.holders[0].owner, 'worker-a');
    const conflict = await server.http('POST', `/v1/locks/${enc('a/job')}/acquire`, { ttlMs: 1_000 }, tokens.root);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.holders[0].principal, 'team-a');

    const listA = await server.http('GET', '/v1/locks', undefined, tokens.teamA);
    assert.ok(listA.body.locks.every((lock: { name: string }) => lock.name.startsWith('a/') || lock.name.startsWith('shared/')));
    assert.ok(listA.body.locks.some((lock: { name: string }) => lock.name === 'a/job'));
    const listB = await server.http('GET', '/v1/locks?prefix=b%2F', undefined, tokens.teamB);
    assert.deepEqual(listB.body.locks.map((lock: { name: string }) => lock.name), ['b/job']);
    assert.deepEqual((await server.http('GET', '/v1/locks?prefix=b%2F', undefined, tokens.teamA)).body, { locks: [] });
    const all = await server.http('GET', '/v1/locks', undefined, tokens.reader);
    assert.ok(all.body.locks.some((lock: { name: string }) => lock.name === 'b/job'));

    // Team B releases its own; team A its own.
    assert.equal((await server.http('POST', `/v1/locks/${enc('b/job')}/release`, { token: b.body.token }, tokens.teamB)).status, 200);
    assert.equal((await server.http('POST', `/v1/locks/${enc('a/job')}/release`, { token: a.body.token }, tokens.teamA)).status, 200);
  });

  it('a hold is released only by the token that took it (or an unrestricted admin)', async () => {
    const byRoot = await server.http('POST', `/v1/locks/${enc('a/shared-rights')}/acquire`, { ttlMs: 60_000 }, tokens.root);
    // team-a may lock a/*, but this hold is root's: a guessed fencing token is not enough.
    const refused = await server.http('POST', `/v1/locks/${enc('a/shared-rights')}/release`, { token: byRoot.body.token }, tokens.teamA);
    assert.equal(refused.status, 403);
    const byA = await server.http('POST', `/v1/locks/${enc('a/by-a')}/acquire`, { ttlMs: 60_000 }, tokens.teamA);
    assert.equal((await server.http('POST', `/v1/locks/${enc('a/by-a')}/release`, { token: byA.body.token }, tokens.root)).status, 200);
    assert.equal((await server.http('POST', `/v1/locks/${enc('a/shared-rights')}/release`, { token: byRoot.body.token }, tokens.root)).status, 200);
  });

  it('listing pages through the readable names only, across every grant', async () => {
    const names = ['a/p1', 'a/p2', 'a/p3', 'shared/p1', 'shared/p2', 'b/p1', 'c/p1', 'sh', 'a0'];
    const grants: string[] = [];
    for (const name of names) {
      const res = await server.http('POST', `/v1/locks/${enc(name)}/acquire`, { ttlMs: 60_000 }, tokens.root);
      assert.equal(res.status, 200);
      grants.push(res.body.token);
    }
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const query = `?limit=2${after === undefined ? '' : `&after=${enc(after)}`}`;
      const res = await server.http('GET', `/v1/locks${query}`, undefined, tokens.teamA);
      assert.equal(res.status, 200);
      assert.ok(res.body.locks.length <= 2);
      seen.push(...res.body.locks.map((lock: { name: string }) => lock.name));
      if (res.body.next === undefined) break;
      after = res.body.next;
    }
    assert.ok(seen.every((name) => name.startsWith('a/') || name.startsWith('shared/')), seen.join());
    assert.deepEqual(seen.filter((name) => names.includes(name)), ['a/p1', 'a/p2', 'a/p3', 'shared/p1', 'shared/p2']);
    const withPrefix = await server.http('GET', `/v1/locks?prefix=${enc('a/p')}&limit=2`, undefined, tokens.teamA);
    assert.deepEqual(withPrefix.body, { locks: withPrefix.body.locks, next: 'a/p2' });
    for (let i = 0; i < names.length; i++) {
      await server.http('POST', `/v1/locks/${enc(names[i]!)}/release`, { token: grants[i] }, tokens.root);
    }
  });

  it('ring listings show only the rings the token may read', async () => {
    await server.http('PUT', '/v1/rings/a-one', {}, tokens.aRings);
    await server.http('PUT', '/v1/rings/z-other', {}, tokens.ops);
    const names = async (token: string): Promise<string[]> =>
      (await server.http('GET', '/v1/rings', undefined, token)).body.rings.map((ring: { name: string }) => ring.name);
    assert.ok((await names(tokens.aRings)).every((name) => name.startsWith('a-')));
    assert.ok((await names(tokens.aRings)).includes('a-one'));
    assert.ok((await names(tokens.ops)).includes('z-other'));
    assert.deepEqual(await names(tokens.teamB), []);
  });
});

describe('leases belong to the token that made them', () => {
  it('only it (or an unrestricted admin) may inspect, keep alive, revoke or build on one', async () => {
    const lease = (await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamB)).body;
    assert.equal((await server.http('GET', `/v1/leases/${lease.id}`, undefined, tokens.teamB)).status, 200);
    assert.equal((await server.http('POST', `/v1/leases/${lease.id}/keepalive`, {}, tokens.teamB)).status, 200);
    assert.equal((await server.http('POST', `/v1/locks/${enc('b/on-lease')}/acquire`, { leaseId: lease.id }, tokens.teamB)).status, 200);
    // Same lock rights (a/ is team-a's), someone else's lease: refused.
    assert.equal((await server.http('POST', `/v1/locks/${enc('a/on-lease')}/acquire`, { leaseId: lease.id }, tokens.teamA)).status, 403);
    assert.equal((await server.http('GET', `/v1/leases/${lease.id}`, undefined, tokens.root)).status, 200);
    const revoked = await server.http('DELETE', `/v1/leases/${lease.id}`, undefined, tokens.teamB);
    assert.equal(revoked.status, 200);
    assert.deepEqual(revoked.body.released.map((hold: { name: string }) => hold.name), ['b/on-lease']);
    // A lease that does not exist is still 404 for a token with lease rights.
    assert.equal((await server.http('GET', '/v1/leases/no-such-lease', undefined, tokens.teamB)).status, 404);
  });

  it('a lock acquired with ttlMs makes a lease owned by the acquirer', async () => {
    const grant = (await server.http('POST', `/v1/locks/${enc('a/ttl')}/acquire`, { ttlMs: 60_000 }, tokens.teamA)).body;
    assert.equal((await server.http('POST', `/v1/leases/${grant.leaseId}/keepalive`, {}, tokens.teamB)).status, 403);
    assert.equal((await server.http('POST', `/v1/leases/${grant.leaseId}/keepalive`, {}, tokens.teamA)).status, 200);
    assert.equal(server.lockring.machine.leases.byId.get(grant.leaseId)?.principal, 'team-a');
    await server.http('POST', `/v1/locks/${enc('a/ttl')}/release`, { token: grant.token }, tokens.teamA);
  });
});

describe('tokens never reach the log', () => {
  it('not from headers, bad tokens, nor WebSocket auth frames, even at trace level; principals do', async () => {
    const lines: string[] = [];
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
    const traced = await startAuthServer({ logger });
    try {
      await traced.http('POST', `/v1/locks/${enc('a/logged')}/acquire`, { ttlMs: 1_000 }, tokens.teamA);
      await traced.http('GET', '/v1/locks', undefined, 'Bearer-less-guess-000000000000');
      await traced.http('GET', '/v1/locks', undefined, tokens.teamB.replace('team', 'maeT'));
      const WebSocket = (await import('ws')).default;
      const ws = new WebSocket(traced.wsUrl);
      await new Promise((resolve) => ws.once('open', resolve));
      const replies: string[] = [];
      ws.on('message', (data) => replies.push(data.toString()));
      ws.send(JSON.stringify({ id: 1, op: 'auth', token: tokens.reader }));
      ws.send(JSON.stringify({ id: 2, op: 'lock.check', name: 'a/logged', token: 1 }));
      await new Promise((resolve) => setTimeout(resolve, 100));
      ws.close();
      assert.ok(replies.some((r) => r.includes('"name":"reader"')), replies.join());
      // A request log line on a rejected request with the header logged in full:
      traced.lockring.app.log.info({ req: { headers: { authorization: `Bearer ${tokens.root}` } } }, 'request with headers');
    } finally {
      await traced.close();
    }
    const text = lines.join('\n');
    for (const secret of Object.values(tokens)) assert.ok(!text.includes(secret), `a token leaked into the log: ${secret}`);
    assert.ok(!text.includes('maeT'));
    assert.ok(lines.some((line) => line.includes('"principal":"team-a"')), 'the request line names the token');
    assert.ok(lines.some((line) => line.includes('"msg":"websocket op"') && line.includes('"principal":"reader"')));
  });
});
