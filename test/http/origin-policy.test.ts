import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type Config, ConfigError, loadConfig, makeConfig } from '../../src/config.js';
import { OriginPolicy } from '../../src/http/origin-policy.js';
import { type Lockring, buildServer } from '../../src/server.js';

const dashboard = 'https://dash.example:8443';

async function server(overrides: Partial<Omit<Config, 'limits'>> = {}): Promise<Lockring> {
  const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, ...overrides }));
  await lockring.start();
  return lockring;
}

const acquire = (lockring: Lockring, headers: Record<string, string>, name = 'jobs/a') =>
  lockring.app.inject({ method: 'POST', url: `/v1/locks/${encodeURIComponent(name)}/acquire`, payload: { ttlMs: 10_000 }, headers });

describe('Host and Origin checks, default policy (loopback, no auth)', () => {
  let lockring: Lockring;
  before(async () => (lockring = await server()));
  after(async () => lockring.close());

  it('a rebinding Host gets 403 forbidden naming the header, and takes no lock', async () => {
    const reply = await acquire(lockring, { host: 'attacker.example:7420' });
    assert.equal(reply.statusCode, 403);
    assert.equal(reply.json().error.code, 'forbidden');
    assert.equal(reply.json().error.header, 'host');
    const look = await lockring.app.inject({ method: 'GET', url: '/v1/locks/jobs%2Fa' });
    assert.equal(look.statusCode, 404);
  });

  it('every loopback name is served, with or without a port', async () => {
    for (const host of ['localhost', 'localhost:7420', '127.0.0.1:7420', '127.8.9.1', '[::1]:7420', 'LOCALHOST:1']) {
      const reply = await lockring.app.inject({ method: 'GET', url: '/v1/rings', headers: { host } });
      assert.equal(reply.statusCode, 200, host);
    }
  });

  it('a page of another origin gets 403 and takes no lock; the explorer page on this origin is served', async () => {
    const foreign = await acquire(lockring, { host: '127.0.0.1:7420', origin: 'https://evil.example' });
    assert.equal(foreign.statusCode, 403);
    assert.equal(foreign.json().error.header, 'origin');
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
    assert.equal((await lockring.app.inject({ method: 'GET', url: '/v1/locks/jobs%2Fa' })).statusCode, 404);
    for (const origin of ['null', 'http://127.0.0.1:7421', 'https://127.0.0.1:7420']) {
      assert.equal((await acquire(lockring, { host: '127.0.0.1:7420', origin })).statusCode, 403, origin);
    }
    const same = await acquire(lockring, { host: '127.0.0.1:7420', origin: 'http://127.0.0.1:7420' });
    assert.equal(same.statusCode, 200, same.body);
  });

  it('a request without Origin (curl, SDKs) is served', async () => {
    assert.equal((await acquire(lockring, { host: 'localhost' }, 'jobs/b')).statusCode, 200);
  });

  it('a preflight from an origin not configured is refused', async () => {
    const reply = await lockring.app.inject({
      method: 'OPTIONS', url: '/v1/locks/x/acquire',
      headers: { host: 'localhost', origin: dashboard, 'access-control-request-method': 'POST' },
    });
    assert.equal(reply.statusCode, 403);
    assert.equal(reply.headers['access-control-allow-origin'], undefined);
  });
});

