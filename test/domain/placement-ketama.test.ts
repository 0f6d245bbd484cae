import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import HashRing from 'hashring';
import { ketamaPointCount, ketamaPointCounts } from '../../src/domain/ketama-placement.js';
import { build, expectError, type Harness } from '../helpers/machine.js';

/**
 * The ketama ring against an independent implementation: the `hashring` package
 * in its libketama-compatible mode (md5, 40 digests of 4 points each per server
 * at equal weight, the server string hashed as "<server>-<k>"). Node ids are the
 * server strings.
 */
const keys = Array.from({ length: 5_000 }, (_, i) => (i % 3 === 0 ? `user:${i}` : i % 3 === 1 ? `session/${i * 7919}` : `ключ-${i}`));

function ketamaRing(weights: Record<string, number>): Harness {
  const h = build();
  h.machine.run((m) => m.rings.put('k', { algorithm: 'ketama' }));
  for (const [id, weight] of Object.entries(weights)) h.machine.run((m) => m.rings.putMember('k', id, { weight }));
  return h;
}

function lookups(h: Harness, n: number): string[][] {
  return h.machine.rings.lookup('k', keys, n).nodes;
}

/** hashring with its own point counts (libketama's formula, in doubles). */
function reference(weights: Record<string, number>): HashRing {
  const servers = Object.fromEntries(Object.entries(weights).map(([id, weight]) => [id, { weight }]));
  return new HashRing(servers, 'md5', { compatibility: 'ketama' });
}

/** What the typings of hashring leave out: its points per server and its continuum. */
const pointsOf = (ring: HashRing, ids: string[]) => ring.points(ids) as unknown as Record<string, number[]>;
const continuumSize = (ring: HashRing) => (ring as unknown as { ring: unknown[] }).ring.length;

/** hashring told each server's digest count, to check the points and lookups apart from the count formula. */
function referenceWithCounts(counts: ReadonlyMap<string, number>): HashRing {
  const servers: Record<string, { weight: number; vnodes: number }> = {};
  for (const [id, points] of counts) servers[id] = { weight: 1, vnodes: points / 4 };
  // A default no server uses, so that every server's given count is taken as is.
  return new HashRing(servers, 'md5', { compatibility: 'ketama', 'vnode count': 1_000_000_000 });
}

const weightings: Record<string, number>[] = [
  { '10.0.0.1:11211': 1, '10.0.0.2:11211': 1, '10.0.0.3:11211': 1 },
  { 'cache-a:11211': 1, 'cache-b:11212': 2, 'cache-c:11213': 3 },
  { alpha: 5, beta: 1, gamma: 1, delta: 2, epsilon: 10 },
  { 'mc1.example:11211': 100, 'mc2.example:11211': 1 },
  Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`node-${i}:11211`, 1 + (i % 4)])),
];

describe('ketama rings place keys as libketama-compatible hashring does', () => {
  for (const [index, weights] of weightings.entries()) {
    test(`weighting ${index + 1}: ${Object.keys(weights).length} servers, the same owner and replicas for 5,000 keys`, () => {
      const h = ketamaRing(weights);
      const counts = ketamaPointCounts(new Map(Object.entries(weights)));
      const ring = reference(weights);
      // Same point count per server as hashring's own formula at these weightings.
      const theirs = pointsOf(ring, Object.keys(weights));
      for (const [id, points] of counts) assert.equal(theirs[id]!.length, points, id);
      assert.equal(h.machine.rings.get('k').placement.size, continuumSize(ring));
      const ours = lookups(h, 3);
      for (const [i, key] of keys.entries()) {
        assert.equal(ours[i]![0], ring.get(key), key);
        assert.deepEqual(ours[i], ring.range(key, 3), `${key} replicas`);
      }
    });
  }

  test('seven servers of equal weight: 40 digests each, as libmemcached counts in floats (hashring counts 39 in doubles)', () => {
    const weights = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`10.1.0.${i}:11211`, 1]));
    const counts = ketamaPointCounts(new Map(Object.entries(weights)));
    for (const points of counts.values()) assert.equal(points, 160);
    assert.equal(Math.floor((1 / 7) * 40 * 7), 39, 'the double-precision formula falls short here');
    const h = ketamaRing(weights);
    const ring = referenceWithCounts(counts);
    const ours = lookups(h, 2);
    for (const [i, key] of keys.entries()) assert.deepEqual(ours[i], ring.range(key, 2), key);
  });

  test('the weight formula: floor(share * 40 * servers) digests of 4 points', () => {
    assert.equal(ketamaPointCount(1, 1, 1), 160);
    assert.equal(ketamaPointCount(1, 3, 2), 104, 'a third of 80 digests is 26.67: 26 digests');
    assert.equal(ketamaPointCount(2, 3, 2), 212, 'two thirds of 80 is 53.33: 53 digests');
    assert.equal(ketamaPointCount(0, 3, 2), 0);
  });
});

