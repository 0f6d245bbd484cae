import type { HoldEnd } from './model.js';

const holdEnds: readonly HoldEnd[] = ['released', 'expired', 'revoked', 'max_hold', 'preempted'];
const holdEndCode: Readonly<Record<HoldEnd, number>> = { released: 0, expired: 1, revoked: 2, max_hold: 3, preempted: 4 };

/**
 * Remembers how the last `capacity` holds ended, so a late `release` learns
 * whether its hold expired, was released or was revoked. Oldest forgotten first.
 *
 * The eviction order lives in a ring of tokens, not in the Map's iteration order:
 * V8 leaves deleted entries in place at the front of a Map until it rehashes, so
 * `keys().next()` would walk every hole and make each release O(holes). The name
 * and reason live in the ring too (the Map holds the slot), so remembering a hold
 * allocates nothing: an expiry storm ends one per lease.
 */
export class EndedHolds {
  private readonly slotByToken = new Map<number, number>();
  private readonly tokens: Float64Array;
  private readonly names: string[];
  private readonly reasons: Uint8Array;
  private next = 0;

  constructor(private readonly capacity: number) {
    this.tokens = new Float64Array(capacity);
    this.names = new Array<string>(capacity).fill('');
    this.reasons = new Uint8Array(capacity);
  }

  remember(token: number, name: string, reason: HoldEnd): void {
    const slot = this.next;
    if (this.slotByToken.size >= this.capacity) this.slotByToken.delete(this.tokens[slot]!);
    this.slotByToken.set(token, slot);
    this.tokens[slot] = token;
    this.names[slot] = name;
    this.reasons[slot] = holdEndCode[reason];
    this.next = slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** How the hold `token` of `name` ended, or undefined if unknown here. */
  reason(token: number, name: string): HoldEnd | undefined {
    const slot = this.slotByToken.get(token);
    return slot !== undefined && this.names[slot] === name ? holdEnds[this.reasons[slot]!] : undefined;
  }

  get size(): number {
    return this.slotByToken.size;
  }
}
