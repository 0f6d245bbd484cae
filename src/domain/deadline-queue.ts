/**
 * An indexed binary min-heap of deadlines. Each entry knows its own slot, so a
 * keepalive moves a lease in O(log n) and a cancelled waiter leaves in O(log n).
 * One queue holds every deadline of the server (lease expiry, waiter timeout,
 * lock-delay end): the expiry loop needs one timer, never one per lease.
 */
export interface DeadlineEntry {
  deadlineMs: number;
  /** Tie-breaker: equal deadlines fire in the order they were scheduled. */
  seq: number;
  /** Slot in the heap, -1 when not queued. */
  heapIndex: number;
}

export class DeadlineQueue<E extends DeadlineEntry> {
  private readonly heap: E[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  /** Queues the entry at `deadlineMs`, or moves it there if already queued. */
  schedule(entry: E, deadlineMs: number): void {
    entry.deadlineMs = deadlineMs;
    entry.seq = this.seq++;
    if (entry.heapIndex < 0) {
      entry.heapIndex = this.heap.length;
      this.heap.push(entry);
      this.up(entry.heapIndex);
      return;
    }
    if (!this.up(entry.heapIndex)) this.down(entry.heapIndex);
  }

  remove(entry: E): void {
    const index = entry.heapIndex;
    if (index < 0) return;
    const last = this.heap.pop()!;
    entry.heapIndex = -1;
    if (last === entry) return;
    this.heap[index] = last;
    last.heapIndex = index;
    if (!this.up(index)) this.down(index);
  }

  /** Removes and returns the earliest entry due at `nowMs`, if any. */
  popDue(nowMs: number): E | undefined {
    const top = this.heap[0];
    if (top === undefined || top.deadlineMs > nowMs) return undefined;
    this.remove(top);
    return top;
  }

  private less(a: E, b: E): boolean {
    return a.deadlineMs < b.deadlineMs || (a.deadlineMs === b.deadlineMs && a.seq < b.seq);
  }

  private up(start: number): boolean {
    const heap = this.heap;
    const entry = heap[start]!;
    let index = start;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!this.less(entry, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
    return index !== start;
  }

  private down(start: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[start]!;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.less(heap[right]!, heap[left]!) ? right : left;
      const childEntry = heap[child]!;
      if (!this.less(childEntry, entry)) break;
      heap[index] = childEntry;
      childEntry.heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}
