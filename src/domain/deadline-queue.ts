/**
 * An indexed 4-ary min-heap of deadlines. Each queued entry holds a slot, so a
 * keepalive moves a lease in O(log n) and a cancelled waiter leaves in O(log n).
 * One queue holds every deadline of the server (lease expiry, waiter timeout,
 * lock-delay end): the expiry loop needs one timer, never one per lease.
 *
 * The heap itself is typed arrays, not an array of the entries: per heap position
 * a (deadline, slot) pair side by side, per slot its heap position and its
 * scheduling order. Sifting compares numbers in contiguous memory instead of
 * reading a deadline out of an object scattered among a million leases, and moves
 * no pointer the garbage collector has to track; the entries are touched only when
 * scheduled, removed or popped. Four children per node halve the depth of a binary
 * heap, and the pairs are laid out so that a node's four children are 64
 * contiguous bytes starting at a multiple of 64 from the buffer's start: one or two
 * cache lines read per level. The order (a tie-breaker) is read only when two
 * deadlines are equal.
 */
export interface DeadlineEntry {
  /**
   * The entry's slot in its queue, -1 when not queued. Its deadline lives only in the
   * queue (`deadlineOf`): a field of its own would cost a boxed double per lease.
   */
  heapIndex: number;
}

const arity = 4;
/** Doubles per heap position: the deadline, then the slot. */
const pair = 2;
/**
 * Heap position p lives at pair index p + 3: the children of p (4p+1 .. 4p+4) then
 * sit at pair indexes 4(p+1) .. 4(p+1)+3: 64 bytes at a multiple of 64.
 */
const pad = 3;
const initialCapacity = 1024;

export class DeadlineQueue<E extends DeadlineEntry> {
  /** Per heap position p, at [(p + pad) * pair]: the deadline, then the slot. */
  private heap = new Float64Array((initialCapacity + pad) * pair);
  /** Per slot: its heap position and the order it was scheduled in. */
  private positions = new Int32Array(initialCapacity);
  private orders = new Float64Array(initialCapacity);
  private readonly entries: (E | undefined)[] = [];
  /** Slots given back by removed entries, reused before new ones. */
  private freeSlots = new Int32Array(initialCapacity);
  private freeCount = 0;
  private length = 0;
  private seq = 0;
  private poppedMs = NaN;

  get size(): number {
    return this.length;
  }

  peek(): E | undefined {
    return this.length === 0 ? undefined : this.entries[this.heap[pad * pair + 1]!];
  }

  /** The earliest deadline, Infinity when empty; touches no entry. */
  peekDeadlineMs(): number {
    return this.length === 0 ? Infinity : this.heap[pad * pair]!;
  }

  /** The entry's deadline; Infinity when it is not queued. */
  deadlineOf(entry: E): number {
    const slot = entry.heapIndex;
    if (slot < 0 || this.entries[slot] !== entry) return Infinity;
    return this.heap[(this.positions[slot]! + pad) * pair]!;
  }

  /** The deadline of the entry `popDue` returned last. */
  get poppedDeadlineMs(): number {
    return this.poppedMs;
  }

  /** Queues the entry at `deadlineMs`, or moves it there if already queued. */
  schedule(entry: E, deadlineMs: number): void {
    // Tie-breaker, kept here only: equal deadlines fire in the order they were scheduled.
    const order = this.seq++;
    let slot = entry.heapIndex;
    if (slot < 0 || this.entries[slot] !== entry) {
      slot = this.takeSlot();
      this.entries[slot] = entry;
      entry.heapIndex = slot;
      if (this.length * pair + (pad + 1) * pair > this.heap.length) this.growHeap();
      this.length += 1;
      this.orders[slot] = order;
      this.siftUp(this.length - 1, deadlineMs, slot);
      return;
    }
    this.orders[slot] = order;
    const at = this.positions[slot]!;
    const was = this.heap[(at + pad) * pair]!;
    // Later than before (a keepalive, the common move): only down can be right.
    if (deadlineMs >= was) this.siftDown(at, deadlineMs, slot);
    else this.siftUp(at, deadlineMs, slot);
  }

