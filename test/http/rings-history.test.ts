import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Api, expectError, expectInvalid, expectStatus, startApi } from '../helpers/http.js';

const circleMax = 4294967295;

describe('HTTP rings: diff between versions', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ limits: { ringHistoryVersionsMax: 20, ringDiffRangesPageMax: 2_000 } });
    for (const id of ['a', 'b', 'c']) expectStatus(await api.call('PUT', `/v1/rings/d/nodes/${id}`, {}), 201);
  });
  after(() => api.close());

  test('lists the moved ranges with old and new owners; every position of a key that moved is in one', async () => {
    expectStatus(await api.call('PUT', '/v1/rings/d/nodes/e', {}), 201);
    const diff = expectStatus(await api.call('GET', '/v1/rings/d/diff?from=4&to=5'), 200);
    assert.deepEqual(Object.keys(diff).sort(), ['from', 'n', 'ranges', 'ring', 'to', 'version']);
    assert.equal(diff.version, 5);
    assert.ok(diff.ranges.length > 0);
    for (const range of diff.ranges) {
      assert.ok(Number.isInteger(range.start) && range.start <= range.end && range.end <= circleMax);
      assert.deepEqual(range.after, ['e'], 'only the new node gains keys');
    }
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const old = expectStatus(await api.call('POST', '/v1/rings/d/lookup', { keys, previous: 4 }), 200);
    const moved = keys.filter((_, i) => old.nodes[i][0] !== old.previous.nodes[i][0]);
    assert.ok(moved.length > 0 && moved.length < keys.length);
    assert.ok(moved.every((_, i) => old.nodes[keys.indexOf(moved[i]!)][0] === 'e'));
  });

  test('n > 1 lists replica sets; reversed versions swap before and after', async () => {
    const forward = expectStatus(await api.call('GET', '/v1/rings/d/diff?from=4&to=5&n=2'), 200);
    const backward = expectStatus(await api.call('GET', '/v1/rings/d/diff?from=5&to=4&n=2'), 200);
    assert.equal(forward.n, 2);
    assert.ok(forward.ranges.every((r: { before: string[]; after: string[] }) => r.before.length === 2 && r.after.length === 2));
    assert.deepEqual(
      backward.ranges,
      forward.ranges.map((r: { start: number; end: number; before: string[]; after: string[] }) => ({ ...r, before: r.after, after: r.before })),
    );
    assert.deepEqual(expectStatus(await api.call('GET', '/v1/rings/d/diff?from=5&to=5'), 200).ranges, []);
  });

  test('pages with limit and start, next naming where the next page starts', async () => {
    const first = expectStatus(await api.call('GET', '/v1/rings/d/diff?from=1&to=2'), 200);
    assert.deepEqual(first.ranges, [{ start: 0, end: circleMax, before: [], after: ['a'] }], 'an empty ring to one node: the whole circle moved');
    const whole = expectStatus(await api.call('GET', '/v1/rings/d/diff?from=2&to=5&limit=2000'), 200);
    assert.equal(whole.next, undefined);
    assert.ok(whole.ranges.length > 8);
    const pages = [];
    let url = '/v1/rings/d/diff?from=2&to=5&limit=4';
    for (let i = 0; i < 1_000; i++) {
      const page = expectStatus(await api.call('GET', url), 200);
      assert.ok(page.ranges.length <= 4);
      pages.push(...page.ranges);
      if (page.next === undefined) break;
      url = `/v1/rings/d/diff?from=2&to=5&limit=4&start=${page.next}`;
    }
    assert.deepEqual(pages, whole.ranges);
  });

  test('bad or missing parameters are invalid_request naming the field', async () => {
    for (const [query, field] of [
      ['to=2', 'from'],
      ['from=1', 'to'],
      ['from=0&to=1', 'from'],
      ['from=1&to=x', 'to'],
      ['from=1&to=2&n=17', 'n'],
      ['from=1&to=2&limit=2001', 'limit'],
      ['from=1&to=2&limit=0', 'limit'],
      ['from=1&to=2&start=4294967296', 'start'],
      ['from=1&to=2&extra=1', 'extra'],
    ] as const) {
      expectInvalid(await api.call('GET', `/v1/rings/d/diff?${query}`), field);
    }
    expectError(await api.call('GET', '/v1/rings/missing/diff?from=1&to=2'), 404, 'ring_not_found');
  });

  test('a version no longer kept, or not reached yet, is 409 version_unavailable with the range kept', async () => {
    for (let w = 1; w <= 25; w++) expectStatus(await api.call('PUT', '/v1/rings/d/nodes/a', { weight: 1 + (w % 2) }), 200);
    const ring = expectStatus(await api.call('GET', '/v1/rings/d'), 200);
    const gone = expectError(await api.call('GET', '/v1/rings/d/diff?from=1&to=2'), 409, 'version_unavailable');
    assert.deepEqual(gone, { code: 'version_unavailable', message: gone.message, ring: 'd', version: 1, oldest: ring.version - 20, current: ring.version });
    const ahead = expectError(await api.call('GET', `/v1/rings/d/diff?from=${ring.version}&to=${ring.version + 1}`), 409, 'version_unavailable');
    assert.equal(ahead.version, ring.version + 1);
    expectStatus(await api.call('GET', `/v1/rings/d/diff?from=${ring.version - 20}&to=${ring.version}`), 200);
  });
});

