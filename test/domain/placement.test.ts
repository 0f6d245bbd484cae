import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Hashing } from '../../src/domain/hashing.js';
import { Placement } from '../../src/domain/placement.js';
import { build, byteCompare, expectError, hashingWith, realHashing, tinyHashing } from '../helpers/machine.js';

interface NodeSpec {
  readonly id: string;
  readonly weight: number;
}

/**
 * Placement as the contract states it, written the slow, obvious way: every point of every
 * node, sorted by hash then by id bytes; the owner is the first point >= h(key),
 * wrapping; replicas continue clockwise, skipping nodes already chosen.
 */
function referenceLookup(hashing: Hashing, vnodes: number, nodes: readonly NodeSpec[], key: string, n: number): string[] {
  const points: { hash: number; id: string }[] = [];
  for (const node of nodes) {
    const count = Math.floor(vnodes * node.weight + 0.5);
    for (let i = 0; i < count; i++) points.push({ hash: hashing.h32(`${node.id}#${i}`), id: node.id });
  }
  points.sort((a, b) => a.hash - b.hash || byteCompare(a.id, b.id));
  if (points.length === 0) return [];
  const target = hashing.h32(key);
  let start = points.findIndex((point) => point.hash >= target);
  if (start < 0) start = 0;
  const chosen: string[] = [];
  for (let step = 0; step < points.length && chosen.length < n; step++) {
    const id = points[(start + step) % points.length]!.id;
    if (!chosen.includes(id)) chosen.push(id);
  }
  return chosen;
}

function placed(hashing: Hashing, vnodes: number, nodes: readonly NodeSpec[]): Placement {
  const placement = new Placement(hashing);
  for (const node of nodes) placement.set(node.id, Placement.pointCount(vnodes, node.weight));
  return placement;
}

function lookupAll(placement: Placement, keys: readonly string[], n: number): string[][] {
  return keys.map((key) => {
    const out: string[] = [];
    const count = placement.lookup(key, n, out);
    assert.equal(count, out.length);
    return out;
  });
}

// Ids whose UTF-16 order and UTF-8 byte order disagree, so ties test the byte rule.
const tieIds = ['a', 'b', 'ab', 'a\uFFFF', 'a\u{10000}', '\uE000', '\uFFFD', '\u{1F600}', '\u{10FFFD}', 'é', 'z#1', 'z'];
const idArb = fc.oneof(fc.constantFrom(...tieIds), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }));
const weightArb = fc.oneof(fc.constantFrom(0, 0.5, 1, 1.5, 2), fc.double({ min: 0, max: 4, noNaN: true }));
const keysArb = fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { minLength: 1, maxLength: 30 });
const hashingArb = fc.constantFrom<[string, Hashing]>(
  ['real', realHashing],
  ['tiny 8', tinyHashing(8)],
  ['tiny 64', tinyHashing(64)],
);

