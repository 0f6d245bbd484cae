import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import xxhash from 'xxhash-wasm';
import { type Api, expectError, expectInvalid, expectStatus, seg, startApi } from '../helpers/http.js';

const { h32: rawH32 } = await xxhash();
const h32 = (text: string): number => rawH32(text, 0) >>> 0;
const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The contract's placement, written from the contract alone, to check the server against. */
function referenceLookup(vnodes: number, nodes: { id: string; weight: number }[], key: string, n: number): string[] {
  const points: { hash: number; id: string }[] = [];
  for (const { id, weight } of nodes) {
    const p = Math.floor(vnodes * weight + 0.5);
    for (let i = 0; i < p; i++) points.push({ hash: h32(`${id}#${i}`), id });
  }
  points.sort((a, b) => a.hash - b.hash || byteOrder(a.id, b.id));
  if (points.length === 0) return [];
  const target = h32(key);
  let start = points.findIndex((point) => point.hash >= target);
  if (start < 0) start = 0;
  const chosen: string[] = [];
  for (let step = 0; step < points.length && chosen.length < n; step++) {
    const id = points[(start + step) % points.length]!.id;
    if (!chosen.includes(id)) chosen.push(id);
  }
  return chosen;
}

describe('HTTP rings: configure and membership', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('PUT creates with 201, then answers 200 with version semantics', async () => {
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg'), 201), { name: 'cfg', vnodes: 160, version: 1, algorithm: 'xxhash' });
    // Nothing changes: 200 with the current version, with or without a body.
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg', {}), 200), { name: 'cfg', vnodes: 160, version: 1, algorithm: 'xxhash' });
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg', { vnodes: 160 }), 200), { name: 'cfg', vnodes: 160, version: 1, algorithm: 'xxhash' });
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg'), 200), { name: 'cfg', vnodes: 160, version: 1, algorithm: 'xxhash' });
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg', { vnodes: 50 }), 200), { name: 'cfg', vnodes: 50, version: 2, algorithm: 'xxhash' });
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg', { vnodes: 50 }), 200), { name: 'cfg', vnodes: 50, version: 2, algorithm: 'xxhash' });
    assert.deepEqual(expectStatus(await api.call('PUT', '/v1/rings/cfg-edge', { vnodes: 1 }), 201), { name: 'cfg-edge', vnodes: 1, version: 1, algorithm: 'xxhash' });
    expectStatus(await api.call('PUT', '/v1/rings/cfg-edge', { vnodes: 1_000 }), 200);
  });

  test('PUT validates vnodes', async () => {
    for (const vnodes of [0, 1_001, 1.5, '10', null, -1]) expectInvalid(await api.call('PUT', '/v1/rings/bad-vnodes', { vnodes }), 'vnodes');
    expectInvalid(await api.call('PUT', '/v1/rings/bad-vnodes', { vnodes: 10, replicas: 2 }), 'replicas');
    expectError(await api.call('GET', '/v1/rings/bad-vnodes'), 404, 'ring_not_found');
  });

  test('GET shows vnodes, version, fingerprint and members sorted by id', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 60_000 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/show', { vnodes: 10 }), 201);
    assert.equal(expectStatus(await api.call('PUT', '/v1/rings/show/nodes/b', { weight: 2, meta: { zone: 'z1', port: 7 } }), 201).version, 2);
    assert.equal(expectStatus(await api.call('PUT', '/v1/rings/show/nodes/a', { leaseId: lease.id }), 201).version, 3);
    const ring = expectStatus(await api.call('GET', '/v1/rings/show'), 200);
    assert.deepEqual(Object.keys(ring).sort(), ['algorithm', 'fingerprint', 'name', 'nodes', 'version', 'vnodes']);
    assert.equal(ring.name, 'show');
    assert.equal(ring.vnodes, 10);
    assert.equal(ring.version, 3);
    assert.match(ring.fingerprint, /^[0-9a-f]+$/);
    assert.deepEqual(ring.nodes, [
      { id: 'a', weight: 1, meta: {}, leaseId: lease.id },
      { id: 'b', weight: 2, meta: { zone: 'z1', port: 7 }, leaseId: null },
    ]);
    const list = expectStatus(await api.call('GET', '/v1/rings'), 200);
    assert.deepEqual(list.rings.find((r: any) => r.name === 'show'), { name: 'show', vnodes: 10, version: 3, algorithm: 'xxhash', nodes: 2 });
    for (const entry of list.rings) assert.deepEqual(Object.keys(entry).sort(), ['algorithm', 'name', 'nodes', 'version', 'vnodes']);
  });

  test('every change adds one to version; an unchanged PUT keeps it', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 60_000 }), 201);
    // A node PUT on a missing ring creates it (version 1) and adds the member (+1).
    const created = expectStatus(await api.call('PUT', '/v1/rings/ver/nodes/n1', {}), 201);
    assert.deepEqual(created, { ring: 'ver', node: 'n1', version: 2 });
    const ring = expectStatus(await api.call('GET', '/v1/rings/ver'), 200);
    assert.equal(ring.vnodes, 160, 'created with defaults');
    const steps: [Record<string, unknown>, number, number][] = [
      [{}, 200, 2], // unchanged (weight defaults to 1)
      [{ weight: 1 }, 200, 2],
      [{ weight: 2 }, 200, 3],
      [{ weight: 2 }, 200, 3],
      [{ weight: 2, meta: { a: 1 } }, 200, 4],
      [{ weight: 2, meta: { a: 1 } }, 200, 4],
      [{ weight: 2, meta: { a: 1 }, leaseId: lease.id }, 200, 5],
      [{ weight: 2, meta: { a: 1 }, leaseId: lease.id }, 200, 5],
      [{ weight: 2, meta: { a: 1 } }, 200, 6], // the lease binding dropped
    ];
    for (const [body, status, version] of steps) {
      const reply = expectStatus(await api.call('PUT', '/v1/rings/ver/nodes/n1', body), status);
      assert.equal(reply.version, version, `after ${JSON.stringify(body)}`);
    }
    assert.equal(expectStatus(await api.call('PUT', '/v1/rings/ver/nodes/n2', {}), 201).version, 7);
    assert.deepEqual(expectStatus(await api.call('DELETE', '/v1/rings/ver/nodes/n2'), 200), { ring: 'ver', node: 'n2', version: 8 });
    assert.equal(expectStatus(await api.call('PUT', '/v1/rings/ver', { vnodes: 20 }), 200).version, 9);
    assert.equal(expectStatus(await api.call('GET', '/v1/rings/ver'), 200).version, 9);
  });

  test('fingerprint follows placement only', async () => {
    const fingerprint = async (ring: string): Promise<string> => expectStatus(await api.call('GET', `/v1/rings/${ring}`), 200).fingerprint;
    for (const ring of ['fp1', 'fp2']) {
      expectStatus(await api.call('PUT', `/v1/rings/${ring}`, { vnodes: 40 }), 201);
      expectStatus(await api.call('PUT', `/v1/rings/${ring}/nodes/x`, { weight: 1, meta: { ring } }), 201);
      expectStatus(await api.call('PUT', `/v1/rings/${ring}/nodes/y`, { weight: 0.5 }), 201);
    }
    const same = await fingerprint('fp1');
    assert.equal(await fingerprint('fp2'), same, 'meta and names of rings do not count');
    expectStatus(await api.call('PUT', '/v1/rings/fp2/nodes/x', { weight: 1, meta: { other: true } }), 200);
    assert.equal(await fingerprint('fp2'), same);
    expectStatus(await api.call('PUT', '/v1/rings/fp2/nodes/y', { weight: 0.75 }), 200);
    assert.notEqual(await fingerprint('fp2'), same);
    expectStatus(await api.call('PUT', '/v1/rings/fp2/nodes/y', { weight: 0.5 }), 200);
    assert.equal(await fingerprint('fp2'), same, 'back to the same placement');
    expectStatus(await api.call('PUT', '/v1/rings/fp2', { vnodes: 41 }), 200);
    assert.notEqual(await fingerprint('fp2'), same);
  });

  test('node PUT validates weight, meta and leaseId', async () => {
    expectStatus(await api.call('PUT', '/v1/rings/val'), 201);
    for (const weight of [-1, 100.5, '1', null, true]) {
      expectInvalid(await api.call('PUT', '/v1/rings/val/nodes/n', { weight }), 'weight');
    }
    for (const meta of [[], 'x', 3, null]) expectInvalid(await api.call('PUT', '/v1/rings/val/nodes/n', { meta }), 'meta');
    const big = { blob: 'x'.repeat(1_100) };
    const error = expectInvalid(await api.call('PUT', '/v1/rings/val/nodes/n', { meta: big }), 'meta');
    assert.match(error.message, /1024|1 KiB/);
    expectInvalid(await api.call('PUT', '/v1/rings/val/nodes/n', { leaseId: 5 }), 'leaseId');
    expectInvalid(await api.call('PUT', '/v1/rings/val/nodes/n', { id: 'n' }), 'id');
    expectError(await api.call('PUT', '/v1/rings/val/nodes/n', { leaseId: 'no-such' }), 404, 'lease_not_found');
    expectError(await api.call('PUT', '/v1/rings/val-missing/nodes/n', { leaseId: 'no-such' }), 404, 'lease_not_found');
    expectError(await api.call('GET', '/v1/rings/val-missing'), 404, 'ring_not_found');
    assert.equal(expectStatus(await api.call('GET', '/v1/rings/val'), 200).version, 1, 'nothing changed');
    // The edges pass: weight 0 and 100, meta of exactly 1 KiB of JSON.
    expectStatus(await api.call('PUT', '/v1/rings/val/nodes/zero', { weight: 0 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/val/nodes/heavy', { weight: 100 }), 201);
    const exact = { b: 'x'.repeat(1_024 - JSON.stringify({ b: '' }).length) };
    assert.equal(Buffer.byteLength(JSON.stringify(exact)), 1_024);
    expectStatus(await api.call('PUT', '/v1/rings/val/nodes/meta', { meta: exact, weight: 0.25 }), 201);
    const nested = { deep: { list: [1, 'two', null], flag: false } };
    expectStatus(await api.call('PUT', '/v1/rings/val/nodes/nested', { meta: nested }), 201);
    const ring = expectStatus(await api.call('GET', '/v1/rings/val'), 200);
    assert.deepEqual(ring.nodes.find((n: any) => n.id === 'nested').meta, nested);
    assert.equal(ring.nodes.find((n: any) => n.id === 'meta').weight, 0.25);
  });

  test('a lease-bound member disappears when its lease ends', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/bound/nodes/fixed', {}), 201);
    const put = expectStatus(await api.call('PUT', '/v1/rings/bound/nodes/live', { leaseId: lease.id }), 201);
    api.advance(500);
    expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, {}), 200);
    api.advance(999);
    assert.equal(expectStatus(await api.call('GET', '/v1/rings/bound'), 200).nodes.length, 2);
    api.advance(1);
    const ring = expectStatus(await api.call('GET', '/v1/rings/bound'), 200);
    assert.deepEqual(ring.nodes.map((n: any) => n.id), ['fixed']);
    assert.equal(ring.version, put.version + 1);
    expectError(await api.call('DELETE', '/v1/rings/bound/nodes/live'), 404, 'node_not_found');
  });

  test('a lease-bound member disappears on revoke, even before expiry processing of others', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 10_000 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/bound2/nodes/m', { leaseId: lease.id }), 201);
    expectStatus(await api.call('DELETE', `/v1/leases/${lease.id}`), 200);
    const ring = expectStatus(await api.call('GET', '/v1/rings/bound2'), 200);
    assert.deepEqual(ring.nodes, [], 'the ring lives on without members');
  });

  test('DELETE node and ring; 404 ring_not_found and node_not_found', async () => {
    expectStatus(await api.call('PUT', '/v1/rings/del/nodes/a', {}), 201);
    expectError(await api.call('DELETE', '/v1/rings/del/nodes/b'), 404, 'node_not_found');
    expectError(await api.call('DELETE', '/v1/rings/nope/nodes/a'), 404, 'ring_not_found');
    expectStatus(await api.call('DELETE', '/v1/rings/del/nodes/a'), 200);
    expectStatus(await api.call('GET', '/v1/rings/del'), 200);
    assert.deepEqual(expectStatus(await api.call('DELETE', '/v1/rings/del'), 200), { name: 'del' });
    expectError(await api.call('GET', '/v1/rings/del'), 404, 'ring_not_found');
    expectError(await api.call('DELETE', '/v1/rings/del'), 404, 'ring_not_found');
    expectError(await api.call('GET', '/v1/rings/del/lookup?key=a'), 404, 'ring_not_found');
    expectError(await api.call('POST', '/v1/rings/del/lookup', { keys: ['a'] }), 404, 'ring_not_found');
    const list = expectStatus(await api.call('GET', '/v1/rings'), 200);
    assert.equal(list.rings.some((r: any) => r.name === 'del'), false);
  });

  test('deleting a ring with a lease-bound member leaves the lease intact', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 10_000 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/del2/nodes/m', { leaseId: lease.id }), 201);
    expectStatus(await api.call('DELETE', '/v1/rings/del2'), 200);
    const seen = expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
    assert.deepEqual(seen.members, []);
    assert.deepEqual(expectStatus(await api.call('DELETE', `/v1/leases/${lease.id}`), 200).removed, []);
  });

  test('names with %2F, multibyte characters and reserved characters', async () => {
    for (const [ring, node] of [
      ['team/a', 'host/1:80'],
      ['кольцо', 'узел'],
      ['r?#&', 'n %'],
    ] as const) {
      expectStatus(await api.call('PUT', `/v1/rings/${seg(ring)}/nodes/${seg(node)}`, {}), 201);
      const seen = expectStatus(await api.call('GET', `/v1/rings/${seg(ring)}`), 200);
      assert.equal(seen.name, ring);
      assert.deepEqual(seen.nodes.map((n: any) => n.id), [node]);
      const found = expectStatus(await api.call('GET', `/v1/rings/${seg(ring)}/lookup?key=k`), 200);
      assert.deepEqual(found.nodes, [node]);
    }
  });
});

