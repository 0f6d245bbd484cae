interface Bucket {
  /** Requests that may still be made now (fractional while refilling). */
  tokens: number;
  atMs: number;
}

/**
 * A token bucket per key (a client address, or an auth token's name): `perSecond`
 * requests a second on average, bursts of one second's worth. 0 turns it off. The
 * table is bounded: past `keysMax` keys the least recently seen one is forgotten
 * (it starts again with a full bucket), so a flood of new addresses costs memory
 * once and no more.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly perSecond: number,
    private readonly keysMax: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one request from `key`'s bucket: 0 when allowed, else the ms until one is. */
  take(key: string): number {
    if (this.perSecond === 0) return 0;
    const now = this.nowMs();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.keysMax) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.perSecond, atMs: now };
    } else {
      bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.atMs) * this.perSecond) / 1000);
      bucket.atMs = now;
      // Map order is insertion order: moving the key to the end keeps it least-recently-seen first.
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 1000) / this.perSecond));
  }
}
