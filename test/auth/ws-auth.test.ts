/**
 * Auth over WebSocket: the upgrade is authenticated like any /v1 request, or
 * (browsers) the first frame is an `auth` op within wsAuthMsMax; ops are authorized
 * as over HTTP; watches deliver only what the token may read; sessions belong to
 * their token; sockets and watches are capped per token.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TestSocket, eventually, refusedUpgrade, within } from '../ws/helpers.js';
import { type AuthServer, authFileJson, bearer, metricValue, startAuthServer, tokens, writeAuthFile } from './helpers.js';

let server: AuthServer;
const sockets: TestSocket[] = [];
before(async () => {
  server = await startAuthServer({ limits: { wsAuthMsMax: 300 } });
});
after(async () => {
  for (const socket of sockets) socket.ws.terminate();
  await server.close();
});

async function open(token?: string, target: AuthServer = server): Promise<TestSocket> {
  const socket = await TestSocket.open(target.wsUrl, token === undefined ? {} : bearer(token));
  sockets.push(socket);
  return socket;
}

const enc = encodeURIComponent;

describe('the upgrade', () => {
  it('is refused 401 with a bad or malformed token, and opens with a good one', async () => {
    for (const authorization of ['Bearer wrong-token-000000000000', 'Basic abc', 'Bearer']) {
      const refused = await refusedUpgrade(server.wsUrl, { headers: { authorization } });
      assert.equal(refused.status, 401, authorization);
      assert.equal(refused.body.error.code, 'unauthorized');
    }
    const socket = await open(tokens.teamA);
    const granted = await socket.request('lock.acquire', { name: 'a/ws', ttlMs: 10_000 });
    assert.equal(granted['ok'], true);
    const refused = await socket.request('lock.acquire', { name: 'b/ws', ttlMs: 10_000 });
    assert.equal(refused['error'].code, 'forbidden');
    const auth = await socket.request('auth', { token: tokens.teamA });
    assert.deepEqual(auth, { id: auth['id'], ok: true, name: 'team-a' });
    const other = await socket.request('auth', { token: tokens.teamB });
    assert.equal(other['error'].code, 'invalid_request', 'one socket, one identity');
    assert.equal((await socket.request('lock.release', { name: 'a/ws', token: granted['token'] }))['ok'], true);
    await socket.close();
  });
});

describe('the auth frame (browsers)', () => {
  it('until it comes every op is unauthorized; after it the token\'s grants apply', async () => {
    const socket = await open();
    const early = await socket.request('lock.check', { name: 'a/x', token: 1 });
    assert.equal(early['error'].code, 'unauthorized');
    const auth = await socket.request('auth', { token: tokens.reader });
    assert.equal(auth['name'], 'reader');
    assert.equal((await socket.request('lock.check', { name: 'a/x', token: 1 }))['ok'], true);
    assert.equal((await socket.request('lease.grant', { ttlMs: 1_000 }))['error'].code, 'forbidden');
    await socket.close();
  });

  it('a bad token is answered unauthorized and the socket closed (1008)', async () => {
    const socket = await open();
    const reply = await socket.request('auth', { token: 'guess-guess-guess-guess' });
    assert.equal(reply['error'].code, 'unauthorized');
    assert.ok(!JSON.stringify(reply).includes('guess-guess'), 'the token is not echoed');
    assert.equal((await within(socket.closed, 3_000, 'the close')).code, 1008);
  });

  it('no auth frame within wsAuthMsMax: the socket is closed (1008) and counted', async () => {
    const before = metricValue((await server.http('GET', '/metrics')).body, 'lockring_auth_failures_total{reason="timeout"}');
    const socket = await open();
    const startedAt = Date.now();
    const closed = await within(socket.closed, 3_000, 'the auth deadline');
    assert.equal(closed.code, 1008);
    assert.ok(Date.now() - startedAt >= 250, 'not before the deadline');
    const afterwards = metricValue((await server.http('GET', '/metrics')).body, 'lockring_auth_failures_total{reason="timeout"}');
    assert.equal(afterwards, before + 1);
  });
});

describe('watches deliver only what the token may read', () => {
  it('a prefix watch is filtered per event; names and prefixes outside every read grant are refused', async () => {
    const watcher = await open(tokens.teamA);
    assert.equal((await watcher.request('watch', { topic: 'lock', name: 'b/x' }))['error'].code, 'forbidden');
    assert.equal((await watcher.request('watch', { topic: 'lock', prefix: 'b/' }))['error'].code, 'forbidden');
    assert.equal((await watcher.request('watch', { topic: 'ring', ring: 'cache' }))['error'].code, 'forbidden');
    assert.equal((await watcher.request('watch', { topic: 'lock', prefix: 'a/sub' }))['ok'], true);
    assert.equal((await watcher.request('watch', { topic: 'ring', ring: 'shared/ring' }))['ok'], true);
    const all = await watcher.call('watch', { topic: 'lock', prefix: '' });

    const root = await open(tokens.root);
    await root.call('watch', { topic: 'lock', prefix: '' });
    for (const name of ['b/w1', 'a/w1', 'c/w1', 'shared/w1']) {
      const grant = await root.call('lock.acquire', { name, ttlMs: 10_000 });
      await root.call('lock.release', { name, token: grant['token'] });
    }
    // Root sees everything; once its last push is in, team-a's are too (same event order).
    await root.push('lock', (push) => push['name'] === 'shared/w1' && push['type'] === 'released');
    await watcher.push('lock', (push) => push['name'] === 'shared/w1' && push['type'] === 'released');
    const names = watcher.log.filter((m) => m['event'] === 'lock' && m['watchId'] === all['watchId']).map((m) => m['name']);
    assert.deepEqual([...new Set(names)], ['a/w1', 'shared/w1']);
    await watcher.close();
    await root.close();
  });
});

describe('sessions belong to their token', () => {
  it('another token can neither resume, keep alive nor revoke one, nor read its lost-lock notices', async () => {
    const a = await open(tokens.teamA);
    const session = await a.call('session.open', { ttlMs: 200 });
    await a.call('lock.acquire', { name: 'a/session-lock', leaseId: session['leaseId'] });
    const b = await open(tokens.teamB);
    assert.equal((await b.request('session.resume', { leaseId: session['leaseId'] }))['error'].code, 'forbidden');
    assert.equal((await b.request('lease.keepalive', { leaseId: session['leaseId'] }))['error'].code, 'forbidden');
    assert.equal((await b.request('lease.revoke', { leaseId: session['leaseId'] }))['error'].code, 'forbidden');
    await a.kill();
    // The session runs out its TTL without a socket: its notices wait for its owner.
    await eventually(() => !server.lockring.machine.leases.byId.has(session['leaseId']), 'the session to expire');
    const late = await b.request('session.resume', { leaseId: session['leaseId'] });
    assert.equal(late['error'].code, 'lease_not_found');
    assert.deepEqual(b.pushesOf('lease_expired'), [], 'no notices of another token');
    const owner = await open(tokens.teamA);
    const resumed = await owner.request('session.resume', { leaseId: session['leaseId'] });
    assert.equal(resumed['error'].code, 'lease_not_found');
    const notice = owner.log.find((m) => m['event'] === 'lease_expired');
    assert.deepEqual(notice?.['released'].map((hold: { name: string }) => hold.name), ['a/session-lock']);
    await b.close();
    await owner.close();
  });
});

describe('per-token caps on sockets and watches', () => {
  it('429 limit_exceeded naming the limit, while another token is still served', async () => {
    const capped = await startAuthServer({ limits: { wsSocketsPerTokenMax: 2, wsWatchesPerTokenMax: 3 } });
    try {
      const first = await open(tokens.teamA, capped);
      const second = await open(tokens.teamA, capped);
      const refused = await refusedUpgrade(capped.wsUrl, bearer(tokens.teamA));
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.limit, 'wsSocketsPerTokenMax');
      // The same cap for a socket that authenticates by frame: refused, then closed (1013).
      const late = await open(undefined, capped);
      const reply = await late.request('auth', { token: tokens.teamA });
      assert.equal(reply['error'].code, 'limit_exceeded');
      assert.equal(reply['error'].limit, 'wsSocketsPerTokenMax');
      assert.equal((await within(late.closed, 3_000, 'close')).code, 1013);
      const other = await open(tokens.teamB, capped);

      await first.call('watch', { topic: 'lock', prefix: 'a/' });
      await first.call('watch', { topic: 'lock', prefix: 'a/1' });
      await second.call('watch', { topic: 'lock', prefix: 'a/2' });
      const over = await second.request('watch', { topic: 'lock', prefix: 'a/3' });
      assert.equal(over['error'].code, 'limit_exceeded');
      assert.equal(over['error'].limit, 'wsWatchesPerTokenMax');
      assert.equal((await other.request('watch', { topic: 'lock', prefix: 'b/' }))['ok'], true);
      // A closed socket gives its share back.
      await first.close();
      await eventually(() => capped.lockring.service.usage.count('team-a', 'sockets') === 1, 'the socket to be uncounted');
      assert.equal(capped.lockring.service.usage.count('team-a', 'watches'), 1);
      assert.equal((await second.request('watch', { topic: 'lock', prefix: 'a/3' }))['ok'], true);
      const third = await open(tokens.teamA, capped);
      await third.close();
      await second.close();
      await other.close();
    } finally {
      await capped.close();
    }
  });
});

describe('a reload applies to open sockets at their next op', () => {
  it('new grants for a kept token; unauthorized for a removed one, which may authenticate again', async () => {
    const path = writeAuthFile();
    const reloading = await startAuthServer({ settings: { authFile: path } });
    try {
      const a = await open(tokens.teamA, reloading);
      const b = await open(tokens.teamB, reloading);
      assert.equal((await a.request('lock.check', { name: 'c/x', token: 1 }))['error'].code, 'forbidden');
      const rotated = 'team-b-rotated-secret-0000';
      const changed = {
        tokens: authFileJson.tokens.map((entry) => {
          if (entry.name === 'team-a') return { ...entry, grants: [{ role: 'lock', prefix: 'c/' }] };
          if (entry.name === 'team-b') return { ...entry, token: rotated };
          return entry;
        }),
      };
      writeFileSync(path, JSON.stringify(changed));
      assert.equal(reloading.lockring.reloadAuth(), true);
      assert.equal((await a.request('lock.check', { name: 'c/x', token: 1 }))['ok'], true);
      assert.equal((await a.request('lock.check', { name: 'a/x', token: 1 }))['error'].code, 'forbidden');
      assert.equal((await b.request('lock.check', { name: 'b/x', token: 1 }))['error'].code, 'unauthorized');
      assert.equal((await b.request('auth', { token: rotated }))['name'], 'team-b');
      assert.equal((await b.request('lock.check', { name: 'b/x', token: 1 }))['ok'], true);
      // A file that does not parse changes nothing.
      writeFileSync(path, '{"tokens": [');
      assert.equal(reloading.lockring.reloadAuth(), false);
      assert.equal((await a.request('lock.check', { name: 'c/x', token: 1 }))['ok'], true);
      assert.equal((await reloading.http('GET', `/v1/locks/${enc('c/x')}`, undefined, tokens.teamA)).status, 404);
      await a.close();
      await b.close();
    } finally {
      await reloading.close();
    }
  });
});

describe('clients', () => {
  it('the SDK sends authToken on HTTP and on the WebSocket upgrade; without it the server refuses', async () => {
    const { LockringClient } = await import('../../src/client/index.js');
    const overWs = new LockringClient({ url: server.base, authToken: tokens.teamA, sessionTtlMs: 0 });
    const overHttp = new LockringClient({ url: server.base, authToken: tokens.teamA, websocket: false });
    const anonymous = new LockringClient({ url: server.base, websocket: false });
    try {
      await overWs.connect();
      const held = await overWs.acquire('a/sdk', { ttlMs: 5_000, keepalive: false });
      assert.equal(held.token > 0, true);
      await held.release();
      const viaHttp = await overHttp.acquire('a/sdk-http', { ttlMs: 5_000, keepalive: false });
      await viaHttp.release();
      await assert.rejects(overHttp.acquire('b/sdk', { ttlMs: 5_000, keepalive: false }), (error: { code?: string }) => error.code === 'forbidden');
      await assert.rejects(anonymous.acquire('a/sdk', { ttlMs: 5_000, keepalive: false }), (error: { code?: string }) => error.code === 'unauthorized');
    } finally {
      await overWs.close();
      await overHttp.close();
      await anonymous.close();
    }
  });

  it('a server without auth accepts the auth frame and changes nothing', async () => {
    const open = await startAuthServer({ settings: { authFile: null } });
    try {
      const socket = await TestSocket.open(open.wsUrl);
      const reply = await socket.request('auth', { token: 'anything-at-all-0000' });
      assert.equal(reply['ok'], true);
      assert.equal(reply['name'], null);
      assert.equal((await socket.request('lease.grant', { ttlMs: 1_000 }))['ok'], true);
      await socket.close();
    } finally {
      await open.close();
    }
  });
});