describe('CORS for a configured origin', () => {
  let lockring: Lockring;
  before(async () => (lockring = await server({ allowedOrigins: [dashboard] })));
  after(async () => lockring.close());

  it('answers the preflight with the methods and the headers a client sends', async () => {
    const reply = await lockring.app.inject({
      method: 'OPTIONS', url: '/v1/locks/x/acquire',
      headers: { host: 'localhost', origin: dashboard, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(reply.statusCode, 204);
    assert.equal(reply.headers['access-control-allow-origin'], dashboard);
    assert.match(String(reply.headers['access-control-allow-methods']), /POST/);
    assert.deepEqual(String(reply.headers['access-control-allow-headers']).split(', ').sort(), ['authorization', 'content-type']);
    assert.match(String(reply.headers['vary']), /origin/i);
  });

  it('lets the configured page take a lock and read errors, and still refuses others', async () => {
    const granted = await acquire(lockring, { host: 'localhost', origin: dashboard });
    assert.equal(granted.statusCode, 200);
    assert.equal(granted.headers['access-control-allow-origin'], dashboard);
    const held = await acquire(lockring, { host: 'localhost', origin: dashboard });
    assert.equal(held.statusCode, 409);
    assert.equal(held.headers['access-control-allow-origin'], dashboard, 'a page can read why it was refused');
    assert.equal((await acquire(lockring, { host: 'localhost', origin: 'https://evil.example' }, 'jobs/c')).statusCode, 403);
  });
});

describe('WebSocket upgrades', () => {
  let lockring: Lockring;
  let url: string;
  before(async () => {
    lockring = await server({ allowedOrigins: [dashboard], port: 0 });
    await lockring.app.listen({ host: '127.0.0.1', port: 0 });
    url = `ws://127.0.0.1:${(lockring.app.server.address() as AddressInfo).port}/v1/ws`;
  });
  after(async () => lockring.close());

  const upgrade = async (options: WebSocket.ClientOptions): Promise<number | 'open'> => {
    const socket = new WebSocket(url, options);
    const result = await Promise.race([
      once(socket, 'open').then(() => 'open' as const),
      once(socket, 'unexpected-response').then(([, response]) => (response as { statusCode: number }).statusCode),
    ]);
    socket.terminate();
    return result;
  };

  it('an upgrade from a foreign origin is refused with 403; no socket opens', async () => {
    assert.equal(await upgrade({ origin: 'https://evil.example' }), 403);
    assert.equal(await upgrade({ headers: { host: 'attacker.example' } }), 403);
    assert.equal(lockring.app.wsHub.connections.size, 0);
  });

  it('an upgrade from a configured origin, or from no browser at all, opens', async () => {
    assert.equal(await upgrade({ origin: dashboard }), 'open');
    assert.equal(await upgrade({}), 'open');
  });
});

describe('the policy defaults', () => {
  it('without auth on loopback only loopback names; with auth, or on another address, any Host', () => {
    const base = { allowedOrigins: [], allowedHosts: null } as const;
    assert.equal(new OriginPolicy({ ...base, host: '127.0.0.1', authFile: null }).hostAllowed('evil.example'), false);
    assert.equal(new OriginPolicy({ ...base, host: '::1', authFile: null }).hostAllowed('[::1]:9'), true);
    assert.equal(new OriginPolicy({ ...base, host: '127.0.0.1', authFile: '/tokens.json' }).hostAllowed('lockring.internal'), true);
    assert.equal(new OriginPolicy({ ...base, host: '0.0.0.0', authFile: null }).hostAllowed('lockring.internal'), true);
    const listed = new OriginPolicy({ ...base, host: '127.0.0.1', authFile: null, allowedHosts: ['lockring.internal'] });
    assert.equal(listed.hostAllowed('lockring.internal:7420'), true);
    assert.equal(listed.hostAllowed('localhost'), false, 'a configured list replaces the loopback default');
    assert.equal(listed.hostAllowed(undefined), false);
  });

  it('* allows every origin', () => {
    const policy = new OriginPolicy({ host: '127.0.0.1', authFile: null, allowedHosts: null, allowedOrigins: ['*'] });
    assert.equal(policy.origin('https://anything.example', 'localhost', 'http'), 'allowed');
  });
});

describe('allowedOrigins and allowedHosts configuration', () => {
  it('reads comma lists from flags and environment, and arrays from the config file', () => {
    const env = { LOCKRING_ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080', LOCKRING_ALLOWED_HOSTS: 'lockring.internal' };
    const fromEnv = loadConfig({ env }).config;
    assert.deepEqual(fromEnv.allowedOrigins, ['https://a.example', 'http://b.example:8080']);
    assert.deepEqual(fromEnv.allowedHosts, ['lockring.internal']);
    const fromFlag = loadConfig({ env: {}, flags: { allowedOrigins: 'https://c.example' } }).config;
    assert.deepEqual(fromFlag.allowedOrigins, ['https://c.example']);
    assert.equal(fromFlag.allowedHosts, null);
  });

  it('refuses an origin with a path, a host with a port, and non-http schemes, naming the key', () => {
    for (const allowedOrigins of [['https://a.example/'], ['https://a.example/x'], ['ftp://a.example'], ['a.example']]) {
      assert.throws(() => makeConfig({ allowedOrigins }), (e: unknown) => e instanceof ConfigError && /allowedOrigins/.test(e.message));
    }
    for (const allowedHosts of [['a.example:80'], ['http://a.example'], ['']]) {
      assert.throws(() => makeConfig({ allowedHosts }), (e: unknown) => e instanceof ConfigError && /allowedHosts/.test(e.message));
    }
  });
});
