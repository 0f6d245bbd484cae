import { assert } from './errors.js';

/**
 * The server-wide fencing counter. Every grant of every name takes the next value,
 * so a token is strictly greater than every token issued before it. The store
 * restores `last` on recovery; it only ever moves forward.
 */
export class FencingCounter {
  private lastToken: number;

  constructor(last = 0) {
    this.lastToken = last;
  }

  get last(): number {
    return this.lastToken;
  }

  next(): number {
    assert(this.lastToken < Number.MAX_SAFE_INTEGER, 'fencing counter exhausted');
    this.lastToken += 1;
    return this.lastToken;
  }

  /** Moves the counter up to at least `token` (recovery). Never moves it down. */
  advanceTo(token: number): void {
    if (token > this.lastToken) this.lastToken = token;
  }
}
