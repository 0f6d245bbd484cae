import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FeedEvent, ReplayBuffer } from '../../src/watch/replay-buffer.js';

const event = (seq: number, tail = 'x'): FeedEvent => ({ seq, topic: 'lock', name: 'n', tail });

describe('replay buffer', () => {
  test('gives exactly the events after an id, and null once one of them is gone', () => {
    const buffer = new ReplayBuffer(3, 1024 * 1024);
    for (let seq = 1; seq <= 5; seq++) buffer.push(event(seq));
    assert.equal(buffer.size, 3);
    assert.deepEqual(buffer.since(2, 5)!.map((e) => e.seq), [3, 4, 5]);
    assert.deepEqual(buffer.since(4, 4), []);
    assert.deepEqual(buffer.since(3, 4)!.map((e) => e.seq), [4], 'not past what was shown');
    assert.equal(buffer.since(1, 5), null, 'event 2 is gone');
  });

  test('is bounded by bytes too: a large event pushes old ones out', () => {
    const buffer = new ReplayBuffer(1000, 4096);
    for (let seq = 1; seq <= 10; seq++) buffer.push(event(seq, 'y'.repeat(500)));
    assert.ok(buffer.sizeBytes <= 4096, `${buffer.sizeBytes} bytes kept`);
    assert.ok(buffer.size >= 1 && buffer.size < 10);
    buffer.push(event(11, 'z'.repeat(10_000)));
    assert.equal(buffer.size, 0, 'an event larger than the bound is not kept');
    assert.equal(buffer.since(10, 11), null);
  });

  test('keeps its order across compaction', () => {
    const buffer = new ReplayBuffer(10, 1024 * 1024);
    for (let seq = 1; seq <= 5000; seq++) buffer.push(event(seq));
    assert.deepEqual(buffer.since(4990, 5000)!.map((e) => e.seq), [4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999, 5000]);
  });
});
