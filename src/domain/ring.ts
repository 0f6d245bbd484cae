import type { Hashing } from './hashing.js';
import type { Member } from './model.js';
import { compareUtf8 } from './names.js';
import { Placement } from './placement.js';
import { type PlacementConfig, type RingAlgorithm, pointCounts, schemeFor } from './ring-algorithm.js';
import { RingHistory } from './ring-history.js';

/** Past this many members whose point count changes at once, rebuild rather than merge one by one. */
const mergesBeforeRebuildMax = 8;

/** One named ring: its members, its placement, its version, fingerprint and recent history. */
export class Ring {
  readonly members = new Map<string, Member>();
  placement: Placement;
  version = 1;
  history: RingHistory;
  /** One past version's placement, kept for handover lookups (`previous`). */
  pastPlacement: { readonly version: number; readonly placement: Placement } | null = null;
  private fingerprintMemo: string | null = null;

  constructor(
    readonly name: string,
    public vnodes: number,
    private readonly hashing: Hashing,
    public algorithm: RingAlgorithm = 'xxhash',
  ) {
    this.placement = new Placement(hashing, schemeFor(algorithm, hashing));
    this.history = new RingHistory(this.version);
  }

  /** Points a member of this weight owns on this ring, were it alone to change (xxhash). */
  pointsFor(weight: number): number {
    return Placement.pointCount(this.vnodes, weight);
  }

  /** What decides placement now, or with `id` at `weight` (null: without `id`). */
  config(change?: { readonly id: string; readonly weight: number | null }): PlacementConfig {
    const weights = new Map<string, number>();
    for (const member of this.members.values()) weights.set(member.id, member.weight);
    if (change !== undefined) {
      if (change.weight === null) weights.delete(change.id);
      else weights.set(change.id, change.weight);
    }
    return { algorithm: this.algorithm, vnodes: this.vnodes, weights };
  }

  /** Re-places one member after a weight change (or its arrival). */
  place(member: Member): void {
    if (this.algorithm === 'ketama') this.replaceAll();
    else this.placement.set(member.id, this.pointsFor(member.weight));
    this.fingerprintMemo = null;
  }

  unplace(id: string): void {
    this.placement.remove(id);
    if (this.algorithm === 'ketama') this.replaceAll();
    this.fingerprintMemo = null;
  }

  /** Changes vnodes or the algorithm: every member's points change, so this one rebuilds. */
  reconfigure(vnodes: number, algorithm: RingAlgorithm = this.algorithm): void {
    this.vnodes = vnodes;
    this.algorithm = algorithm;
    this.placement = Placement.build(this.hashing, schemeFor(algorithm, this.hashing), pointCounts(this.config()));
    this.fingerprintMemo = null;
  }

  /** The placement at `version` (which the history has): the live one, the kept past one, or a new build. */
  placementAt(version: number): Placement {
    if (version === this.version) return this.placement;
    if (this.pastPlacement?.version === version) return this.pastPlacement.placement;
    const config = this.history.configAt(version, this.config());
    return Placement.build(this.hashing, schemeFor(config.algorithm, this.hashing), pointCounts(config));
  }

  sortedMembers(): Member[] {
    return [...this.members.values()].sort((a, b) => compareUtf8(a.id, b.id));
  }

  /** Hex digest of what decides placement: algorithm, vnodes, member ids and weights. */
  fingerprint(): string {
    if (this.fingerprintMemo === null) {
      // The default algorithm is left out so that xxhash rings keep the digest they always had.
      const parts = this.algorithm === 'xxhash' ? [`vnodes=${this.vnodes}`] : [`algorithm=${this.algorithm}`, `vnodes=${this.vnodes}`];
      for (const member of this.sortedMembers()) parts.push(`${member.id}\u0000${member.weight}`);
      this.fingerprintMemo = this.hashing.fingerprint(parts.join('\n'));
    }
    return this.fingerprintMemo;
  }

  /**
   * Ketama: a member's share of the total weight sets its points, so one change
   * may change every member's count. Members whose count is unchanged keep their
   * points; many changed counts make one rebuild cheaper than many merges.
   */
  private replaceAll(): void {
    const counts = pointCounts(this.config());
    const changed = [...counts].filter(([id, points]) => this.placement.pointsOf(id) !== points);
    if (changed.length > mergesBeforeRebuildMax) {
      this.placement = Placement.build(this.hashing, this.placement.scheme, counts);
      return;
    }
    for (const [id, points] of changed) this.placement.set(id, points);
  }
}
