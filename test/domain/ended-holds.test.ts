import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EndedHolds } from '../../src/domain/ended-holds.js';

test('ended holds: the last `capacity` are remembered by token and name, listed oldest first, the oldest forgotten first', () => {
  const ended = new EndedHolds(3);
  assert.deepEqual([...ended.entries()], []);
  ended.remember(1, 'a', 'released');
  ended.remember(2, 'b', 'expired');
  assert.deepEqual([...ended.entries()].map((e) => e.token), [1, 2], 'before the ring wraps');
  ended.remember(3, 'c', 'revoked');
  ended.remember(4, 'd', 'max_hold');
  ended.remember(5, 'e', 'preempted');
  assert.deepEqual([...ended.entries()], [
    { token: 3, name: 'c', reason: 'revoked' },
    { token: 4, name: 'd', reason: 'max_hold' },
    { token: 5, name: 'e', reason: 'preempted' },
  ]);
  assert.equal(ended.size, 3);
  assert.deepEqual([ended.has(1), ended.has(2), ended.has(3)], [false, false, true]);
  assert.equal(ended.reason(1, 'a'), undefined, 'forgotten');
  assert.equal(ended.reason(4, 'd'), 'max_hold');
  assert.equal(ended.reason(4, 'other'), undefined, 'a token of another name');
});
