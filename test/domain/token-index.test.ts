import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { TokenIndex } from '../../src/domain/token-index.js';

test('token index: set, get, replace and delete, through growth', () => {
  const index = new TokenIndex();
  assert.equal(index.get(1), -1);
  for (let token = 1; token <= 3_000; token++) index.set(token, token * 2);
  assert.equal(index.size, 3_000);
  assert.equal(index.get(2_999), 5_998);
  index.set(2_999, 7);
  assert.equal(index.get(2_999), 7, 'a second set replaces');
  assert.equal(index.size, 3_000);
  for (let token = 1; token <= 3_000; token += 2) assert.equal(index.delete(token), true);
  assert.equal(index.delete(1), false, 'deleted once');
  assert.equal(index.size, 1_500);
  assert.equal(index.get(1), -1);
  assert.equal(index.get(2), 4);
});

test('property: the index answers as a Map does, with colliding tokens, wrap-around probes and tokens past 2^32', () => {
  // Tokens a multiple of 1,024 apart share a home slot in a small table; tokens near the
  // end of the table wrap to its start; tokens above 2^32 mix their high bits in.
  const token = fc.oneof(
    fc.integer({ min: 1, max: 40 }).map((k) => k * 1_024),
    fc.integer({ min: 1_000, max: 1_060 }),
    fc.integer({ min: 1, max: 30 }).map((k) => 2 ** 32 + k),
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  );
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), token, value: fc.integer({ min: 0, max: 1_000_000 }) }),
    fc.record({ kind: fc.constant('delete' as const), token }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 1_500 }), (ops) => {
      const index = new TokenIndex();
      const model = new Map<number, number>();
      for (const step of ops) {
        if (step.kind === 'set') {
          index.set(step.token, step.value);
          model.set(step.token, step.value);
        } else {
          assert.equal(index.delete(step.token), model.delete(step.token));
        }
      }
      assert.equal(index.size, model.size);
      for (const step of ops) assert.equal(index.get(step.token), model.get(step.token) ?? -1);
    }),
    { numRuns: 150 },
  );
});

// Not a speed goal: a guard against the quadratic case. Consecutive tokens laid out as
// they are fill one run of slots, and each delete of the oldest walked the whole run:
// this loop then took minutes instead of well under a second.
test('a first-in, first-out window of consecutive tokens, as the ended-holds memory keeps them, stays cheap', { timeout: 30_000 }, () => {
  const index = new TokenIndex();
  const window = 100_000;
  for (let token = 1; token <= 300_000; token++) {
    if (token > window) assert.equal(index.delete(token - window), true);
    index.set(token, token % window);
  }
  assert.equal(index.size, window);
  assert.equal(index.get(200_001), 200_001 % window);
  assert.equal(index.get(200_000), -1);
});