describe('placement agrees with the reference implementation', () => {
  test('point count is floor(vnodes * weight + 0.5)', () => {
    assert.equal(Placement.pointCount(160, 1), 160);
    assert.equal(Placement.pointCount(160, 0), 0);
    assert.equal(Placement.pointCount(3, 0.5), 2, '1.5 rounds up');
    assert.equal(Placement.pointCount(1, 0.49), 0);
    assert.equal(Placement.pointCount(10, 0.25), 3, '2.5 rounds up');
    assert.equal(Placement.pointCount(1_000, 100), 100_000);
  });

  test('equal points go to the smaller id by UTF-8 bytes, whatever the insertion order', () => {
    const constant = hashingWith(() => 7);
    for (const order of [['\u{1F600}', '\uE000'], ['\uE000', '\u{1F600}']]) {
      const placement = placed(constant, 3, order.map((id) => ({ id, weight: 1 })));
      // UTF-16 would put U+1F600 (a surrogate pair) first; its UTF-8 bytes come after U+E000.
      assert.deepEqual(lookupAll(placement, ['k'], 2), [['\uE000', '\u{1F600}']]);
    }
  });

  test('property: random node sets, tiny and real hash ranges', () => {
    fc.assert(
      fc.property(
        hashingArb,
        fc.integer({ min: 1, max: 12 }),
        fc.uniqueArray(fc.record({ id: idArb, weight: weightArb }), { selector: (node) => node.id, maxLength: 7 }),
        keysArb,
        fc.integer({ min: 1, max: 5 }),
        ([, hashing], vnodes, nodes, keys, n) => {
          const placement = placed(hashing, vnodes, nodes);
          const expected = keys.map((key) => referenceLookup(hashing, vnodes, nodes, key, n));
          assert.deepEqual(lookupAll(placement, keys, n), expected);
          assert.deepEqual(placement.lookupBatch(keys, n).toArrays(), expected, 'the batch path');
          keys.forEach((key, i) => assert.equal(placement.owner(key), expected[i]![0]));
        },
      ),
      { numRuns: 400 },
    );
  });

  test('property: after any sequence of ring changes, lookups match a ring built from scratch', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), id: idArb, weight: weightArb }),
      fc.record({ kind: fc.constant('remove' as const), id: idArb }),
      fc.record({ kind: fc.constant('vnodes' as const), vnodes: fc.integer({ min: 1, max: 12 }) }),
    );
    fc.assert(
      fc.property(hashingArb, fc.array(op, { maxLength: 25 }), keysArb, fc.integer({ min: 1, max: 4 }), ([, hashing], ops, keys, n) => {
        const h = build({ hashing });
        h.machine.run((m) => m.rings.put('r', 4));
        const model = new Map<string, number>();
        let vnodes = 4;
        for (const change of ops) {
          if (change.kind === 'put') {
            h.machine.run((m) => m.rings.putMember('r', change.id, { weight: change.weight }));
            model.set(change.id, change.weight);
          } else if (change.kind === 'remove') {
            if (!model.has(change.id)) continue;
            h.machine.run((m) => m.rings.removeMember('r', change.id));
            model.delete(change.id);
          } else {
            h.machine.run((m) => m.rings.put('r', change.vnodes));
            vnodes = change.vnodes;
          }
        }
        const nodes = [...model].map(([id, weight]) => ({ id, weight }));
        const expected = keys.map((key) => referenceLookup(hashing, vnodes, nodes, key, n));
        if (expected[0]!.length === 0) {
          expectError(() => h.machine.rings.lookup('r', keys, n), 'ring_empty');
          return;
        }
        assert.deepEqual(h.machine.rings.lookup('r', keys, n).nodes, expected);
        const ring = h.machine.rings.get('r');
        assert.equal(ring.placement.size, nodes.reduce((sum, node) => sum + Placement.pointCount(vnodes, node.weight), 0));
      }),
      { numRuns: 300 },
    );
  });
});

