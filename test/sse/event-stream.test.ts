import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type TestServer, startServer } from '../ws/helpers.js';
import { ManualTimers, SseClient, type SseEvent } from './helpers.js';

const servers: TestServer[] = [];
const clients: SseClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.close();
});

async function serve(limits = {}, timers = new ManualTimers()): Promise<TestServer & { timers: ManualTimers }> {
  const server = await startServer(limits, { timers });
  servers.push(server);
  return Object.assign(server, { timers });
}

async function watch(server: TestServer, query: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(server.base, `/v1/watch?${query}`, headers);
  clients.push(client);
  return client;
}

const isLock = (type: string) => (event: SseEvent): boolean => event.event === 'lock' && event.data.type === type;
const watching = (event: SseEvent): boolean => event.event === 'watching';

describe('GET /v1/watch (Server-Sent Events)', () => {
  test('a lock watch streams acquired and released with ids, in the WebSocket push shape', async () => {
    const server = await serve();
    const stream = await watch(server, 'topic=lock&name=deploy%2Fapi');
    assert.equal(stream.status, 200);
    assert.match(String(stream.response.headers['content-type']), /^text\/event-stream/);
    assert.equal(stream.response.headers['cache-control'], 'no-store');
    const open = await stream.next(watching, 'the watching event');
    assert.equal(open.data.resumed, false);
    assert.equal(stream.retryMs, 1000);

    const held = await server.http('POST', '/v1/locks/deploy%2Fapi/acquire', { ttlMs: 10_000, owner: 'ci' });
    const acquired = await stream.next(isLock('acquired'), 'acquired');
    assert.deepEqual(acquired.data, {
      event: 'lock', watchId: open.data.watchId, type: 'acquired', name: 'deploy/api', token: held.body.token, owner: 'ci',
    });
    await server.http('POST', '/v1/locks/deploy%2Fapi/release', { token: held.body.token });
    const released = await stream.next(isLock('released'), 'released');
    assert.equal(released.data.token, held.body.token);
    const ids = [open.id, acquired.id, released.id].map((id) => Number(id!.split('-')[1]));
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, `ids rise: ${ids.join(', ')}`);
  });

  test('a prefix watch sees every name under its prefix and nothing else', async () => {
    const server = await serve();
    const stream = await watch(server, 'topic=lock&prefix=a%2F');
    await stream.next(watching);
    for (const name of ['b%2Fz', 'a%2Fx', 'ab', 'a%2Fy']) await server.http('POST', `/v1/locks/${name}/acquire`, { ttlMs: 10_000 });
    const first = await stream.next(isLock('acquired'));
    const second = await stream.next(isLock('acquired'));
    assert.deepEqual([first.data.name, second.data.name], ['a/x', 'a/y']);
    assert.equal(stream.log.filter((event) => event.event === 'lock').length, 2);
  });

  test('a ring watch sees members come and go with the ring version, and the ring deleted', async () => {
    const server = await serve();
    await server.http('PUT', '/v1/rings/cache', { vnodes: 16 });
    const stream = await watch(server, 'topic=ring&ring=cache');
    await stream.next(watching);
    await server.http('PUT', '/v1/rings/cache/nodes/n1', { weight: 2 });
    const put = await stream.next((event) => event.event === 'ring');
    assert.deepEqual(put.data, { event: 'ring', watchId: put.data.watchId, ring: 'cache', type: 'changed', version: 2, nodes: [{ id: 'n1', weight: 2 }] });
    await server.http('DELETE', '/v1/rings/cache');
    const deleted = await stream.next((event) => event.event === 'ring');
    assert.equal(deleted.data.type, 'deleted');
    assert.equal(deleted.data.version, 2);
  });

  test('Last-Event-ID resumes with exactly the events missed, then live ones', async () => {
    const server = await serve();
    const first = await watch(server, 'topic=lock&name=job');
    await first.next(watching);
    const a = await server.http('POST', '/v1/locks/job/acquire', { ttlMs: 10_000 });
    const seen = await first.next(isLock('acquired'));
    first.close();
    await first.ended;
    // While nobody watches: events on the name and on another name.
    await server.http('POST', '/v1/locks/job/release', { token: a.body.token });
    await server.http('POST', '/v1/locks/other/acquire', { ttlMs: 10_000 });
    const b = await server.http('POST', '/v1/locks/job/acquire', { ttlMs: 10_000 });

    const second = await watch(server, 'topic=lock&name=job', { 'last-event-id': seen.id! });
    const live = await second.next(watching);
    assert.equal(live.data.resumed, true);
    const replayed = second.log.filter((event) => event.event === 'lock').map((event) => [event.data.type, event.data.token]);
    assert.deepEqual(replayed, [['released', a.body.token], ['acquired', b.body.token]]);
    await server.http('POST', '/v1/locks/job/release', { token: b.body.token });
    assert.equal((await second.next(isLock('released'))).data.token, b.body.token);
  });

  test('an id older than the replay buffer gets a reset, and the stream goes on live', async () => {
    const server = await serve({ sseReplayEventsMax: 2 });
    const first = await watch(server, 'topic=lock&name=x');
    const start = await first.next(watching);
    first.close();
    for (let i = 0; i < 3; i++) {
      const held = await server.http('POST', '/v1/locks/x/acquire', { ttlMs: 10_000 });
      await server.http('POST', '/v1/locks/x/release', { token: held.body.token });
    }
    const second = await watch(server, 'topic=lock&name=x', { 'last-event-id': start.id! });
    const reset = await second.next((event) => event.event === 'reset', 'reset');
    assert.equal(reset.data.reason, 'too_old');
    assert.equal((await second.next(watching)).data.resumed, false);
    assert.equal(second.log.filter((event) => event.event === 'lock').length, 0, 'no partial replay');
    await server.http('POST', '/v1/locks/x/acquire', { ttlMs: 10_000 });
    await second.next(isLock('acquired'));
    const metrics = await fetch(`${server.base}/metrics`).then((res) => res.text());
    assert.match(metrics, /lockring_sse_resets_total\{reason="too_old"\} 1/);
  });

  test('an id of another server run (or garbage) is unknown: reset, never a wrong replay', async () => {
    const server = await serve();
    for (const id of ['0123456789ab-1', 'nonsense', `${server.lockring.app.eventStreams.feed.bootId}-99`]) {
      const stream = await watch(server, 'topic=lock&name=x', { 'last-event-id': id });
      assert.equal((await stream.next((event) => event.event === 'reset')).data.reason, 'unknown', id);
      stream.close();
    }
  });

  test('heartbeats are comment lines on the configured interval, and stop with the stream', async () => {
    const server = await serve();
    const stream = await watch(server, 'topic=lock&name=x');
    await stream.next(watching);
    assert.deepEqual(server.timers.intervals, [server.lockring.config.sseHeartbeatMs]);
    server.timers.fire();
    server.timers.fire();
    await stream.commentsReach(2);
    assert.ok(stream.raw.includes('\n: heartbeat\n\n'));
    stream.close();
    await eventuallyZero(() => server.timers.running);
  });

  test('the stream bounds: sseStreamsMax in total is 429 naming it, and a freed place serves again', async () => {
    const server = await serve({ sseStreamsMax: 2, sseStreamsPerTokenMax: 2 });
    const one = await watch(server, 'topic=lock&name=x');
    await watch(server, 'topic=ring&ring=r');
    const refused = await fetch(`${server.base}/v1/watch?topic=lock&name=y`);
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { error: { code: string; limit: string } };
    assert.equal(body.error.code, 'limit_exceeded');
    assert.equal(body.error.limit, 'sseStreamsMax');
    one.close();
    await eventuallyZero(() => server.lockring.app.eventStreams.open.size - 1);
    const again = await watch(server, 'topic=lock&name=y');
    assert.equal(again.status, 200);
  });

  test('a reader whose unsent bytes pass sseSendBufferBytesMax is cut and counted', async () => {
    const server = await serve({ sseSendBufferBytesMax: 64 * 1024 });
    const stream = await watch(server, 'topic=ring&ring=big');
    await stream.next(watching);
    stream.response.pause();
    const { service } = server.lockring;
    // Each change pushes every member: a few hundred of them fill any socket buffer.
    const id = (i: number): string => `node-${String(i).padStart(200, '0')}`;
    for (let i = 0; i < 400; i++) await service.putNode('big', id(i), { weight: 1 });
    for (let round = 0; round < 200 && server.lockring.app.eventStreams.open.size > 0; round++) {
      await service.putNode('big', id(round % 400), { weight: 1 + (round % 2) });
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(server.lockring.app.eventStreams.open.size, 0, 'the slow stream was cut');
    const metrics = await fetch(`${server.base}/metrics`).then((res) => res.text());
    assert.match(metrics, /lockring_sse_slow_closed_total 1/);
  });
});

/** Bounded wait for server-side cleanup that no event announces. */
async function eventuallyZero(value: () => number): Promise<void> {
  for (let i = 0; i < 500 && value() !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(value(), 0);
}
