/**
 * Abuse limits: request rates per token and per client address, per-token
 * caps on leases and queued acquires, slow clients (slowloris) and the connection
 * cap. Each refusal is a 429 naming its limit (or a cut connection), is counted in
 * the metrics, and the server keeps serving everyone else.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { type Socket, connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { TestSocket, within } from '../ws/helpers.js';
import { type AuthServer, bearer, metricValue, startAuthServer, tokens } from './helpers.js';

const servers: AuthServer[] = [];
const rawSockets: Socket[] = [];
after(async () => {
  for (const socket of rawSockets) socket.destroy();
  for (const server of servers) await server.close();
});

async function start(options: Parameters<typeof startAuthServer>[0]): Promise<AuthServer> {
  const server = await startAuthServer(options);
  servers.push(server);
  return server;
}

const enc = encodeURIComponent;
const metric = async (server: AuthServer, series: string): Promise<number> => metricValue((await server.http('GET', '/metrics')).body, series);

/** A GET from a chosen loopback source address (127.0.0.2 is another client to the server). */
function getFrom(localAddress: string, port: number, path: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, localAddress, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('request rate limits', () => {
  // Requests are sent together, so that the bucket cannot refill much in between even
  // on a slow machine: of 15 at a rate of 3 a second, most must be refused.
  it('per token: 429 naming requestsPerSecondPerTokenMax with a retry hint, while another token is served', async () => {
    const server = await start({ limits: { requestsPerSecondPerTokenMax: 3 } });
    const before = await metric(server, 'lockring_rate_limited_total{scope="token"}');
    const answers = await Promise.all(Array.from({ length: 15 }, () => server.http('GET', '/v1/locks', undefined, tokens.teamA)));
    const served = answers.filter((res) => res.status === 200).length;
    const refusals = answers.filter((res) => res.status === 429);
    assert.ok(served >= 3 && refusals.length >= 8, `served ${served}, refused ${refusals.length}`);
    assert.equal(served + refusals.length, 15);
    const refusal = refusals[0]!;
    assert.equal(refusal.body.error.code, 'limit_exceeded');
    assert.equal(refusal.body.error.limit, 'requestsPerSecondPerTokenMax');
    assert.equal(refusal.body.error.max, 3);
    assert.ok(refusal.body.error.retryAfterMs > 0);
    assert.equal(refusal.headers.get('retry-after'), '1');
    assert.equal((await server.http('GET', '/v1/locks', undefined, tokens.teamB)).status, 200, 'another token is served');
    assert.ok((await metric(server, 'lockring_rate_limited_total{scope="token"}')) >= before + 8);
    assert.ok((await metric(server, 'lockring_limit_exceeded_total{limit="requestsPerSecondPerTokenMax"}')) >= 8);

    // WebSocket frames draw from the same bucket.
    const socket = await TestSocket.open(server.wsUrl, bearer(tokens.teamB));
    const replies = await Promise.all(Array.from({ length: 15 }, () => socket.request('lock.check', { name: 'b/x', token: 1 })));
    const limited = replies.filter((reply) => reply['ok'] === false);
    assert.ok(limited.length >= 8, `${limited.length} frames refused`);
    assert.equal(limited[0]!['error'].limit, 'requestsPerSecondPerTokenMax');
    await socket.close();
    // The bucket refills: a second later team-a is served again.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await server.http('GET', '/v1/locks', undefined, tokens.teamA)).status, 200);
  });

  it('per address: 429 naming requestsPerSecondPerIpMax, before authentication; other addresses and probes are served', async () => {
    const server = await start({ limits: { requestsPerSecondPerIpMax: 3 } });
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) => server.http('GET', '/v1/locks', undefined, i % 2 === 0 ? tokens.teamA : 'bad-token-0000000000000')),
    );
    const refusals = answers.filter((res) => res.status === 429);
    assert.ok(refusals.length >= 8, answers.map((res) => res.status).join());
    assert.equal(refusals[0]!.body.error.limit, 'requestsPerSecondPerIpMax');
    assert.equal(await getFrom('127.0.0.2', server.port, '/v1/locks', tokens.teamA), 200, 'another address is served');
    assert.equal(await getFrom('127.0.0.1', server.port, '/healthz'), 200, 'probes are not rate limited');
    assert.ok((await metric(server, 'lockring_rate_limited_total{scope="ip"}')) >= 8);
  });

  it('is off by default', async () => {
    const server = await start({});
    const answers = await Promise.all(Array.from({ length: 50 }, () => server.http('GET', '/v1/locks', undefined, tokens.teamA)));
    assert.ok(answers.every((res) => res.status === 200));
  });
});

