/** Latency samples in ms, kept exactly (bounded) so percentiles are exact. */
export class Recorder {
  private samples: Float64Array;
  private count = 0;
  private dropped = 0;

  constructor(private readonly capacity = 4_000_000) {
    this.samples = new Float64Array(Math.min(capacity, 65_536));
  }

  add(ms: number): void {
    if (this.count === this.samples.length) {
      if (this.count >= this.capacity) {
        this.dropped += 1;
        return;
      }
      const grown = new Float64Array(Math.min(this.capacity, this.samples.length * 2));
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = ms;
  }

  get size(): number {
    return this.count;
  }

  summary(): LatencySummary {
    return summarize(this.samples.subarray(0, this.count), this.dropped);
  }
}

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** Samples past the recorder's capacity (not in the percentiles). */
  readonly dropped?: number;
}

export function summarize(values: ArrayLike<number>, dropped = 0): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const count = sorted.length;
  if (count === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN };
  let sum = 0;
  for (const value of sorted) sum += value;
  const summary = { count, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[count - 1]!, mean: sum / count };
  return dropped > 0 ? { ...summary, dropped } : summary;
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** A small deterministic PRNG (mulberry32) so key sets repeat from run to run. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
