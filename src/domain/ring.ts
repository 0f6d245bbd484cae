import type { Hashing } from './hashing.js';
import type { Member } from './model.js';
import { compareUtf8 } from './names.js';
import { Placement } from './placement.js';

/** One named ring: its members, its placement, its version and fingerprint. */
export class Ring {
  readonly members = new Map<string, Member>();
  readonly placement: Placement;
  version = 1;
  private fingerprintMemo: string | null = null;

  constructor(
    readonly name: string,
    public vnodes: number,
    private readonly hashing: Hashing,
  ) {
    this.placement = new Placement(hashing);
  }

  /** Points a member of this weight owns on this ring. */
  pointsFor(weight: number): number {
    return Placement.pointCount(this.vnodes, weight);
  }

  /** Re-places one member after a weight change (or its arrival). */
  place(member: Member): void {
    this.placement.set(member.id, this.pointsFor(member.weight));
    this.fingerprintMemo = null;
  }

  unplace(id: string): void {
    this.placement.remove(id);
    this.fingerprintMemo = null;
  }

  /** Changes vnodes: every member's point count changes, so this one rebuilds. */
  reconfigure(vnodes: number): void {
    this.vnodes = vnodes;
    for (const member of this.members.values()) this.place(member);
  }

  sortedMembers(): Member[] {
    return [...this.members.values()].sort((a, b) => compareUtf8(a.id, b.id));
  }

  /** Hex digest of what decides placement: vnodes, member ids and weights. */
  fingerprint(): string {
    if (this.fingerprintMemo === null) {
      const parts = [`vnodes=${this.vnodes}`];
      for (const member of this.sortedMembers()) parts.push(`${member.id}\u0000${member.weight}`);
      this.fingerprintMemo = this.hashing.fingerprint(parts.join('\n'));
    }
    return this.fingerprintMemo;
  }
}
