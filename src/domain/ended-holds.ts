import type { HoldEnd } from './model.js';

interface EndedHold {
  readonly name: string;
  readonly reason: HoldEnd;
}

/**
 * Remembers how the last `capacity` holds ended, so a late `release` learns
 * whether its hold expired, was released or was revoked. Oldest forgotten first.
 */
export class EndedHolds {
  private readonly byToken = new Map<number, EndedHold>();

  constructor(private readonly capacity: number) {}

  remember(token: number, name: string, reason: HoldEnd): void {
    this.byToken.set(token, { name, reason });
    if (this.byToken.size > this.capacity) {
      const oldest = this.byToken.keys().next().value as number;
      this.byToken.delete(oldest);
    }
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
