import type { Hashing } from './hashing.js';
import { assert } from './errors.js';
import { compareUtf8 } from './names.js';
import { OwnerTable } from './owner-table.js';
import { type PointScheme, xxhashScheme, xxhashPointCount } from './ring-algorithm.js';

/**
 * The consistent-hash point set of one ring: two parallel sorted arrays, point
 * hashes and the slot of the node owning each point. A membership change merges or
 * filters that node's points in place (O(points), no rehash of other nodes); a
 * lookup is one hash, one read of the bucket index and a search of one bucket.
 *
 * Order: by hash, then by node id in UTF-8 byte order (the contract's tie rule).
 *
 * The bucket index: entry b is the first point whose top `indexBits` bits are >= b,
 * so the points of bucket b lie in [index[b], index[b + 1]). A binary search over
 * 160,000 points misses the cache at most of its 17 steps; the index takes one miss
 * to reach a bucket of one or two points. It has at most one entry per point (and
 * at most 2^16 + 1), so it never outgrows the hashes array, and is rebuilt on the
 * first lookup after a membership change, in O(points).
 */
/** A hash times this plus a slot stays an exact double (2^32 * 2^21 = 2^53). */
const slotPackFactor = 2 ** 21;
/** 2^16 buckets of 4 bytes (256 KiB) at most: about one per point at 1,000 nodes x 160 vnodes down to ~2.4. */
const indexBitsMax = 16;

export class Placement {
  private hashes = new Uint32Array(0);
  private slots = new Uint32Array(0);
  private count = 0;
  /**
   * Slot -> member id. Replaced, never changed in place, on a membership change: a
   * batch lookup's answer holds the array it was made with while it waits to be
   * durable, and the next change must not rename its slots.
   */
  private slotIds: readonly (string | undefined)[] = [];
  private index = new Uint32Array(0);
  /** 32 - index bits: `hash >>> indexShift` is a hash's bucket. */
  private indexShift = 32;
  private indexStale = true;
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
    placement.slotIds = ids;
    for (const [slot, id] of ids.entries()) {
      const points = counts.get(id)!;
      placement.slotPoints[slot] = points;
      placement.slotById.set(id, slot);
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
    this.indexStale = true;
    this.slotById.delete(id);
    this.slotIds = this.slotIds.map((held, at) => (at === slot ? undefined : held));
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
    const slots = new Uint32Array(Math.min(n, this.placedNodes));
    const found = this.ownerSlots(hash, slots, 0, slots.length);
    for (let i = 0; i < found; i++) out[i] = this.slotIds[slots[i]!]!;
    return found;
  }

  /**
   * The owners of every key, `min(n, nodesPlaced)` per key (every placed node owns
   * a point, so the walk always finds that many): the keys hashed in one call, the
   * owners written as slot numbers into one array, no array per key.
   */
  lookupBatch(keys: readonly string[], n: number): OwnerTable {
    const perKey = Math.min(n, this.placedNodes);
    const hashes = new Uint32Array(keys.length);
    this.scheme.keyHashes(keys, hashes);
    const slots = new Uint32Array(keys.length * perKey);
    if (perKey === 1) {
      for (let i = 0; i < keys.length; i++) slots[i] = this.slots[this.ownerIndex(hashes[i]!)]!;
    } else {
      for (let i = 0; i < keys.length; i++) this.ownerSlots(hashes[i]!, slots, i * perKey, perKey);
    }
    return new OwnerTable(keys.length, perKey, slots, this.slotIds);
  }

  /** The owner of `key` alone: the common case, without allocation. */
  owner(key: string): string | undefined {
    if (this.count === 0) return undefined;
    return this.slotIds[this.slots[this.ownerIndex(this.scheme.keyHash(key))]!];
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

  /**
   * Writes up to `want` distinct slots clockwise from `hash` into `out` from `at`;
   * returns how many. `want` is at most 16 (replicasMax), so the duplicate check
   * is a scan of what was written.
   */
  private ownerSlots(hash: number, out: Uint32Array, at: number, want: number): number {
    if (this.count === 0) return 0;
    const slots = this.slots;
    let index = this.ownerIndex(hash);
    let found = 0;
    for (let walked = 0; found < want && walked < this.count; walked++) {
      const slot = slots[index]!;
      let seen = false;
      for (let k = at; k < at + found; k++) if (out[k] === slot) seen = true;
      if (!seen) out[at + found++] = slot;
      index = index + 1 === this.count ? 0 : index + 1;
    }
    return found;
  }

  /** The first point at or after `hash`, wrapping to point 0; the ring must not be empty. */
  private ownerIndex(hash: number): number {
    if (this.indexStale) this.rebuildIndex();
    const bucket = hash >>> this.indexShift;
    const hashes = this.hashes;
    let low = this.index[bucket]!;
    let high = this.index[bucket + 1]!;
    // A bucket holds one or two points on average; a binary search keeps the worst
    // case (hashes clustered under a few top bits) at O(log points).
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (hashes[mid]! < hash) low = mid + 1;
      else high = mid;
    }
    return low === this.count ? 0 : low;
  }

  /** One bucket per point rounded down to a power of two, at least 2, at most 2^indexBitsMax. */
  private rebuildIndex(): void {
    const bits = Math.max(1, Math.min(indexBitsMax, Math.floor(Math.log2(Math.max(this.count, 2)))));
    const buckets = 2 ** bits;
    const shift = 32 - bits;
    if (this.index.length !== buckets + 1) this.index = new Uint32Array(buckets + 1);
    const index = this.index;
    const hashes = this.hashes;
    let point = 0;
    for (let bucket = 0; bucket < buckets; bucket++) {
      while (point < this.count && hashes[point]! >>> shift < bucket) point++;
      index[bucket] = point;
    }
    index[buckets] = this.count;
    this.indexShift = shift;
    this.indexStale = false;
  }

  private takeSlot(id: string, points: number): number {
    const slot = this.freeSlots.pop() ?? this.slotIds.length;
    const ids = [...this.slotIds];
    ids[slot] = id;
    this.slotIds = ids;
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
    this.indexStale = true;
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
