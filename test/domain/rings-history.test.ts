import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RingAlgorithm } from '../../src/domain/ring-algorithm.js';
import { type MovedRange, circleMax } from '../../src/domain/ring-diff.js';
import type { DiffRequest } from '../../src/domain/rings.js';
import { build, expectError, type Harness } from '../helpers/machine.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
const keys = Array.from({ length: 400 }, (_, i) => `key:${i}`);

type Op = { kind: 'put'; id: string; weight: number } | { kind: 'remove'; id: string };

const opArb = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), id: fc.constantFrom(...ids), weight: fc.constantFrom(0, 1, 2, 3) }),
  fc.record({ kind: fc.constant('remove' as const), id: fc.constantFrom(...ids) }),
);

/** Applies `op` to ring r; returns the id it changed, or null when it changed nothing (a refused or no-op change). */
function apply(h: Harness, op: Op): string | null {
  const ring = h.machine.rings.byName.get('r');
  if (op.kind === 'remove') {
    if (ring?.members.has(op.id) !== true) return null;
    h.machine.run((m) => m.rings.removeMember('r', op.id));
    return op.id;
  }
  const result = h.machine.run((m) => m.rings.putMember('r', op.id, { weight: op.weight }));
  return result.status === 'unchanged' ? null : op.id;
}

/** The owners of every sample key, n of them, at the ring's current version. */
function owners(h: Harness, n: number): string[][] {
  const ring = h.machine.rings.get('r');
  return keys.map((key) => {
    const out: string[] = [];
    out.length = ring.placement.lookup(key, n, out);
    return out;
  });
}

function diffAll(h: Harness, request: Omit<DiffRequest, 'start' | 'limit'>): MovedRange[] {
  return h.machine.rings.diff('r', { ...request, start: 0, limit: 1_000_000 }).ranges;
}

function rangeOf(ranges: readonly MovedRange[], position: number): MovedRange | undefined {
  return ranges.find((range) => range.start <= position && position <= range.end);
}

function keyPosition(h: Harness, key: string): number {
  return h.machine.rings.get('r').placement.scheme.keyHash(key);
}

function assertWellFormed(ranges: readonly MovedRange[]): void {
  let previousEnd = -1;
  for (const range of ranges) {
    assert.ok(range.start <= range.end && range.start > previousEnd && range.end <= circleMax, JSON.stringify(range));
    previousEnd = range.end;
  }
}

/** Builds a ring through random single-member changes, remembering every sample key's owners at every version. */
function history(algorithm: RingAlgorithm, ops: readonly Op[], n: number) {
  const h = build();
  h.machine.run((m) => m.rings.put('r', { algorithm }));
  const seen = new Map<number, string[][]>([[1, owners(h, n)]]);
  const changedAt = new Map<number, string>();
  for (const op of ops) {
    const changed = apply(h, op);
    if (changed === null) continue;
    const version = h.machine.rings.get('r').version;
    seen.set(version, owners(h, n));
    changedAt.set(version, changed);
  }
  return { h, seen, changedAt };
}

for (const algorithm of ['xxhash', 'ketama'] as const) {
  describe(`ring diff (${algorithm})`, () => {
    test('a key moved between two versions iff its position lies in a listed range, with that range\'s old and new owners', () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.nat(), (ops, n, i, j) => {
          const { h, seen } = history(algorithm, ops, n);
          const versions = [...seen.keys()];
          const from = versions[i % versions.length]!;
          const to = versions[j % versions.length]!;
          const ranges = diffAll(h, { from, to, n });
          assertWellFormed(ranges);
          for (const [k, key] of keys.entries()) {
            const before = seen.get(from)![k]!;
            const after = seen.get(to)![k]!;
            const range = rangeOf(ranges, keyPosition(h, key));
            if (JSON.stringify(before) === JSON.stringify(after)) {
              assert.equal(range, undefined, `${key} did not move from v${from} to v${to} but lies in ${JSON.stringify(range)}`);
            } else {
              assert.ok(range !== undefined, `${key} moved from v${from} to v${to} but no range lists it`);
              assert.deepEqual([range.before, range.after], [before, after], key);
            }
          }
        }),
        { numRuns: 40, seed: algorithm === 'xxhash' ? 11 : 12 },
      );
    });
  });
}

describe('ring diff of one change', () => {
  test('with the default placement, one member\'s change moves only positions to or from that member', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 14 }), (ops) => {
        const { h, changedAt } = history('xxhash', ops, 1);
        for (const [version, id] of changedAt) {
          for (const range of diffAll(h, { from: version - 1, to: version, n: 1 })) {
            assert.ok(range.before[0] === id || range.after[0] === id, `v${version} changed ${id}, yet ${JSON.stringify(range)} moved`);
          }
        }
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  test('ketama at equal weights: adding a server moves keys only to it', () => {
    const { h, changedAt } = history('ketama', ids.map((id) => ({ kind: 'put', id, weight: 1 })), 1);
    for (const [version, id] of changedAt) {
      const ranges = diffAll(h, { from: version - 1, to: version, n: 1 });
      assert.ok(version === 2 || ranges.length > 0);
      for (const range of ranges) assert.equal(range.after[0], id);
    }
  });

  test('ketama caveat: changing one server\'s weight also moves keys between other servers', () => {
    const { h } = history('ketama', [...['a', 'b', 'c'].map((id) => ({ kind: 'put' as const, id, weight: 1 })), { kind: 'put', id: 'a', weight: 3 }], 1);
    const version = h.machine.rings.get('r').version;
    const ranges = diffAll(h, { from: version - 1, to: version, n: 1 });
    assert.ok(
      ranges.some((range) => range.before[0] !== 'a' && range.after[0] !== 'a'),
      'a weight change of a moved some keys from b to c or c to b (their shares of the total changed)',
    );
  });

  test('the arc past the last point is reported as two ranges, one ending at 2^32-1 and one starting at 0', () => {
    const h = build();
    h.machine.run((m) => m.rings.putMember('r', 'a', {}));
    const ranges = diffAll(h, { from: 1, to: 2, n: 1 });
    assert.deepEqual(ranges, [{ start: 0, end: circleMax, before: [], after: ['a'] }], 'an empty ring to one member: everything moved');
    // A second member that takes over position 0 also takes the arc past the last point.
    for (let i = 0; i < 100; i++) {
      h.machine.run((m) => m.rings.putMember('r', `b${i}`, {}));
      const version = h.machine.rings.get('r').version;
      const owner: string[] = [];
      h.machine.rings.get('r').placement.lookupHash(0, 1, owner);
      if (owner[0] === `b${i}`) {
        const moved = diffAll(h, { from: version - 1, to: version, n: 1 });
        assert.equal(moved[0]!.start, 0);
        assert.equal(moved[moved.length - 1]!.end, circleMax);
        assert.deepEqual(moved[moved.length - 1]!.after, [`b${i}`]);
        return;
      }
      h.machine.run((m) => m.rings.removeMember('r', `b${i}`));
    }
    assert.fail('no member took position 0 in 100 tries');
  });
});

