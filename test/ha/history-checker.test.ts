/**
 * The fault suite's history checker must be able to fail: hand-made histories with
 * one violation each are caught, and lawful ones (readers sharing) are not.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HaHistory, type Hold } from '../helpers/ha-history.js';

let nextToken = 1;
function hold(mode: 'read' | 'write', from: number, to: number, limit = 1, name = 'rw'): Hold {
  return { name, limit, mode, token: nextToken++, sentAt: from - 1, ackedAt: from, ttlMs: 60_000, releaseSentAt: to, releaseOutcome: 'released' };
}

function problems(holds: Hold[]): string[] {
  const history = new HaHistory();
  history.holds.push(...holds);
  return history.check();
}

describe('fault history checker', () => {
  test('readers that overlap each other are lawful', () => {
    assert.deepEqual(problems([hold('read', 10, 50), hold('read', 20, 60), hold('write', 60, 70)]), []);
  });

  test('a writer overlapping a reader is caught, in either order', () => {
    assert.match(problems([hold('read', 10, 50), hold('write', 40, 80)]).join('\n'), /a writer held it together with readers/);
    assert.match(problems([hold('write', 10, 50), hold('read', 40, 80)]).join('\n'), /a writer held it together with readers/);
  });

  test('writers beyond the limit are caught; within it they are not', () => {
    assert.match(problems([hold('write', 10, 50), hold('write', 40, 80)]).join('\n'), /had 2 valid holders at once/);
    assert.deepEqual(problems([hold('write', 10, 50, 2, 'sem'), hold('write', 40, 80, 2, 'sem')]), []);
  });

  test('a token granted twice, or not above one acknowledged before it was asked, is caught', () => {
    const first = hold('write', 10, 20);
    const again: Hold = { ...hold('write', 30, 40), token: first.token };
    assert.match(problems([first, again]).join('\n'), /granted twice/);
    const low: Hold = { ...hold('write', 30, 40), token: first.token - 1 };
    assert.match(problems([first, low]).join('\n'), /is not above/);
  });
});
