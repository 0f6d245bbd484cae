import type { HoldEnd } from './model.js';
import { TokenIndex } from './token-index.js';

/** How a hold ended, by code: the log's lockEnded records keep these codes, so append only. */
export const holdEnds: readonly HoldEnd[] = ['released', 'expired', 'revoked', 'max_hold', 'preempted'];
export const holdEndCode: Readonly<Record<HoldEnd, number>> = { released: 0, expired: 1, revoked: 2, max_hold: 3, preempted: 4 };

/**
 * Remembers how the last `capacity` holds ended, so a late `release` learns
 * whether its hold expired, was released or was revoked. Oldest forgotten first.
 *
 * The eviction order lives in a ring of tokens, and the name and reason live in the
 * ring too; a token index (token-index.ts) finds a token's place in the ring.
 * Remembering a hold allocates nothing (an expiry storm ends one per lease) and
 * forgetting the oldest costs one delete from the index.
 */
export class EndedHolds {
  private readonly slotByToken = new TokenIndex();
  private readonly tokens: Float64Array;
  private readonly names: string[];
  private readonly reasons: Uint8Array;
  private next = 0;
  /** Every slot has been used once: the oldest is at `next`, not at 0. */
  private wrapped = false;

  constructor(private readonly capacity: number) {
    this.tokens = new Float64Array(capacity);
    this.names = new Array<string>(capacity).fill('');
    this.reasons = new Uint8Array(capacity);
  }

  remember(token: number, name: string, reason: HoldEnd): void {
    const slot = this.next;
    if (this.wrapped) this.slotByToken.delete(this.tokens[slot]!);
    this.slotByToken.set(token, slot);
    this.tokens[slot] = token;
    this.names[slot] = name;
    this.reasons[slot] = holdEndCode[reason];
    if (slot + 1 === this.capacity) {
      this.next = 0;
      this.wrapped = true;
    } else {
      this.next = slot + 1;
    }
  }

  /** How the hold `token` of `name` ended, or undefined if unknown here. */
  reason(token: number, name: string): HoldEnd | undefined {
    const slot = this.slotByToken.get(token);
    return slot >= 0 && this.names[slot] === name ? holdEnds[this.reasons[slot]!] : undefined;
  }

  has(token: number): boolean {
    return this.slotByToken.get(token) >= 0;
  }

  get size(): number {
    return this.slotByToken.size;
  }

  /** The remembered holds, oldest first (what a snapshot keeps). */
  *entries(): IterableIterator<{ readonly token: number; readonly name: string; readonly reason: HoldEnd }> {
    // Fixed at the start: a walk that yields to the event loop never visits a slot twice.
    // An end that comes meanwhile may take a slot not visited yet and be written there,
    // out of order: the log after the walk has it too, and recovery keeps the first word.
    const start = this.wrapped ? this.next : 0;
    const used = this.wrapped ? this.capacity : this.next;
    for (let i = 0; i < used; i++) {
      const slot = (start + i) % this.capacity;
      const token = this.tokens[slot]!;
      // A slot counts only while its token still maps to it (never-used slots hold token 0).
      if (this.slotByToken.get(token) === slot) yield { token, name: this.names[slot]!, reason: holdEnds[this.reasons[slot]!]! };
    }
  }
}
