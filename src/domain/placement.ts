import type { Hashing } from './hashing.js';
import { assert } from './errors.js';
import { compareUtf8 } from './names.js';
import { type PointScheme, xxhashScheme, xxhashPointCount } from './ring-algorithm.js';

/**
 * The consistent-hash point set of one ring: two parallel sorted arrays, point
 * hashes and the slot of the node owning each point. A membership change merges or
 * filters that node's points in place (O(points), no rehash of other nodes); a
 * lookup is one hash and one binary search.
 *
 * Order: by hash, then by node id in UTF-8 byte order (the contract's tie rule).
 */
/** A hash times this plus a slot stays an exact double (2^32 * 2^21 = 2^53). */
const slotPackFactor = 2 ** 21;

export class Placement {
  private hashes = new Uint32Array(0);
  private slots = new Uint32Array(0);
  private count = 0;
  private readonly slotIds: (string | undefined)[] = [];
  private readonly slotPoints: number[] = [];
  private readonly slotById = new Map<string, number>();
  private readonly freeSlots: number[] = [];
  private placedNodes = 0;

  /** The contract's xxhash points unless another scheme (ketama) is given. */
  constructor(
    hashing: Hashing,
    readonly scheme: PointScheme = xxhashScheme(hashing),
  ) {}

  /**
   * A placement built in one pass from every member's point count: one sort of all
   * points instead of one merge per member. Slots are handed out in id byte order,
   * so sorting by (hash, slot) is the contract's (hash, id bytes) order.
   */
  static build(hashing: Hashing, scheme: PointScheme, counts: ReadonlyMap<string, number>): Placement {
    const placement = new Placement(hashing, scheme);
    const ids = [...counts.keys()].filter((id) => counts.get(id)! > 0).sort(compareUtf8);
    assert(ids.length < slotPackFactor, 'too many members to pack a placement');
    let total = 0;
    for (const id of ids) total += counts.get(id)!;
    const packed = new Float64Array(total);
    let at = 0;
    for (const [slot, id] of ids.entries()) {
      const points = counts.get(id)!;
      placement.takeSlot(id, points);
      for (const hash of scheme.nodePoints(id, points)) packed[at++] = hash * slotPackFactor + slot;
    }
    packed.sort();
    placement.ensureCapacity(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      const slot = value % slotPackFactor;
      placement.hashes[i] = (value - slot) / slotPackFactor;
      placement.slots[i] = slot;
    }
    placement.count = total;
    placement.placedNodes = ids.length;
    return placement;
  }

  /** Points on the ring. */
  get size(): number {
    return this.count;
  }

  /** Nodes that own at least one point. */
  get nodesPlaced(): number {
    return this.placedNodes;
  }

  /** The points a node of weight `weight` owns on a ring of `vnodes`. */
  static pointCount(vnodes: number, weight: number): number {
    return xxhashPointCount(vnodes, weight);
  }

  /** Points `id` owns (0 when it is not placed). */
  pointsOf(id: string): number {
    const slot = this.slotById.get(id);
    return slot === undefined ? 0 : this.slotPoints[slot]!;
  }

  /** The sorted point hashes (a view: valid until the next change). */
  pointHashes(): Uint32Array {
    return this.hashes.subarray(0, this.count);
  }

  /** Places `id` with `points` points; replaces its previous points if any. */
  set(id: string, points: number): void {
    this.remove(id);
    if (points === 0) return;
    const slot = this.takeSlot(id, points);
    const added = this.scheme.nodePoints(id, points);
    this.mergeIn(added, slot, id);
    this.placedNodes += 1;
  }

  remove(id: string): void {
    const slot = this.slotById.get(id);
    if (slot === undefined) return;
    const hashes = this.hashes;
    const slots = this.slots;
    let write = 0;
    for (let read = 0; read < this.count; read++) {
      if (slots[read] === slot) continue;
      hashes[write] = hashes[read]!;
      slots[write] = slots[read]!;
      write++;
    }
    this.count = write;
    this.slotById.delete(id);
    this.slotIds[slot] = undefined;
    this.slotPoints[slot] = 0;
    this.freeSlots.push(slot);
    this.placedNodes -= 1;
  }

