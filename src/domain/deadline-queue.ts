import { grown } from './typed-columns.js';

/**
 * Every deadline of the server (lease expiry, waiter timeout, lock-delay end, a bounded
 * hold's end, a yield request's grace) in one queue: the expiry loop needs one timer,
 * never one per lease.
 *
 * Deadlines are kept in buckets of one millisecond, and only the buckets are ordered.
 * An entry with deadline d sits in the bucket of ceil(d), a list in the order entries
 * were scheduled; a min-heap orders the buckets that have entries. A bucket falls due
 * as a whole when the clock reaches its millisecond, so an entry fires at its deadline
 * when the deadline is a whole millisecond and less than 1 ms after it otherwise (never
 * before). Within a bucket entries fire in the order they were scheduled; equal
 * deadlines therefore always do.
 *
 * Why not one heap of entries: with a million leases a pop sifts through about ten
 * levels of a 16 MB heap and updates a position per level, a cache miss each; that
 * was more than half of what an expiry cost in the server. Here a pop or a removal
 * touches the entry and its two neighbours in the list, scheduling touches the
 * bucket's last entry, and the heap holds one position per non-empty millisecond (ten
 * thousand for a million leases spread over 10 s: it stays in cache). A keepalive that
 * moves a lease later is a removal and an append, whatever the queue's size.
 *
 * All of it is typed arrays indexed by small integers: per entry slot its deadline, its
 * neighbours and its bucket (28 bytes with the reference to the entry), per bucket its
 * millisecond, ends and heap place, and a fixed 256 KB index from a millisecond to its
 * bucket; nothing in it for the garbage collector to trace but the entries themselves.
 */
export interface DeadlineEntry {
  /**
   * The entry's slot in its queue, -1 when not queued. Its deadline lives only in the
   * queue (`deadlineOf`): a field of its own would cost a boxed double per lease.
   */
  heapIndex: number;
}

const none = -1;
const arity = 4;
const initialCapacity = 1024;
/** Growth of the per-slot columns: by half again, so a large table carries less slack. */
const growth = 1.5;
/** Places in the direct-mapped index of buckets (one per millisecond of 65.5 s). */
const directBuckets = 1 << 16;
const directMask = directBuckets - 1;

export class DeadlineQueue<E extends DeadlineEntry> {
  // Per entry slot. `next` also links the free slots.
  private deadlines = new Float64Array(initialCapacity);
  private next = new Int32Array(initialCapacity);
  private prev = new Int32Array(initialCapacity);
  private bucketOf = new Int32Array(initialCapacity);
  private readonly entries: (E | undefined)[] = [];
  private freeSlot = none;
  private length = 0;

  // Per bucket: its millisecond, first and last entry, and place in the heap. `head`
  // also links the free buckets.
  private bucketMs = new Float64Array(initialCapacity);
  private head = new Int32Array(initialCapacity);
  private tail = new Int32Array(initialCapacity);
  private position = new Int32Array(initialCapacity);
  private bucketsMade = 0;
  private freeBucket = none;
  /**
   * Finding a millisecond's bucket: by its millisecond modulo 2^16 in a direct-mapped
   * table, and in a Map only when that place is taken by another millisecond (one 65.5 s
   * away or more, so rare). Most leases make a bucket of their own and end it, and a
   * Map's set and delete for each were a sixth of a bare lock cycle.
   */
  private readonly bucketAt = new Int32Array(directBuckets).fill(none);
  private readonly bucketByMs = new Map<number, number>();

  /** The non-empty buckets, a 4-ary min-heap on their millisecond (no two are equal). */
  private heap = new Int32Array(initialCapacity);
  private heapLength = 0;

  private poppedMs = NaN;

  get size(): number {
    return this.length;
  }

  peek(): E | undefined {
    return this.heapLength === 0 ? undefined : this.entries[this.head[this.heap[0]!]!];
  }

  /** When the earliest entry falls due (its deadline rounded up to the millisecond); Infinity when empty. */
  peekDeadlineMs(): number {
    return this.heapLength === 0 ? Infinity : this.bucketMs[this.heap[0]!]!;
  }

  /** The entry's deadline as scheduled; Infinity when it is not queued. */
  deadlineOf(entry: E): number {
    const slot = entry.heapIndex;
    if (slot < 0 || this.entries[slot] !== entry) return Infinity;
    return this.deadlines[slot]!;
  }

  /** The deadline of the entry `popDue` returned last. */
  get poppedDeadlineMs(): number {
    return this.poppedMs;
  }

  /** Queues the entry at `deadlineMs`, or moves it there (to the back of its bucket) if already queued. */
  schedule(entry: E, deadlineMs: number): void {
    const dueMs = Math.ceil(deadlineMs);
    let slot = entry.heapIndex;
    if (slot >= 0 && this.entries[slot] === entry) {
      const bucket = this.bucketOf[slot]!;
      if (this.bucketMs[bucket] === dueMs) {
        // Same millisecond (a keepalive within it, or a deadline moved earlier inside it).
        this.deadlines[slot] = deadlineMs;
        if (this.tail[bucket] !== slot) {
          this.unlink(slot, bucket);
          this.append(slot, bucket);
        }
        return;
      }
      this.unlink(slot, bucket);
      if (this.head[bucket] === none) this.dropBucket(bucket);
    } else {
      slot = this.takeSlot();
      this.entries[slot] = entry;
      entry.heapIndex = slot;
      this.length += 1;
    }
    this.deadlines[slot] = deadlineMs;
    this.append(slot, this.bucketFor(dueMs));
  }

  remove(entry: E): void {
    const slot = entry.heapIndex;
    if (slot < 0 || this.entries[slot] !== entry) return;
    this.release(slot);
  }

