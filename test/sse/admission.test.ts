import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { makeConfig } from '../../src/config.js';
import type { Durability } from '../../src/store/durability.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { type AuthServer, startAuthServer, tokens } from '../auth/helpers.js';
import { expectError, expectInvalid, startApi } from '../helpers/http.js';
import { startServer } from '../ws/helpers.js';
import { SseClient, type SseEvent } from './helpers.js';

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function open(base: string, query: string, token?: string): Promise<SseClient> {
  const client = await SseClient.open(base, `/v1/watch?${query}`, token === undefined ? {} : { authorization: `Bearer ${token}` });
  closers.push(() => client.close());
  return client;
}

const watching = (event: SseEvent): boolean => event.event === 'watching';

describe('GET /v1/watch refuses what it cannot follow, before any stream opens', () => {
  test('bad query parameters are 400 invalid_request naming the field', async () => {
    const api = await startApi();
    closers.push(() => api.close());
    const cases: [string, string][] = [
      ['', 'topic'],
      ['topic=locks&name=a', 'topic'],
      ['topic=lock', 'name'],
      ['topic=lock&name=a&prefix=b', 'name'],
      ['topic=lock&ring=r', 'ring'],
      ['topic=ring', 'ring'],
      ['topic=ring&ring=r&name=a', 'name'],
      ['topic=lock&name=a&name=b', 'name'],
      ['topic=lock&name=a&since=3', 'since'],
      ['topic=lock&name=%FF', 'name'],
      [`topic=lock&name=${'x'.repeat(257)}`, 'name'],
      ['topic=lock&name=a%01b', 'name'],
    ];
    for (const [query, field] of cases) expectInvalid(await api.call('GET', `/v1/watch?${query}`), field);
    assert.equal(api.lockring.app.eventStreams.open.size, 0, 'no stream was opened');
  });

  test('an empty prefix watches every lock', async () => {
    const server = await startServer();
    closers.push(() => server.close());
    const stream = await open(server.base, 'topic=lock&prefix=');
    await stream.next(watching);
    await server.http('POST', '/v1/locks/anything/acquire', { ttlMs: 10_000 });
    assert.equal((await stream.next((event) => event.event === 'lock')).data.name, 'anything');
  });
});

describe('event streams with auth', () => {
  let server: AuthServer;
  test('start', async () => {
    server = await startAuthServer({ limits: { sseStreamsPerTokenMax: 1 } });
    closers.push(() => server.close());
  });

  test('no token is 401, a name outside the grants is 403', async () => {
    const missing = await fetch(`${server.base}/v1/watch?topic=lock&name=a/x`);
    assert.equal(missing.status, 401);
    const outside = await fetch(`${server.base}/v1/watch?topic=lock&name=b/x`, { headers: { authorization: `Bearer ${tokens.teamA}` } });
    assert.equal(outside.status, 403);
    assert.equal(((await outside.json()) as { error: { code: string } }).error.code, 'forbidden');
  });

  test('a prefix stream shows only the names its token may read', async () => {
    const stream = await open(server.base, 'topic=lock&prefix=', tokens.teamA);
    assert.equal(stream.status, 200);
    await stream.next(watching);
    await server.http('POST', '/v1/locks/b%2Fsecret/acquire', { ttlMs: 10_000 }, tokens.teamB);
    await server.http('POST', '/v1/locks/a%2Fmine/acquire', { ttlMs: 10_000 }, tokens.teamA);
    assert.equal((await stream.next((event) => event.event === 'lock')).data.name, 'a/mine');
    assert.deepEqual(stream.log.filter((event) => event.event === 'lock').map((event) => event.data.name), ['a/mine']);
  });

  test('sseStreamsPerTokenMax: one token cannot take every stream', async () => {
    const refused = await fetch(`${server.base}/v1/watch?topic=lock&name=a/x`, { headers: { authorization: `Bearer ${tokens.teamA}` } });
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: { limit: string } }).error.limit, 'sseStreamsPerTokenMax');
    const other = await open(server.base, 'topic=lock&name=b/x', tokens.teamB);
    assert.equal(other.status, 200, 'another token still gets its stream');
  });
});

describe('event streams and durability', () => {
  test('nothing is streamed before the log is durable', async () => {
    // A log whose fsyncs the test holds back, then lets through.
    let holding = false;
    let appended = 0;
    let durableAt = 0;
    const waiting: (() => void)[] = [];
    const whenDurable = (position: number): Promise<void> | undefined =>
      !holding || position <= durableAt ? undefined : new Promise<void>((resolve) => waiting.push(resolve));
    const durability: Durability & { epoch: number } = {
      epoch: 1,
      appendedPosition: () => appended,
      durablePosition: () => (holding ? durableAt : appended),
      whenDurable,
      settled: () => whenDurable(appended),
      backlogBytes: () => 0,
      close: async () => {},
    };
    const hold = (): void => {
      holding = true;
      durableAt = appended;
    };
    const flush = (): void => {
      holding = false;
      durableAt = appended;
      for (const resolve of waiting.splice(0)) resolve();
    };
    const lockring: Lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, port: 0 }), {
      openDurability: async (machine) => {
        machine.subscribe(() => (appended += 1));
        return durability;
      },
    });
    await lockring.app.listen({ host: '127.0.0.1', port: 0 });
    await lockring.start();
    closers.push(() => lockring.close());
    const base = `http://127.0.0.1:${(lockring.app.server.address() as { port: number }).port}`;
    const stream = await open(base, 'topic=lock&name=d');
    await stream.next(watching);

    hold();
    const reply = fetch(`${base}/v1/locks/d/acquire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ttlMs":10000}' });
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(lockring.machine.locks.holdCount, 1, 'the acquire ran');
    assert.equal(stream.log.filter((event) => event.event === 'lock').length, 0, 'not streamed while the log is not durable');
    flush();
    const acquired = await stream.next((event) => event.event === 'lock');
    assert.equal(acquired.data.token, ((await (await reply).json()) as { token: number }).token);
  });

  test('a validation error never opens a stream (inject)', async () => {
    const api = await startApi();
    closers.push(() => api.close());
    expectError(await api.call('GET', '/v1/watch?topic=ring&ring='), 400, 'invalid_request');
  });
});

describe('event streams and shutdown', () => {
  test('a graceful stop ends every open stream instead of waiting on it', async () => {
    const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, port: 0 }));
    await lockring.app.listen({ host: '127.0.0.1', port: 0 });
    await lockring.start();
    const base = `http://127.0.0.1:${(lockring.app.server.address() as { port: number }).port}`;
    const streams = [await open(base, 'topic=lock&name=a'), await open(base, 'topic=ring&ring=r')];
    for (const stream of streams) await stream.next(watching);
    await lockring.close();
    for (const stream of streams) await stream.body();
    assert.equal(lockring.app.eventStreams.open.size, 0);
  });
});