describe('HTTP rings: answers about past versions wait for the log', () => {
  test('a diff and a handover lookup are not sent before the log is durable', async () => {
    const api = await startApi();
    try {
      for (const id of ['a', 'b']) expectStatus(await api.call('PUT', `/v1/rings/w/nodes/${id}`, {}), 201);
      const service = api.lockring.service;
      const real = service.durability;
      // A log with one record appended and not yet durable, until release().
      let durable = 0;
      let release = (): void => {};
      const gate = new Promise<void>((resolve) => (release = () => ((durable = 1), resolve())));
      service.durability = { ...real, appendedPosition: () => 1, durablePosition: () => durable, whenDurable: () => (durable >= 1 ? undefined : gate) };
      let answered = 0;
      const replies = [
        api.call('GET', '/v1/rings/w/diff?from=2&to=3'),
        api.call('GET', '/v1/rings/w/lookup?key=k&previous=2'),
      ].map((reply) => reply.then((r) => ((answered += 1), r)));
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(answered, 0, 'nothing went out before the log was durable');
      release();
      for (const reply of await Promise.all(replies)) expectStatus(reply, 200);
      service.durability = real;
    } finally {
      await api.close();
    }
  });
});

describe('HTTP rings: handover lookups', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
    for (const id of ['a', 'b']) expectStatus(await api.call('PUT', `/v1/rings/h/nodes/${id}`, {}), 201);
    expectStatus(await api.call('PUT', '/v1/rings/h/nodes/c', {}), 201);
  });
  after(() => api.close());

  test('GET lookup with previous answers the owners now and at that version', async () => {
    const now = expectStatus(await api.call('GET', '/v1/rings/h/lookup?key=user:1&n=2'), 200);
    const then = expectStatus(await api.call('GET', '/v1/rings/h/lookup?key=user:1&n=2&version=4&previous=3'), 200);
    assert.deepEqual(then, { ...now, previous: { version: 3, nodes: then.previous.nodes } });
    const only = new Set(then.previous.nodes);
    assert.ok(!only.has('c') && then.previous.nodes.length === 2, 'version 3 had only a and b');
    assert.equal(now.previous, undefined);
  });

  test('POST lookup with previous gives both lists in key order', async () => {
    const keys = ['x', 'y', 'z'];
    const got = expectStatus(await api.call('POST', '/v1/rings/h/lookup', { keys, n: 1, previous: 2 }), 200);
    assert.deepEqual(got.previous, { version: 2, nodes: [['a'], ['a'], ['a']] });
    assert.equal(got.nodes.length, 3);
    expectInvalid(await api.call('POST', '/v1/rings/h/lookup', { keys, previous: '2' }), 'previous');
    expectInvalid(await api.call('GET', '/v1/rings/h/lookup?key=x&previous=0'), 'previous');
    expectError(await api.call('GET', '/v1/rings/h/lookup?key=x&previous=9'), 409, 'version_unavailable');
  });
});

describe('HTTP rings: algorithm', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('PUT takes algorithm ketama; GET and the list show it; the default stays xxhash', async () => {
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/mc', { algorithm: 'ketama' }), 201), {
      name: 'mc',
      vnodes: 160,
      version: 1,
      algorithm: 'ketama',
    });
    expectStatus(await api.call('PUT', '/v1/rings/mc/nodes/10.0.0.1:11211', { weight: 2 }), 201);
    const ring = expectStatus(await api.call('GET', '/v1/rings/mc'), 200);
    assert.equal(ring.algorithm, 'ketama');
    expectStatus(await api.call('PUT', '/v1/rings/plain', {}), 201);
    const list = expectStatus(await api.call('GET', '/v1/rings'), 200);
    assert.deepEqual(list.rings.map((r: { algorithm: string }) => r.algorithm), ['ketama', 'xxhash']);
  });

  test('bad algorithms, vnodes beside ketama and fractional weights on ketama are invalid_request and change nothing', async () => {
    expectInvalid(await api.call('PUT', '/v1/rings/mc', { algorithm: 'md5' }), 'algorithm');
    expectInvalid(await api.call('PUT', '/v1/rings/mc', { algorithm: 1 }), 'algorithm');
    expectInvalid(await api.call('PUT', '/v1/rings/mc', { algorithm: 'ketama', vnodes: 100 }), 'vnodes');
    expectInvalid(await api.call('PUT', '/v1/rings/mc/nodes/x', { weight: 0.5 }), 'weight');
    const ring = expectStatus(await api.call('GET', '/v1/rings/mc'), 200);
    assert.equal(ring.version, 2);
    assert.equal(ring.nodes.length, 1);
  });
});