  /** Removes and returns the earliest entry due at `nowMs`, if any. */
  popDue(nowMs: number): E | undefined {
    if (this.heapLength === 0) return undefined;
    const bucket = this.heap[0]!;
    if (this.bucketMs[bucket]! > nowMs) return undefined;
    const slot = this.head[bucket]!;
    const entry = this.entries[slot]!;
    this.poppedMs = this.deadlines[slot]!;
    this.release(slot);
    return entry;
  }

  /** Takes a queued slot out of its bucket and frees it. */
  private release(slot: number): void {
    const bucket = this.bucketOf[slot]!;
    this.unlink(slot, bucket);
    if (this.head[bucket] === none) this.dropBucket(bucket);
    this.entries[slot]!.heapIndex = none;
    this.entries[slot] = undefined;
    this.next[slot] = this.freeSlot;
    this.freeSlot = slot;
    this.length -= 1;
  }

  private unlink(slot: number, bucket: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    if (before === none) this.head[bucket] = after;
    else this.next[before] = after;
    if (after === none) this.tail[bucket] = before;
    else this.prev[after] = before;
  }

  private append(slot: number, bucket: number): void {
    const last = this.tail[bucket]!;
    this.bucketOf[slot] = bucket;
    this.prev[slot] = last;
    this.next[slot] = none;
    if (last === none) this.head[bucket] = slot;
    else this.next[last] = slot;
    this.tail[bucket] = slot;
  }

  private takeSlot(): number {
    if (this.freeSlot !== none) {
      const slot = this.freeSlot;
      this.freeSlot = this.next[slot]!;
      return slot;
    }
    const slot = this.entries.length;
    if (slot === this.deadlines.length) this.growSlots();
    this.entries.push(undefined);
    return slot;
  }

  /** The bucket of millisecond `dueMs`, made (and put in the heap) if it has no entries yet. */
  private bucketFor(dueMs: number): number {
    const place = dueMs & directMask;
    const direct = this.bucketAt[place]!;
    if (direct !== none && this.bucketMs[direct] === dueMs) return direct;
    if (this.bucketByMs.size > 0) {
      const found = this.bucketByMs.get(dueMs);
      if (found !== undefined) return found;
    }
    let bucket = this.freeBucket;
    if (bucket !== none) this.freeBucket = this.head[bucket]!;
    else {
      bucket = this.bucketsMade++;
      if (bucket === this.bucketMs.length) this.growBuckets();
    }
    this.bucketMs[bucket] = dueMs;
    this.head[bucket] = none;
    this.tail[bucket] = none;
    if (direct === none) this.bucketAt[place] = bucket;
    else this.bucketByMs.set(dueMs, bucket);
    if (this.heapLength === this.heap.length) this.heap = grown(this.heap, new Int32Array(this.heap.length * 2));
    this.siftUp(this.heapLength++, bucket);
    return bucket;
  }

  /** Takes an empty bucket out of the heap and the index, and frees it. */
  private dropBucket(bucket: number): void {
    const dueMs = this.bucketMs[bucket]!;
    const place = dueMs & directMask;
    if (this.bucketAt[place] === bucket) this.bucketAt[place] = none;
    else this.bucketByMs.delete(dueMs);
    const at = this.position[bucket]!;
    const last = this.heap[--this.heapLength]!;
    if (last !== bucket) {
      if (at > 0 && this.bucketMs[last]! < this.bucketMs[this.heap[(at - 1) >> 2]!]!) this.siftUp(at, last);
      else this.siftDown(at, last);
    }
    this.head[bucket] = this.freeBucket;
    this.freeBucket = bucket;
  }

  /** Puts `bucket` at heap position `start` or above it. */
  private siftUp(start: number, bucket: number): void {
    const heap = this.heap;
    const ms = this.bucketMs[bucket]!;
    let at = start;
    while (at > 0) {
      const parent = (at - 1) >> 2;
      const above = heap[parent]!;
      if (this.bucketMs[above]! <= ms) break;
      heap[at] = above;
      this.position[above] = at;
      at = parent;
    }
    heap[at] = bucket;
    this.position[bucket] = at;
  }

  /** Puts `bucket` at heap position `start` or below it. */
  private siftDown(start: number, bucket: number): void {
    const heap = this.heap;
    const bucketMs = this.bucketMs;
    const length = this.heapLength;
    const ms = bucketMs[bucket]!;
    let at = start;
    for (;;) {
      const first = at * arity + 1;
      if (first >= length) break;
      const end = first + arity < length ? first + arity : length;
      let least = first;
      let leastMs = bucketMs[heap[first]!]!;
      for (let child = first + 1; child < end; child++) {
        const childMs = bucketMs[heap[child]!]!;
        if (childMs < leastMs) {
          least = child;
          leastMs = childMs;
        }
      }
      if (leastMs >= ms) break;
      const below = heap[least]!;
      heap[at] = below;
      this.position[below] = at;
      at = least;
    }
    heap[at] = bucket;
    this.position[bucket] = at;
  }

  private growSlots(): void {
    const capacity = Math.ceil(this.deadlines.length * growth);
    this.deadlines = grown(this.deadlines, new Float64Array(capacity));
    this.next = grown(this.next, new Int32Array(capacity));
    this.prev = grown(this.prev, new Int32Array(capacity));
    this.bucketOf = grown(this.bucketOf, new Int32Array(capacity));
  }

  private growBuckets(): void {
    const capacity = this.bucketMs.length * 2;
    this.bucketMs = grown(this.bucketMs, new Float64Array(capacity));
    this.head = grown(this.head, new Int32Array(capacity));
    this.tail = grown(this.tail, new Int32Array(capacity));
    this.position = grown(this.position, new Int32Array(capacity));
  }
}
