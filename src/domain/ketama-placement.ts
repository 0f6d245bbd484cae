import type { Hashing } from './hashing.js';

/**
 * libmemcached's weighted ketama, point for point. A server owns
 * `floor(share * 40 * servers) * 4` points, where `share` is its weight over the
 * total; each group of four points is the four little-endian 32-bit words of
 * `md5(id + "-" + k)`, k = 0, 1, ... A key's position is the first word of md5(key).
 *
 * The count is computed in single-precision floats, as libmemcached does: in
 * doubles, seven servers of equal weight would get 39 digests each instead of 40.
 */
export const ketamaDigestsPerServer = 40;
export const ketamaPointsPerDigest = 4;

const f32 = Math.fround;

/** Points of one server of `weight` among `servers` servers weighing `totalWeight`. */
export function ketamaPointCount(weight: number, totalWeight: number, servers: number): number {
  if (weight <= 0 || totalWeight <= 0) return 0;
  const share = f32(f32(weight) / f32(totalWeight));
  // Each product of two floats is exact in a double, so one rounding gives the float product.
  const perServer = f32(share * (ketamaDigestsPerServer * ketamaPointsPerDigest));
  const digests = f32(f32(f32(perServer / ketamaPointsPerDigest) * f32(servers)) + 0.0000000001);
  return Math.floor(digests) * ketamaPointsPerDigest;
}

/**
 * Every member's points. Members of weight 0 are left out of the server list
 * altogether (they own nothing and do not count as servers), as a drained server
 * removed from a memcached client's list would be.
 */
export function ketamaPointCounts(weights: ReadonlyMap<string, number>): Map<string, number> {
  let total = 0;
  let servers = 0;
  for (const weight of weights.values()) {
    if (weight <= 0) continue;
    total += weight;
    servers += 1;
  }
  const counts = new Map<string, number>();
  for (const [id, weight] of weights) counts.set(id, ketamaPointCount(weight, total, servers));
  return counts;
}

/** The `count` points (a multiple of 4) of server `id`, sorted ascending. */
export function ketamaPoints(hashing: Hashing, id: string, count: number): Uint32Array {
  const points = new Uint32Array(count);
  for (let k = 0; k * ketamaPointsPerDigest < count; k++) {
    const digest = hashing.md5(`${id}-${k}`);
    for (let word = 0; word < ketamaPointsPerDigest && k * ketamaPointsPerDigest + word < count; word++) {
      points[k * ketamaPointsPerDigest + word] = littleEndianWord(digest, word);
    }
  }
  return points.sort();
}

/** A key's position on a ketama ring: the first little-endian word of md5(key). */
export function ketamaKeyHash(hashing: Hashing, key: string): number {
  return littleEndianWord(hashing.md5(key), 0);
}

function littleEndianWord(digest: Uint8Array, word: number): number {
  const at = word * 4;
  return (digest[at]! | (digest[at + 1]! << 8) | (digest[at + 2]! << 16) | (digest[at + 3]! << 24)) >>> 0;
}