  /**
   * Writes up to `n` distinct node ids for `key` into `out`, owner first, and
   * returns how many were written.
   */
  lookup(key: string, n: number, out: string[]): number {
    return this.lookupHash(this.scheme.keyHash(key), n, out);
  }

  /** As `lookup`, for a position on the circle rather than a key. */
  lookupHash(hash: number, n: number, out: string[]): number {
    if (this.count === 0) return 0;
    const want = Math.min(n, this.placedNodes);
    let index = this.lowerBound(hash);
    if (index === this.count) index = 0;
    const slots = this.slots;
    const chosen: number[] = [];
    for (let walked = 0; chosen.length < want && walked < this.count; walked++) {
      const slot = slots[index]!;
      if (!chosen.includes(slot)) {
        chosen.push(slot);
        out[chosen.length - 1] = this.slotIds[slot]!;
      }
      index = index + 1 === this.count ? 0 : index + 1;
    }
    return chosen.length;
  }

  /** The owner of `key` alone: the common case, without allocation. */
  owner(key: string): string | undefined {
    if (this.count === 0) return undefined;
    let index = this.lowerBound(this.scheme.keyHash(key));
    if (index === this.count) index = 0;
    return this.slotIds[this.slots[index]!];
  }

  /**
   * How many of the 2^32 hashes each placed node owns: point i owns the hashes after
   * point i-1 up to itself (the first point also takes the wrap past the last). For
   * views (the console's ring drawing); O(points).
   */
  spans(): Map<string, number> {
    const spans = new Map<string, number>();
    for (let i = 0; i < this.count; i++) {
      const previous = i === 0 ? this.hashes[this.count - 1]! - 2 ** 32 : this.hashes[i - 1]!;
      const id = this.slotIds[this.slots[i]!]!;
      spans.set(id, (spans.get(id) ?? 0) + this.hashes[i]! - previous);
    }
    return spans;
  }

  private lowerBound(hash: number): number {
    const hashes = this.hashes;
    let low = 0;
    let high = this.count;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (hashes[mid]! < hash) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private takeSlot(id: string, points: number): number {
    const slot = this.freeSlots.pop() ?? this.slotIds.length;
    this.slotIds[slot] = id;
    this.slotPoints[slot] = points;
    this.slotById.set(id, slot);
    return slot;
  }

  /** Merges sorted `added` (all owned by `slot`) into the arrays, from the back. */
  private mergeIn(added: Uint32Array, slot: number, id: string): void {
    this.ensureCapacity(this.count + added.length);
    const hashes = this.hashes;
    const slots = this.slots;
    let read = this.count - 1;
    let take = added.length - 1;
    let write = this.count + added.length - 1;
    const idOrder = new Map<number, number>();
    while (take >= 0) {
      const existing = read >= 0 ? hashes[read]! : -1;
      const incoming = added[take]!;
      // The new point goes after an existing one when it is greater, or equal
      // with a greater id (ties are ordered by id bytes).
      if (existing > incoming || (existing === incoming && this.idAfter(slots[read]!, id, idOrder))) {
        hashes[write] = existing;
        slots[write] = slots[read]!;
        read--;
      } else {
        hashes[write] = incoming;
        slots[write] = slot;
        take--;
      }
      write--;
    }
    this.count += added.length;
    assert(write === read, 'placement merge lost points');
  }

  /** True when the node in `slot` sorts after `id` by UTF-8 bytes (memoised per merge). */
  private idAfter(slot: number, id: string, memo: Map<number, number>): boolean {
    let order = memo.get(slot);
    if (order === undefined) {
      order = compareUtf8(this.slotIds[slot]!, id);
      memo.set(slot, order);
    }
    return order > 0;
  }

  private ensureCapacity(needed: number): void {
    if (needed <= this.hashes.length) return;
    const capacity = Math.max(needed, this.hashes.length * 2, 64);
    const hashes = new Uint32Array(capacity);
    const slots = new Uint32Array(capacity);
    hashes.set(this.hashes.subarray(0, this.count));
    slots.set(this.slots.subarray(0, this.count));
    this.hashes = hashes;
    this.slots = slots;
  }
}
