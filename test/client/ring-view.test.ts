import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RingView, type RingSnapshot } from '../../src/client/ring-view.js';
import { loadHashing } from '../../src/xxhash.js';

const hashing = await loadHashing();

/** A view whose HTTP reads the test answers by hand, in order. */
function setup(): { view: RingView; reads: ((snapshot: RingSnapshot | null) => void)[] } {
  const reads: ((snapshot: RingSnapshot | null) => void)[] = [];
  const view = new RingView('r', hashing, () => new Promise((resolve) => reads.push(resolve)), async () => {});
  return { view, reads };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const push = (version: number, nodes: [string, number][]) =>
  ({ event: 'ring', watchId: 1, ring: 'r', type: 'changed', version, nodes: nodes.map(([id, weight]) => ({ id, weight })) }) as const;

describe('ring view: pushes and reads', () => {
  test('a read older than a push seen meanwhile is read again', async () => {
    const { view, reads } = setup();
    const first = view.refresh();
    view.applyPush(push(3, [['a', 1], ['b', 1]]));
    reads[0]!({ version: 2, vnodes: 10, nodes: [{ id: 'a', weight: 1 }] });
    await tick();
    assert.equal(reads.length, 2, 'read again');
    reads[1]!({ version: 3, vnodes: 10, nodes: [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }] });
    await first;
    assert.equal(view.version, 3);
    assert.deepEqual(view.nodes.map((n) => n.id), ['a', 'b']);
  });

  test('the next membership change applies without a read; a change that keeps the members reads', async () => {
    const { view, reads } = setup();
    const first = view.refresh();
    reads[0]!({ version: 1, vnodes: 10, nodes: [{ id: 'a', weight: 1 }] });
    await first;
    view.applyPush(push(2, [['a', 1], ['b', 2]]));
    assert.equal(view.version, 2);
    assert.equal(reads.length, 1);
    view.applyPush(push(2, [['a', 1], ['b', 2]]));
    assert.equal(reads.length, 1, 'an old push is ignored');
    view.applyPush(push(3, [['a', 1], ['b', 2]]));
    assert.equal(view.version, 2, 'vnodes (or meta) may have changed: keep answering at 2');
    await tick();
    assert.equal(reads.length, 2);
    reads[1]!({ version: 3, vnodes: 20, nodes: [{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }] });
    await view.refresh();
    assert.equal(view.vnodes, 20);
    view.applyPush(push(5, [['a', 1]]));
    assert.equal(view.version, 3, 'a gap (4 missed) reads');
    await tick();
    reads[2]!({ version: 5, vnodes: 20, nodes: [{ id: 'a', weight: 1 }] });
    await view.refresh();
    assert.equal(view.version, 5);
  });

  test('a deletion during a read wins over the read', async () => {
    const { view, reads } = setup();
    const first = view.refresh();
    view.applyPush({ event: 'ring', watchId: 1, ring: 'r', type: 'deleted', version: 4, nodes: [] });
    reads[0]!({ version: 4, vnodes: 10, nodes: [{ id: 'a', weight: 1 }] });
    await first;
    assert.equal(view.exists, false);
    assert.throws(() => view.lookup('k'), /does not exist/);
  });
});

describe('ring view: batch lookups', () => {
  test('lookupMany answers as lookup does for each key, in order, and refuses as it does', async () => {
    const { view, reads } = setup();
    const first = view.refresh();
    reads[0]!({ version: 1, vnodes: 40, nodes: [{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }, { id: 'ü', weight: 1 }, { id: 'z', weight: 0 }] });
    await first;
    const keys = Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? `user:${i}` : `ключ-${i}`));
    for (const n of [1, 2, 5]) assert.deepEqual(view.lookupMany(keys, n), keys.map((key) => view.lookup(key, n)));
    assert.equal(view.lookupMany(keys, 5)[0]!.length, 3, 'three members of weight > 0');
    view.applyPush(push(2, [['z', 0]]));
    assert.throws(() => view.lookupMany(keys), /no node with weight > 0/);
  });
});