describe('batch lookups and the bucket index', () => {
  /** The owner by a plain binary search over every point, sorted by (hash, id bytes). */
  function referenceOwners(ids: readonly string[], vnodes: number, keys: readonly string[]): string[] {
    const points = ids.flatMap((id) => Array.from({ length: vnodes }, (_, i) => ({ hash: realHashing.h32(`${id}#${i}`), id })));
    points.sort((a, b) => a.hash - b.hash || byteCompare(a.id, b.id));
    return keys.map((key) => {
      const target = realHashing.h32(key);
      let low = 0;
      let high = points.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (points[mid]!.hash < target) low = mid + 1;
        else high = mid;
      }
      return points[low === points.length ? 0 : low]!.id;
    });
  }

  test('at 300 nodes x 160 (2^15 buckets), owners match a plain binary search through joins and leaves', () => {
    const random = fc.sample(fc.integer({ min: 0, max: 2 ** 31 }), { numRuns: 4_000, seed: 11 });
    const keys = random.map((value, i) => (i % 3 === 0 ? `user:${value}` : i % 3 === 1 ? `ключ-${value}-${'x'.repeat(i % 60)}` : String(value)));
    let ids = Array.from({ length: 300 }, (_, i) => `node-${i}`);
    const placement = new Placement(realHashing);
    for (const id of ids) placement.set(id, 160);
    const changes: (() => void)[] = [
      () => { placement.remove('node-7'); ids = ids.filter((id) => id !== 'node-7'); },
      () => { placement.set('joiner-a', 160); ids = [...ids, 'joiner-a']; },
      () => { placement.remove('node-0'); placement.remove('node-299'); ids = ids.filter((id) => id !== 'node-0' && id !== 'node-299'); },
    ];
    for (const change of [() => {}, ...changes]) {
      change();
      const expected = referenceOwners(ids, 160, keys);
      assert.deepEqual(keys.map((key) => placement.owner(key)), expected);
      assert.deepEqual(placement.lookupBatch(keys, 1).toArrays().map(([owner]) => owner), expected);
    }
  });

  test('property: lookupBatch equals one lookup per key for any n, also with hashes crowded into one bucket', () => {
    fc.assert(
      fc.property(hashingArb, fc.integer({ min: 20, max: 400 }), fc.integer({ min: 1, max: 16 }), keysArb, ([, hashing], nodes, n, keys) => {
        const placement = new Placement(hashing);
        for (let i = 0; i < nodes; i++) placement.set(`n${i}`, 8);
        const table = placement.lookupBatch(keys, n);
        assert.equal(table.perKey, Math.min(n, nodes));
        assert.equal(table.slots.length, keys.length * table.perKey);
        assert.deepEqual(table.toArrays(), lookupAll(placement, keys, n));
        keys.forEach((_, i) => assert.deepEqual(table.ownersOf(i), lookupAll(placement, [keys[i]!], n)[0]));
      }),
      { numRuns: 60 },
    );
  });

  test('an answer made before a membership change keeps naming the owners it found', () => {
    const placement = placed(realHashing, 160, ['a', 'b', 'c'].map((id) => ({ id, weight: 1 })));
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    const before = placement.lookupBatch(keys, 2);
    const expected = lookupAll(placement, keys, 2);
    placement.remove('b');
    placement.set('d', 160);
    placement.set('e', 160);
    assert.deepEqual(before.toArrays(), expected);
    assert.notDeepEqual(placement.lookupBatch(keys, 2).toArrays(), expected);
  });

  test('an empty placement answers no owners', () => {
    const table = new Placement(realHashing).lookupBatch(['a', 'b'], 3);
    assert.equal(table.perKey, 0);
    assert.deepEqual(table.toArrays(), [[], []]);
  });
});

