import { assert } from './errors.js';
import type { PlacementConfig, RingAlgorithm } from './ring-algorithm.js';

/** What a configuration change (PUT of the ring) set. */
export interface RingShape {
  readonly algorithm: RingAlgorithm;
  readonly vnodes: number;
}

/**
 * One version step of a ring, enough to undo it: a member's weight before and
 * after (null: not a member), or the ring's shape before and after. A change of
 * meta or lease alone is a member step with equal weights: the version moved,
 * placement did not.
 */
export type RingChange =
  | { readonly version: number; readonly kind: 'member'; readonly node: string; readonly before: number | null; readonly after: number | null }
  | { readonly version: number; readonly kind: 'shape'; readonly before: RingShape; readonly after: RingShape };

/** Bytes a change is counted for against ringHistoryBytesMax: its node id plus a fixed overhead. */
export const ringChangeOverheadBytes = 64;

export function ringChangeBytes(change: RingChange): number {
  return ringChangeOverheadBytes + (change.kind === 'member' ? Buffer.byteLength(change.node, 'utf8') : 0);
}

/**
 * The recent versions of one ring, as the steps from `oldest` to the current
 * version. Any version from `oldest` on can be rebuilt by undoing steps from the
 * current configuration backwards, so one step per version is all it costs.
 */
export class RingHistory {
  private steps: RingChange[] = [];
  private stepBytes = 0;

  /** `oldest` is the earliest version that can be rebuilt (the ring's version when history starts). */
  constructor(private oldestVersion: number) {}

  get oldest(): number {
    return this.oldestVersion;
  }

  /** The version the last step reached (the ring's current version). */
  get newest(): number {
    return this.oldestVersion + this.steps.length;
  }

  get length(): number {
    return this.steps.length;
  }

  get bytes(): number {
    return this.stepBytes;
  }

  changes(): readonly RingChange[] {
    return this.steps;
  }

  /** Appends the step that made version `change.version`; it must follow the newest. */
  record(change: RingChange): void {
    assert(change.version === this.newest + 1, 'ring history step out of order');
    this.steps.push(change);
    this.stepBytes += ringChangeBytes(change);
  }

  /** Forgets the oldest step; returns the bytes freed (0 when there is none). */
  dropOldest(): number {
    const first = this.steps.shift();
    if (first === undefined) return 0;
    this.oldestVersion = first.version;
    const freed = ringChangeBytes(first);
    this.stepBytes -= freed;
    return freed;
  }

  has(version: number): boolean {
    return Number.isSafeInteger(version) && version >= this.oldestVersion && version <= this.newest;
  }

  /** The configuration at `version` (which `has`), rebuilt from the current one. */
  configAt(version: number, current: PlacementConfig): PlacementConfig {
    assert(this.has(version), 'ring version not in history');
    let { algorithm, vnodes } = current;
    const weights = new Map(current.weights);
    for (let i = this.steps.length - 1; i >= 0 && this.steps[i]!.version > version; i--) {
      const step = this.steps[i]!;
      if (step.kind === 'shape') {
        ({ algorithm, vnodes } = step.before);
      } else if (step.before === null) {
        weights.delete(step.node);
      } else {
        weights.set(step.node, step.before);
      }
    }
    return { algorithm, vnodes, weights };
  }
}
