import type { Placement } from './placement.js';

/** The largest position on the 32-bit hash circle. */
export const circleMax = 0xffff_ffff;

/**
 * Positions `start..end` (both inclusive, start <= end: a range never wraps) whose
 * owners were `before` and are `after`, owner first, up to n replicas each.
 */
export interface MovedRange {
  readonly start: number;
  readonly end: number;
  readonly before: string[];
  readonly after: string[];
}

export interface DiffPage {
  readonly ranges: MovedRange[];
  /** Present when more ranges follow: the `start` of the next page. */
  readonly next?: number;
}

/**
 * The positions whose replica list (n owners, in order) differs between two
 * placements, as sorted, non-overlapping ranges, adjacent ranges with the same
 * owners merged. Ownership only changes at a point of either placement: a key at
 * position h belongs to the first point >= h, so between two consecutive points
 * p < q of the union every position in (p, q] has the owners of q. The arc past
 * the last point wraps to the first point's owners; it is reported as a range
 * ending at circleMax (and its continuation from 0), never as one wrapping range.
 *
 * Only ranges at or after `from` are listed, the first one clipped to start at
 * `from`, at most `limit` of them.
 */
export function diffPlacements(before: Placement, after: Placement, n: number, from: number, limit: number): DiffPage {
  const breaks = unionOfPoints(before.pointHashes(), after.pointHashes());
  const ranges: MovedRange[] = [];
  let open: MovedRange | null = null;
  let segmentStart = 0;
  const visit = (segmentEnd: number, probe: number): boolean => {
    const start = Math.max(segmentStart, from);
    segmentStart = segmentEnd + 1;
    if (segmentEnd < from) return true;
    const was = owners(before, probe, n);
    const now = owners(after, probe, n);
    if (sameList(was, now)) {
      open = null;
      return true;
    }
    if (open !== null && open.end + 1 === start && sameList(open.before, was) && sameList(open.after, now)) {
      ranges[ranges.length - 1] = open = { ...open, end: segmentEnd };
      return true;
    }
    if (ranges.length === limit) return false;
    open = { start, end: segmentEnd, before: was, after: now };
    ranges.push(open);
    return true;
  };
  for (const point of breaks) {
    if (!visit(point, point)) return { ranges, next: nextStart(ranges, from) };
  }
  if (segmentStart <= circleMax && !visit(circleMax, 0)) return { ranges, next: nextStart(ranges, from) };
  return { ranges };
}

/** Where the next page starts: just past the last listed range. */
function nextStart(ranges: readonly MovedRange[], from: number): number {
  return ranges.length === 0 ? from : ranges[ranges.length - 1]!.end + 1;
}

function owners(placement: Placement, position: number, n: number): string[] {
  const out: string[] = [];
  out.length = placement.lookupHash(position, n, out);
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** The sorted distinct positions of two sorted point arrays. */
function unionOfPoints(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let count = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (count === 0 || out[count - 1] !== next) out[count++] = next;
  }
  return out.subarray(0, count);
}