describe('minimal disruption', () => {
  const nodesArb = fc.uniqueArray(fc.record({ id: idArb, weight: fc.constantFrom(0.5, 1, 2) }), {
    selector: (node) => node.id,
    minLength: 1,
    maxLength: 10,
  });
  const keys = Array.from({ length: 400 }, (_, i) => `key:${i}`);

  /** `a` with `id` removed is a prefix of `b` with `id` removed, or the reverse. */
  function samePrefixWithout(id: string, a: string[], b: string[]): boolean {
    const x = a.filter((node) => node !== id);
    const y = b.filter((node) => node !== id);
    const [short, long] = x.length <= y.length ? [x, y] : [y, x];
    return short.every((node, i) => long[i] === node);
  }

  function checkMove(before: Placement, after: Placement, moved: string, n: number): void {
    const owners = [lookupAll(before, keys, 1), lookupAll(after, keys, 1)];
    keys.forEach((key, i) => {
      const [was, now] = [owners[0]![i]![0]!, owners[1]![i]![0]!];
      if (was !== now) assert.ok(was === moved || now === moved, `${key} moved ${was} -> ${now}, not via ${moved}`);
    });
    const replicas = [lookupAll(before, keys, n), lookupAll(after, keys, n)];
    keys.forEach((key, i) => {
      assert.ok(samePrefixWithout(moved, replicas[0]![i]!, replicas[1]![i]!), `replicas of ${key} changed beyond ${moved}`);
    });
  }

  test('property: adding one node moves keys only to it', () => {
    fc.assert(
      fc.property(hashingArb, fc.integer({ min: 1, max: 40 }), nodesArb, idArb, fc.constantFrom(0.5, 1, 3), fc.integer({ min: 2, max: 4 }),
        ([, hashing], vnodes, nodes, id, weight, n) => {
          fc.pre(!nodes.some((node) => node.id === id));
          const before = placed(hashing, vnodes, nodes);
          const after = placed(hashing, vnodes, nodes);
          after.set(id, Placement.pointCount(vnodes, weight));
          checkMove(before, after, id, n);
        }),
      { numRuns: 150 },
    );
  });

  test('property: removing one node moves only its keys', () => {
    fc.assert(
      fc.property(hashingArb, fc.integer({ min: 1, max: 40 }), nodesArb, fc.nat(), fc.integer({ min: 2, max: 4 }),
        ([, hashing], vnodes, nodes, pick, n) => {
          const gone = nodes[pick % nodes.length]!.id;
          const before = placed(hashing, vnodes, nodes);
          const after = placed(hashing, vnodes, nodes);
          after.remove(gone);
          checkMove(before, after, gone, n);
          assert.ok(lookupAll(after, keys, n).every((list) => !list.includes(gone)));
        }),
      { numRuns: 150 },
    );
  });

  test('property: reweighting one node moves keys only to or from it', () => {
    fc.assert(
      fc.property(hashingArb, fc.integer({ min: 1, max: 40 }), nodesArb, fc.nat(), fc.constantFrom(0, 0.25, 1, 2.5), fc.integer({ min: 2, max: 4 }),
        ([, hashing], vnodes, nodes, pick, weight, n) => {
          const changed = nodes[pick % nodes.length]!.id;
          const before = placed(hashing, vnodes, nodes);
          const after = placed(hashing, vnodes, nodes);
          after.set(changed, Placement.pointCount(vnodes, weight));
          fc.pre(after.nodesPlaced > 0);
          checkMove(before, after, changed, n);
        }),
      { numRuns: 150 },
    );
  });
});

describe('balance', () => {
  // Fixed node and key sets: the 1.3 bound is typical, not guaranteed for every
  // naming (about 6% of random 100-node sets land between 1.3 and 1.4).
  const namings: [string, (i: number) => string, (k: number) => string][] = [
    ['node-i / key-k', (i) => `node-${i}`, (k) => `key-${k}`],
    ['ip:port / user:k', (i) => `10.0.${i >> 4}.${i & 15}:6379`, (k) => `user:${k}`],
  ];
  for (const [label, nodeId, key] of namings) {
    test(`100 nodes x 160 vnodes, 100k keys: max/mean <= 1.3 (${label})`, () => {
      const h = build();
      const ids = Array.from({ length: 100 }, (_, i) => nodeId(i));
      h.machine.run((m) => {
        for (const id of ids) m.rings.putMember('r', id, {});
      });
      const keys = Array.from({ length: 100_000 }, (_, k) => key(k));
      const load = new Map<string, number>(ids.map((id) => [id, 0]));
      for (const [owner] of h.machine.rings.lookup('r', keys, 1).nodes) load.set(owner!, load.get(owner!)! + 1);
      const max = Math.max(...load.values());
      const min = Math.min(...load.values());
      assert.ok(max / 1_000 <= 1.3, `max/mean ${max / 1_000}`);
      assert.ok(min > 0, 'every node owns keys');
    });
  }
});