  remove(entry: E): void {
    const slot = entry.heapIndex;
    if (slot < 0 || this.entries[slot] !== entry) return;
    this.removeAt(this.positions[slot]!);
  }

  /** Removes and returns the earliest entry due at `nowMs`, if any. */
  popDue(nowMs: number): E | undefined {
    if (this.length === 0 || this.heap[pad * pair]! > nowMs) return undefined;
    this.poppedMs = this.heap[pad * pair]!;
    const entry = this.entries[this.heap[pad * pair + 1]!]!;
    this.removeAt(0);
    return entry;
  }

  private removeAt(at: number): void {
    const heap = this.heap;
    const slot = heap[(at + pad) * pair + 1]!;
    this.entries[slot]!.heapIndex = -1;
    this.entries[slot] = undefined;
    this.freeSlots[this.freeCount++] = slot;
    const last = --this.length;
    if (at === last) return;
    const key = heap[(last + pad) * pair]!;
    const lastSlot = heap[(last + pad) * pair + 1]!;
    if (at > 0 && this.before(key, lastSlot, heap[(((at - 1) >> 2) + pad) * pair]!, heap[(((at - 1) >> 2) + pad) * pair + 1]!)) {
      this.siftUp(at, key, lastSlot);
    } else {
      this.siftDown(at, key, lastSlot);
    }
  }

  private takeSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    const slot = this.entries.length;
    if (slot === this.positions.length) this.growSlots();
    this.entries.push(undefined);
    return slot;
  }

  /** True when (keyA, slotA) sorts before (keyB, slotB): earlier deadline, else scheduled first. */
  private before(keyA: number, slotA: number, keyB: number, slotB: number): boolean {
    return keyA < keyB || (keyA === keyB && this.orders[slotA]! < this.orders[slotB]!);
  }

  /** Puts (key, slot) at heap position `start` or above it. */
  private siftUp(start: number, key: number, slot: number): void {
    const heap = this.heap;
    let at = start;
    while (at > 0) {
      const parent = (at - 1) >> 2;
      const parentIndex = (parent + pad) * pair;
      const parentKey = heap[parentIndex]!;
      const parentSlot = heap[parentIndex + 1]!;
      if (!this.before(key, slot, parentKey, parentSlot)) break;
      this.put(at, parentKey, parentSlot);
      at = parent;
    }
    this.put(at, key, slot);
  }

  /** Puts (key, slot) at heap position `start` or below it. */
  private siftDown(start: number, key: number, slot: number): void {
    const heap = this.heap;
    const length = this.length;
    let at = start;
    for (;;) {
      const first = at * arity + 1;
      if (first >= length) break;
      const end = first + arity < length ? first + arity : length;
      let least = first;
      let leastKey = heap[(first + pad) * pair]!;
      let leastSlot = heap[(first + pad) * pair + 1]!;
      for (let child = first + 1; child < end; child++) {
        const childKey = heap[(child + pad) * pair]!;
        if (childKey > leastKey) continue;
        const childSlot = heap[(child + pad) * pair + 1]!;
        if (this.before(childKey, childSlot, leastKey, leastSlot)) {
          least = child;
          leastKey = childKey;
          leastSlot = childSlot;
        }
      }
      if (!this.before(leastKey, leastSlot, key, slot)) break;
      this.put(at, leastKey, leastSlot);
      at = least;
    }
    this.put(at, key, slot);
  }

  private put(at: number, key: number, slot: number): void {
    const index = (at + pad) * pair;
    this.heap[index] = key;
    this.heap[index + 1] = slot;
    this.positions[slot] = at;
  }

  private growHeap(): void {
    const heap = new Float64Array(this.heap.length * 2);
    heap.set(this.heap);
    this.heap = heap;
  }

  private growSlots(): void {
    const capacity = this.positions.length * 2;
    this.positions = grown(this.positions, new Int32Array(capacity));
    this.orders = grown(this.orders, new Float64Array(capacity));
    this.freeSlots = grown(this.freeSlots, new Int32Array(capacity));
  }
}

function grown<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
