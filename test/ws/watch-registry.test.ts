import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Rings } from '../../src/domain/rings.js';
import { type Watch, type WatchTarget, WatchRegistry } from '../../src/ws/watch-registry.js';

const noRings = { byName: new Map() } as unknown as Rings;

function setup(max = 100): { registry: WatchRegistry; watch(target: WatchTarget): Watch; sent: string[] } {
  const registry = new WatchRegistry(noRings, max);
  const sent: string[] = [];
  let id = 0;
  return {
    registry,
    sent,
    watch(target) {
      const watch: Watch = { id: ++id, target, sink: { sendText: (text) => sent.push(text) } };
      registry.add(watch);
      return watch;
    },
  };
}

describe('watch registry', () => {
  test('an event reaches the exact and prefix watches it concerns, and no other', () => {
    const { registry, watch, sent } = setup();
    watch({ topic: 'lock', name: 'a/b/c' });
    watch({ topic: 'lock', prefix: 'a/' });
    watch({ topic: 'lock', prefix: 'a/b/' });
    watch({ topic: 'lock', prefix: 'a/b/c' });
    watch({ topic: 'lock', prefix: 'a/x' });
    watch({ topic: 'lock', prefix: 'a/b/c/d' });
    watch({ topic: 'lock', prefix: '' });
    watch({ topic: 'lock', name: 'a/b' });
    registry.lockEvent('acquired', 'a/b/c', 7, 'o');
    const ids = sent.map((text) => JSON.parse(text).watchId).sort((x: number, y: number) => x - y);
    assert.deepEqual(ids, [1, 2, 3, 4, 7]);
    assert.deepEqual(JSON.parse(sent[0]!), { event: 'lock', watchId: 1, type: 'acquired', name: 'a/b/c', token: 7, owner: 'o' });
  });

  test('prefixes outside the BMP match whole characters', () => {
    const { registry, watch, sent } = setup();
    watch({ topic: 'lock', prefix: '𝄞' });
    registry.lockEvent('released', '𝄞-score', 1, '');
    registry.lockEvent('released', 'x𝄞', 2, '');
    assert.equal(sent.length, 1);
  });

  test('removing watches drops their index entries; the total is bounded', () => {
    const { registry, watch, sent } = setup(3);
    const a = watch({ topic: 'lock', prefix: 'p' });
    const b = watch({ topic: 'lock', prefix: 'p' });
    const c = watch({ topic: 'ring', ring: 'r' });
    assert.throws(() => watch({ topic: 'lock', name: 'n' }), /wsWatchesMax/);
    registry.remove(a);
    registry.remove(a);
    assert.equal(registry.size, 2);
    registry.lockEvent('acquired', 'pq', 1, '');
    assert.equal(sent.length, 1);
    registry.remove(b);
    registry.remove(c);
    assert.equal(registry.size, 0);
    registry.lockEvent('acquired', 'pq', 2, '');
    registry.ringEvent('r');
    assert.equal(sent.length, 1);
  });
});