describe('diff pages and errors', () => {
  test('pages of any size put together give the whole diff; start clips the first range', () => {
    const { h } = history('xxhash', ids.map((id, i) => ({ kind: 'put', id, weight: 1 + (i % 2) })), 2);
    const version = h.machine.rings.get('r').version;
    const whole = diffAll(h, { from: 2, to: version, n: 2 });
    assert.ok(whole.length > 10);
    for (const limit of [1, 3, 7]) {
      const got: MovedRange[] = [];
      let start: number | undefined = 0;
      for (let pages = 0; start !== undefined && pages < 10_000; pages++) {
        const page = h.machine.rings.diff('r', { from: 2, to: version, n: 2, start, limit });
        assert.ok(page.ranges.length <= limit);
        got.push(...page.ranges);
        start = page.next;
      }
      assert.deepEqual(got, whole, `limit ${limit}`);
    }
    const cut = whole[3]!;
    if (cut.end > cut.start) {
      const middle = cut.start + Math.floor((cut.end - cut.start) / 2) + 1;
      const page = h.machine.rings.diff('r', { from: 2, to: version, n: 2, start: middle, limit: 1 });
      assert.deepEqual(page.ranges[0], { ...cut, start: middle });
    }
  });

  test('a version before the oldest kept or after the current one is version_unavailable, naming the range kept', () => {
    const h = build({ limits: { ringHistoryVersionsMax: 3 } });
    for (let i = 1; i <= 6; i++) h.machine.run((m) => m.rings.putMember('r', `n${i}`, {}));
    const ring = h.machine.rings.get('r');
    assert.equal(ring.version, 7);
    assert.equal(ring.history.oldest, 4);
    assert.equal(diffAll(h, { from: 4, to: 7, n: 1 }).length > 0, true);
    for (const [from, to] of [[3, 7], [4, 8]] as const) {
      const error = expectError(() => h.machine.rings.diff('r', { from, to, n: 1, start: 0, limit: 10 }), 'version_unavailable');
      assert.deepEqual(error.details, { ring: 'r', version: from === 3 ? 3 : 8, oldest: 4, current: 7 });
    }
    expectError(() => h.machine.rings.lookup('r', ['k'], 1, undefined, 2), 'version_unavailable');
  });

  test('ringHistoryBytesMax bounds all rings\' history together: the ring keeping the most loses its oldest steps first', () => {
    const h = build({ limits: { ringHistoryBytesMax: 64 * 10 + 10 * 8 } });
    for (let w = 1; w <= 20; w++) h.machine.run((m) => m.rings.putMember('one', `n${w}`, {}));
    const one = h.machine.rings.get('one');
    assert.ok(one.history.length <= 10, `one kept ${one.history.length} steps`);
    assert.equal(one.history.newest, one.version);
    for (let w = 1; w <= 5; w++) h.machine.run((m) => m.rings.putMember('two', `m${w}`, {}));
    const two = h.machine.rings.get('two');
    assert.equal(two.history.length, 5, 'the busy ring gave way, not the new one');
    assert.ok(one.history.length + two.history.length <= 10);
    assert.equal(one.history.newest, one.version);
    // What is kept still rebuilds exactly: the oldest kept version of `one` has the members it had then.
    const oldest = one.history.oldest;
    const config = one.history.configAt(oldest, one.config());
    assert.equal(config.weights.size, oldest - 1);
  });
});

describe('handover lookups', () => {
  test('previous gives the owners the ring gave at that version, beside the current ones', () => {
    const { h, seen } = history('xxhash', ids.map((id) => ({ kind: 'put', id, weight: 1 })), 2);
    const current = h.machine.rings.get('r').version;
    for (const previous of [2, 4, current]) {
      const result = h.machine.rings.lookup('r', keys, 2, undefined, previous);
      assert.deepEqual(result.nodes, seen.get(current));
      assert.deepEqual(result.previous, { version: previous, nodes: seen.get(previous) });
    }
    assert.equal(h.machine.rings.lookup('r', keys, 2).previous, undefined);
  });

  test('a previous version when the ring was empty answers no previous owners, not ring_empty', () => {
    const h = build();
    h.machine.run((m) => m.rings.putMember('r', 'a', {}));
    assert.deepEqual(h.machine.rings.lookup('r', ['k'], 1, undefined, 1).previous, { version: 1, nodes: [[]] });
  });
});
