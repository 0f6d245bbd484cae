import type { Hashing } from './hashing.js';
import { ketamaKeyHash, ketamaPointCounts, ketamaPoints } from './ketama-placement.js';

/**
 * How a ring turns members into points and keys into positions. `xxhash` is the
 * contract's placement (the default); `ketama` reproduces libmemcached's weighted
 * ketama so that a ring can route for clients already placed that way.
 */
export type RingAlgorithm = 'xxhash' | 'ketama';

export const ringAlgorithms: readonly RingAlgorithm[] = ['xxhash', 'ketama'];
export const ringAlgorithmDefault: RingAlgorithm = 'xxhash';

export function isRingAlgorithm(value: string): value is RingAlgorithm {
  return (ringAlgorithms as readonly string[]).includes(value);
}

/** What decides placement on a ring: the rest (meta, leases, versions) does not. */
export interface PlacementConfig {
  readonly algorithm: RingAlgorithm;
  readonly vnodes: number;
  /** Member id -> weight. */
  readonly weights: ReadonlyMap<string, number>;
}

/** The point arithmetic of one algorithm, over injected hash functions. */
export interface PointScheme {
  readonly algorithm: RingAlgorithm;
  /** The position of `key` on the circle. */
  keyHash(key: string): number;
  /** `out[i] = keyHash(keys[i])` for every key, in one call. */
  keyHashes(keys: readonly string[], out: Uint32Array): void;
  /** The `count` points of member `id`, sorted ascending. */
  nodePoints(id: string, count: number): Uint32Array;
}

/** The contract's points: `h32(id + "#" + i)`. */
export function xxhashScheme(hashing: Hashing): PointScheme {
  return {
    algorithm: 'xxhash',
    keyHash: (key) => hashing.h32(key),
    keyHashes: (keys, out) => hashing.h32Batch(keys, out),
    nodePoints: (id, count) => {
      const points = new Uint32Array(count);
      const prefix = `${id}#`;
      for (let i = 0; i < count; i++) points[i] = hashing.h32(prefix + i);
      return points.sort();
    },
  };
}

export function ketamaScheme(hashing: Hashing): PointScheme {
  return {
    algorithm: 'ketama',
    keyHash: (key) => ketamaKeyHash(hashing, key),
    keyHashes: (keys, out) => {
      for (let i = 0; i < keys.length; i++) out[i] = ketamaKeyHash(hashing, keys[i]!);
    },
    nodePoints: (id, count) => ketamaPoints(hashing, id, count),
  };
}

export function schemeFor(algorithm: RingAlgorithm, hashing: Hashing): PointScheme {
  return algorithm === 'ketama' ? ketamaScheme(hashing) : xxhashScheme(hashing);
}

/** The contract's point count of one member: independent of every other member. */
export function xxhashPointCount(vnodes: number, weight: number): number {
  return Math.floor(vnodes * weight + 0.5);
}

/**
 * Every member's point count under `config`. With xxhash a member's count depends
 * on its weight alone; with ketama on its share of the total weight, so one
 * member's change may change every other member's count.
 */
export function pointCounts(config: PlacementConfig): Map<string, number> {
  if (config.algorithm === 'ketama') return ketamaPointCounts(config.weights);
  const counts = new Map<string, number>();
  for (const [id, weight] of config.weights) counts.set(id, xxhashPointCount(config.vnodes, weight));
  return counts;
}
