import type { Ring } from '../domain/ring.js';

export interface RingShares {
  readonly ring: string;
  readonly version: number;
  readonly vnodes: number;
  readonly fingerprint: string;
  /** Every member in id order; `share` is its fraction of the 2^32 hashes (0 for weight 0). */
  readonly nodes: { readonly id: string; readonly weight: number; readonly share: number }[];
}

const hashSpace = 2 ** 32;

/** Each member's share of the hash space, from the ring's placement as it is now. */
export function ringShares(ring: Ring): RingShares {
  const spans = ring.placement.spans();
  return {
    ring: ring.name,
    version: ring.version,
    vnodes: ring.vnodes,
    fingerprint: ring.fingerprint(),
    nodes: ring.sortedMembers().map((member) => ({ id: member.id, weight: member.weight, share: (spans.get(member.id) ?? 0) / hashSpace })),
  };
}