describe('HTTP rings: lookup', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
    expectStatus(await api.call('PUT', '/v1/rings/vec', { vnodes: 160 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/vec/nodes/alpha', { weight: 1 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/vec/nodes/beta', { weight: 1 }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/vec/nodes/gamma', { weight: 2 }), 201);
  });
  after(() => api.close());

  const vectors: [string, string[]][] = [
    ['user:1', ['gamma', 'alpha']],
    ['user:2', ['beta', 'gamma']],
    ['user:3', ['gamma', 'beta']],
    ['order/9', ['gamma', 'alpha']],
    ['ключ', ['beta', 'alpha']],
  ];

  test('the hash test vectors of the API reference hold for the reference used here', () => {
    assert.equal(h32(''), 46947589);
    assert.equal(h32('a'), 1426945110);
    assert.equal(h32('user:42'), 4132429719);
  });

  test('GET lookup answers the test vectors of the API reference', async () => {
    const ring = expectStatus(await api.call('GET', '/v1/rings/vec'), 200);
    for (const [key, nodes] of vectors) {
      const found = expectStatus(await api.call('GET', `/v1/rings/vec/lookup?key=${seg(key)}&n=2`), 200);
      assert.deepEqual(found, { ring: 'vec', version: ring.version, key, nodes }, key);
      const owner = expectStatus(await api.call('GET', `/v1/rings/vec/lookup?key=${seg(key)}`), 200);
      assert.deepEqual(owner.nodes, [nodes[0]], `n defaults to 1 for ${key}`);
    }
  });

  test('POST lookup answers the test vectors of the API reference in key order', async () => {
    const keys = vectors.map(([key]) => key);
    const found = expectStatus(await api.call('POST', '/v1/rings/vec/lookup', { keys, n: 2 }), 200);
    assert.deepEqual(Object.keys(found).sort(), ['nodes', 'ring', 'version']);
    assert.equal(found.ring, 'vec');
    assert.deepEqual(found.nodes, vectors.map(([, nodes]) => nodes));
    const single = expectStatus(await api.call('POST', '/v1/rings/vec/lookup', { keys }), 200);
    assert.deepEqual(single.nodes, vectors.map(([, nodes]) => [nodes[0]]));
    const empty = expectStatus(await api.call('POST', '/v1/rings/vec/lookup', { keys: [] }), 200);
    assert.deepEqual(empty.nodes, []);
  });

  test('placement matches the contract for many keys, weights and n', async () => {
    const nodes = [
      { id: 'n-1', weight: 1 },
      { id: 'n-2', weight: 0.5 },
      { id: 'n-3', weight: 3 },
      { id: 'n-4', weight: 0 },
      { id: 'ünï', weight: 1.25 },
      { id: 'n/5', weight: 0.003 }, // floor(0.48 + 0.5) = 0 points at vnodes 160
    ];
    for (const node of nodes) expectStatus(await api.call('PUT', `/v1/rings/ref/nodes/${seg(node.id)}`, { weight: node.weight }), 201);
    const keys = Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? `κλειδί-${i}` : `key:${i}`));
    keys.push('', 'a', 'user:42');
    for (const n of [1, 3, 16]) {
      const found = expectStatus(await api.call('POST', '/v1/rings/ref/lookup', { keys, n }), 200);
      keys.forEach((key, i) => assert.deepEqual(found.nodes[i], referenceLookup(160, nodes, key, n), `${key} n=${n}`));
    }
    const capped = expectStatus(await api.call('GET', '/v1/rings/ref/lookup?key=x&n=16'), 200);
    assert.equal(capped.nodes.length, 4, 'fewer nodes than n: every node with points, once');
    assert.equal(new Set(capped.nodes).size, 4);
    assert.equal(capped.nodes.includes('n-4'), false, 'weight 0 owns no keys');
  });

  test('adding one node moves keys only to that node', async () => {
    for (const id of ['m1', 'm2', 'm3']) expectStatus(await api.call('PUT', `/v1/rings/move/nodes/${id}`, {}), 201);
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    const before = expectStatus(await api.call('POST', '/v1/rings/move/lookup', { keys }), 200).nodes.map((n: string[]) => n[0]);
    expectStatus(await api.call('PUT', '/v1/rings/move/nodes/m4', {}), 201);
    const after = expectStatus(await api.call('POST', '/v1/rings/move/lookup', { keys }), 200).nodes.map((n: string[]) => n[0]);
    let moved = 0;
    keys.forEach((_, i) => {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(after[i], 'm4');
      }
    });
    assert.ok(moved > 0);
  });

  test('n is 1 to 16; key is required and at most 1024 bytes', async () => {
    for (const n of ['0', '17', '1.5', 'x', '-1']) expectInvalid(await api.call('GET', `/v1/rings/vec/lookup?key=a&n=${n}`), 'n');
    for (const n of [0, 17, 1.5, '2']) expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['a'], n }), 'n');
    expectInvalid(await api.call('GET', '/v1/rings/vec/lookup'), 'key');
    expectInvalid(await api.call('GET', '/v1/rings/vec/lookup?key=a&other=1'), 'other');
    expectInvalid(await api.call('GET', '/v1/rings/vec/lookup?key=%FF'), 'key');
    expectStatus(await api.call('GET', `/v1/rings/vec/lookup?key=${'k'.repeat(1_024)}`), 200);
    expectStatus(await api.call('GET', `/v1/rings/vec/lookup?key=${seg('я'.repeat(512))}`), 200);
    expectInvalid(await api.call('GET', `/v1/rings/vec/lookup?key=${'k'.repeat(1_025)}`), 'key');
    expectInvalid(await api.call('GET', `/v1/rings/vec/lookup?key=${seg('я'.repeat(513))}`), 'key');
    expectStatus(await api.call('GET', '/v1/rings/vec/lookup?key='), 200);
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['ok', 'я'.repeat(513)] }), 'keys');
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['ok', 3] }), 'keys');
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: 'a' }), 'keys');
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { n: 1 }), 'keys');
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['a'], key: 'a' }), 'key');
  });

  test('10,000 keys is fine; 10,001 is 413 payload_too_large', async () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `bulk-key-${i}`);
    const found = expectStatus(await api.call('POST', '/v1/rings/vec/lookup', { keys, n: 2 }), 200);
    assert.equal(found.nodes.length, 10_000);
    assert.deepEqual(found.nodes[17], referenceLookup(160, [{ id: 'alpha', weight: 1 }, { id: 'beta', weight: 1 }, { id: 'gamma', weight: 2 }], keys[17]!, 2));
    const tooMany = expectError(await api.call('POST', '/v1/rings/vec/lookup', { keys: [...keys, 'one-more'] }), 413, 'payload_too_large');
    assert.match(tooMany.message, /keys/);
  });

  test('stale_ring through the query and the body version', async () => {
    const ring = expectStatus(await api.call('GET', '/v1/rings/vec'), 200);
    expectStatus(await api.call('GET', `/v1/rings/vec/lookup?key=a&version=${ring.version}`), 200);
    expectStatus(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['a'], version: ring.version }), 200);
    const stale = expectError(await api.call('GET', `/v1/rings/vec/lookup?key=a&version=${ring.version - 1}`), 409, 'stale_ring');
    assert.equal(stale.version, ring.version);
    expectError(await api.call('GET', `/v1/rings/vec/lookup?key=a&version=${ring.version + 1}`), 409, 'stale_ring');
    expectError(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['a'], version: ring.version + 5 }), 409, 'stale_ring');
    expectInvalid(await api.call('GET', '/v1/rings/vec/lookup?key=a&version=x'), 'version');
    expectInvalid(await api.call('POST', '/v1/rings/vec/lookup', { keys: ['a'], version: '3' }), 'version');
  });

  test('ring_empty for no members and for only weight-0 members', async () => {
    expectStatus(await api.call('PUT', '/v1/rings/empty'), 201);
    expectError(await api.call('GET', '/v1/rings/empty/lookup?key=a'), 409, 'ring_empty');
    expectError(await api.call('POST', '/v1/rings/empty/lookup', { keys: ['a'] }), 409, 'ring_empty');
    expectStatus(await api.call('PUT', '/v1/rings/empty/nodes/idle', { weight: 0 }), 201);
    expectError(await api.call('GET', '/v1/rings/empty/lookup?key=a'), 409, 'ring_empty');
    expectStatus(await api.call('PUT', '/v1/rings/empty/nodes/idle', { weight: 1 }), 200);
    assert.deepEqual(expectStatus(await api.call('GET', '/v1/rings/empty/lookup?key=a'), 200).nodes, ['idle']);
  });
});
