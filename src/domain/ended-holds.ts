import type { HoldEnd } from './model.js';

interface EndedHold {
  readonly name: string;
  readonly reason: HoldEnd;
}

/**
 * Remembers how the last `capacity` holds ended, so a late `release` learns
 * whether its hold expired, was released or was revoked. Oldest forgotten first.
 *
 * The eviction order lives in a ring of tokens, not in the Map's iteration order:
 * V8 leaves deleted entries in place at the front of a Map until it rehashes, so
 * `keys().next()` would walk every hole and make each release O(holes).
 */
export class EndedHolds {
  private readonly byToken = new Map<number, EndedHold>();
  private readonly order: Float64Array;
  private next = 0;

  constructor(private readonly capacity: number) {
    this.order = new Float64Array(capacity);
  }

  remember(token: number, name: string, reason: HoldEnd): void {
    if (this.byToken.size >= this.capacity) this.byToken.delete(this.order[this.next]!);
    this.byToken.set(token, { name, reason });
    this.order[this.next] = token;
    this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
  }

  /** How the hold `token` of `name` ended, or undefined if unknown here. */
  reason(token: number, name: string): HoldEnd | undefined {
    const ended = this.byToken.get(token);
    return ended !== undefined && ended.name === name ? ended.reason : undefined;
  }

  get size(): number {
    return this.byToken.size;
  }
}