describe('per-token caps on leases and queued acquires', () => {
  it('leasesPerTokenMax: leases, sessions and ttlMs acquires count; the others are served; revoking frees a place', async () => {
    const server = await start({ limits: { leasesPerTokenMax: 3 } });
    const leases = [];
    for (let i = 0; i < 2; i++) leases.push((await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamA)).body.id);
    const hold = await server.http('POST', `/v1/locks/${enc('a/one')}/acquire`, { ttlMs: 60_000 }, tokens.teamA);
    assert.equal(hold.status, 200);
    const refused = await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamA);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.limit, 'leasesPerTokenMax');
    assert.equal(refused.body.error.max, 3);
    const acquire = await server.http('POST', `/v1/locks/${enc('a/two')}/acquire`, { ttlMs: 60_000 }, tokens.teamA);
    assert.equal(acquire.body.error.limit, 'leasesPerTokenMax');
    // On a lease it already has, team-a may still lock.
    assert.equal((await server.http('POST', `/v1/locks/${enc('a/two')}/acquire`, { leaseId: leases[0] }, tokens.teamA)).status, 200);
    const socket = await TestSocket.open(server.wsUrl, bearer(tokens.teamA));
    assert.equal((await socket.request('session.open', { ttlMs: 5_000 }))['error'].limit, 'leasesPerTokenMax');
    await socket.close();
    assert.equal((await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamB)).status, 201, 'another token is served');
    assert.equal((await server.http('DELETE', `/v1/leases/${leases[1]}`, undefined, tokens.teamA)).status, 200);
    assert.equal((await server.http('POST', '/v1/leases', { ttlMs: 60_000 }, tokens.teamA)).status, 201);
    assert.equal(server.lockring.service.usage.count('team-a', 'leases'), 3);
  });

  it('waitersPerTokenMax: a waiting acquire past it is refused, a free lock is still granted, a gone waiter frees its place', async () => {
    const server = await start({ limits: { waitersPerTokenMax: 2 } });
    await server.http('POST', `/v1/locks/${enc('a/busy')}/acquire`, { ttlMs: 60_000 }, tokens.root);
    await server.http('POST', `/v1/locks/${enc('b/busy')}/acquire`, { ttlMs: 60_000 }, tokens.root);
    const aborts = [new AbortController(), new AbortController()];
    const waiting = aborts.map((controller) =>
      fetch(`${server.base}/v1/locks/${enc('a/busy')}/acquire`, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: `Bearer ${tokens.teamA}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ttlMs: 60_000, waitMs: 30_000 }),
      }).catch(() => undefined),
    );
    const queued = async (): Promise<number> => (await server.http('GET', `/v1/locks/${enc('a/busy')}`, undefined, tokens.root)).body.waiters;
    for (let i = 0; i < 100 && (await queued()) < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await queued(), 2);
    const refused = await server.http('POST', `/v1/locks/${enc('a/busy')}/acquire`, { ttlMs: 60_000, waitMs: 10_000 }, tokens.teamA);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.limit, 'waitersPerTokenMax');
    assert.equal(await queued(), 2, 'the refused acquire did not queue');
    const free = await server.http('POST', `/v1/locks/${enc('a/free')}/acquire`, { ttlMs: 60_000, waitMs: 10_000 }, tokens.teamA);
    assert.equal(free.status, 200, 'a lock that is free needs no place in a queue');
    const otherTeam = fetch(`${server.base}/v1/locks/${enc('b/busy')}/acquire`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.teamB}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlMs: 60_000, waitMs: 100 }),
    });
    assert.equal((await otherTeam).status, 409, 'team-b queued (and timed out) as usual');
    aborts[0]!.abort();
    for (let i = 0; i < 100 && server.lockring.service.usage.count('team-a', 'waiters') > 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const late = fetch(`${server.base}/v1/locks/${enc('a/busy')}/acquire`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.teamA}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttlMs: 60_000, waitMs: 100 }),
    });
    assert.equal((await late).status, 409, 'queued again (then timed out), not refused');
    aborts[1]!.abort();
    await Promise.all(waiting);
  });
});

/** Opens a raw TCP connection to the server and records when it is closed. */
async function rawConnection(port: number): Promise<{ socket: Socket; closed: Promise<number>; received: () => string }> {
  const socket = connect(port, '127.0.0.1');
  rawSockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('latin1')));
  socket.on('error', () => {});
  const openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  return { socket, closed, received: () => received };
}

describe('slow clients (slowloris) and the connection cap', () => {
  it('headers or a body that do not arrive in time get the connection cut; everyone else is served meanwhile', async () => {
    const server = await start({ limits: { httpHeadersMsMax: 300, httpRequestMsMax: 600 } });
    const before = await metric(server, 'lockring_http_client_errors_total{reason="timeout"}');
    const slowHeaders = await rawConnection(server.port);
    slowHeaders.socket.write('GET /v1/locks HTTP/1.1\r\nhost: x\r\n');
    const drip = setInterval(() => slowHeaders.socket.write('x-drip: 1\r\n'), 100);
    const slowBody = await rawConnection(server.port);
    slowBody.socket.write(`POST /v1/leases HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${tokens.teamA}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"tt`);
    const silent = await rawConnection(server.port);
    try {
      for (let i = 0; i < 5; i++) {
        assert.equal((await server.http('GET', '/healthz')).status, 200);
        assert.equal((await server.http('GET', '/v1/locks', undefined, tokens.teamA)).status, 200);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const cutHeaders = await within(slowHeaders.closed, 5_000, 'the slow-headers connection to be cut');
      const cutBody = await within(slowBody.closed, 5_000, 'the slow-body connection to be cut');
      const cutSilent = await within(silent.closed, 5_000, 'the silent connection to be cut');
      assert.ok(cutHeaders >= 250 && cutHeaders < 3_000, `headers cut after ${cutHeaders} ms`);
      assert.ok(cutBody >= 550 && cutBody < 3_000, `body cut after ${cutBody} ms`);
      assert.ok(cutSilent < 3_000, `silent cut after ${cutSilent} ms`);
      assert.match(slowBody.received(), /^HTTP\/1\.1 408/);
    } finally {
      clearInterval(drip);
    }
    assert.ok((await metric(server, 'lockring_http_client_errors_total{reason="timeout"}')) >= before + 2);
    assert.equal(server.lockring.machine.leases.byId.size, 0, 'the half-sent lease grant did nothing');
  });

  it('a request line and headers past 16 KiB get 413 payload_too_large in the error envelope, and are counted', async () => {
    const server = await start({});
    const before = await metric(server, 'lockring_http_client_errors_total{reason="header_overflow"}');
    const huge = await rawConnection(server.port);
    huge.socket.write(`GET /v1/locks/${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    await within(huge.closed, 5_000, 'the oversized request to be answered and closed');
    const [head, body] = huge.received().split('\r\n\r\n');
    assert.match(head!, /^HTTP\/1\.1 413 /);
    assert.match(head!, /content-type: application\/json/i);
    assert.equal(JSON.parse(body!).error.code, 'payload_too_large');
    assert.equal(await metric(server, 'lockring_http_client_errors_total{reason="header_overflow"}'), before + 1);
  });

  it('the request deadline does not cut a waiting acquire once its request has arrived', async () => {
    const server = await start({ limits: { httpHeadersMsMax: 200, httpRequestMsMax: 300 } });
    const holder = await server.http('POST', `/v1/locks/${enc('a/long')}/acquire`, { ttlMs: 60_000 }, tokens.teamA);
    const waiter = server.http('POST', `/v1/locks/${enc('a/long')}/acquire`, { ttlMs: 60_000, waitMs: 5_000 }, tokens.teamA);
    await new Promise((resolve) => setTimeout(resolve, 900));
    await server.http('POST', `/v1/locks/${enc('a/long')}/release`, { token: holder.body.token }, tokens.teamA);
    const granted = await waiter;
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
  });

  it('past connectionsMax new connections are dropped and counted; freed places serve again', async () => {
    const server = await start({ limits: { connectionsMax: 4, wsSocketsMax: 2 } });
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await rawConnection(server.port));
    const dropped = await rawConnection(server.port);
    await within(dropped.closed, 3_000, 'the fifth connection to be dropped');
    for (const connection of held) connection.socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await server.http('GET', '/healthz')).status, 200);
    assert.ok((await metric(server, 'lockring_connections_dropped_total')) >= 1);
  });
});