describe('ketama rings: state and validation', () => {
  test('the algorithm is part of the fingerprint and of GET: equal members on the two algorithms differ', () => {
    const weights = { a: 1, b: 2 };
    const ketama = ketamaRing(weights);
    const plain = build();
    for (const [id, weight] of Object.entries(weights)) plain.machine.run((m) => m.rings.putMember('k', id, { weight }));
    assert.notEqual(ketama.machine.rings.get('k').fingerprint(), plain.machine.rings.get('k').fingerprint());
    assert.equal(ketama.machine.rings.get('k').algorithm, 'ketama');
  });

  test('vnodes other than 160 and fractional weights are refused on a ketama ring, changing nothing', () => {
    const h = ketamaRing({ a: 1 });
    const version = h.machine.rings.get('k').version;
    expectError(() => h.machine.run((m) => m.rings.put('k', { algorithm: 'ketama', vnodes: 100 })), 'invalid_request');
    expectError(() => h.machine.run((m) => m.rings.putMember('k', 'b', { weight: 1.5 })), 'invalid_request');
    assert.equal(h.machine.rings.get('k').version, version);
    const plain = build();
    plain.machine.run((m) => m.rings.putMember('p', 'x', { weight: 0.5 }));
    expectError(() => plain.machine.run((m) => m.rings.put('p', { algorithm: 'ketama' })), 'invalid_request');
    assert.equal(plain.machine.rings.get('p').algorithm, 'xxhash');
  });

  test('switching a ring to ketama and back is one version each and places as a fresh ring would', () => {
    const h = build();
    for (const id of ['a', 'b', 'c']) h.machine.run((m) => m.rings.putMember('k', id, {}));
    const before = lookups(h, 2);
    assert.equal(h.machine.run((m) => m.rings.put('k', { algorithm: 'ketama' })).status, 'changed');
    assert.deepEqual(lookups(h, 2), lookups(ketamaRing({ a: 1, b: 1, c: 1 }), 2));
    assert.equal(h.machine.run((m) => m.rings.put('k', {})).status, 'changed');
    assert.deepEqual(lookups(h, 2), before);
    assert.equal(h.machine.rings.get('k').version, 6);
  });

  test('point limits count every member\'s new share before a ketama change, and a refused change changes nothing', () => {
    const h = build({ limits: { pointsPerRingMax: 500, pointsTotalMax: 500 } });
    h.machine.run((m) => m.rings.put('k', { algorithm: 'ketama' }));
    for (const id of ['a', 'b', 'c']) h.machine.run((m) => m.rings.putMember('k', id, {}));
    assert.equal(h.machine.rings.get('k').placement.size, 480);
    const before = lookups(h, 1);
    const error = expectError(() => h.machine.run((m) => m.rings.putMember('k', 'd', {})), 'limit_exceeded');
    assert.equal(error.details['limit'], 'pointsPerRingMax');
    assert.equal(h.machine.rings.get('k').version, 4);
    assert.deepEqual(lookups(h, 1), before);
  });

  test('a weight-0 member owns nothing and does not count as a server', () => {
    const withZero = ketamaRing({ a: 1, b: 1, drained: 0 });
    const without = ketamaRing({ a: 1, b: 1 });
    assert.deepEqual(lookups(withZero, 2), lookups(without, 2));
  });
});
