import type { Lease } from './model.js';

/** Hex characters of a lease id that name its slot (32 bits); the rest is random. */
export const leaseSlotHexChars = 8;

/**
 * The leases by id. A lease id made by the server names the lease's slot in this table
 * in its first 8 hex characters (then 96 random bits, so it stays unguessable): finding
 * a lease by id is an array read and a string compare, with no hash table entry per
 * lease (about 40 B and a cold bucket to touch on every end). Slots are reused through
 * a free list.
 *
 * Ids that name no free slot of this table (made by a test's id source, written by an
 * older version into the log, or, in a damaged log only, naming a slot another lease
 * took) are kept in a Map beside it, so every id the domain is handed works.
 */
export class LeaseTable {
  private readonly slots: (Lease | undefined)[] = [];
  /** Slots given back; one may have been taken since by a restored lease (skipped then). */
  private readonly free: number[] = [];
  /** The lowest slot never handed out by `nextSlot`. */
  private highWater = 0;
  private readonly others = new Map<string, Lease>();
  private count = 0;

  /** @param slotsMax the largest slot an id may name (the leases limit): bounds the array. */
  constructor(private readonly slotsMax: number) {}

  get size(): number {
    return this.count;
  }

  /** The slot the next lease should name in its id; taken by `add` of an id naming it. */
  nextSlot(): number {
    const free = this.free;
    while (free.length > 0 && this.slots[free[free.length - 1]!] !== undefined) free.pop();
    if (free.length > 0) return free[free.length - 1]!;
    while (this.slots[this.highWater] !== undefined) this.highWater += 1;
    return this.highWater;
  }

  get(id: string): Lease | undefined {
    const slot = this.slotOf(id);
    if (slot >= 0) {
      const lease = this.slots[slot];
      if (lease !== undefined && lease.id === id) return lease;
    }
    return this.others.size === 0 ? undefined : this.others.get(id);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds a lease whose id is in no lease of the table; sets its `slot`. */
  add(lease: Lease): void {
    const slot = this.slotOf(lease.id);
    this.count += 1;
    if (slot < 0 || this.slots[slot] !== undefined) {
      lease.slot = -1;
      this.others.set(lease.id, lease);
      return;
    }
    lease.slot = slot;
    // Filled up to the slot, never left with a gap: a sparse array would turn into a
    // hash table. Once, at most up to slotsMax, when a recovery restores a high slot first.
    while (this.slots.length < slot) this.slots.push(undefined);
    this.slots[slot] = lease;
    const free = this.free;
    if (free.length > 0 && free[free.length - 1] === slot) free.pop();
    else if (slot === this.highWater) this.highWater += 1;
  }

  /**
   * Takes a lease of the table out. Its slot is kept on the lease (8 bytes) rather than
   * read from its id again: an expiry touches the id string nowhere else, and reading it
   * (a cold cache line among a million leases) cost each expiry about 0.5 us.
   */
  remove(lease: Lease): void {
    this.count -= 1;
    if (lease.slot < 0) {
      this.others.delete(lease.id);
      return;
    }
    this.slots[lease.slot] = undefined;
    this.free.push(lease.slot);
  }

  *values(): IterableIterator<Lease> {
    for (const lease of this.slots) if (lease !== undefined) yield lease;
    yield* this.others.values();
  }

  *keys(): IterableIterator<string> {
    for (const lease of this.values()) yield lease.id;
  }

  [Symbol.iterator](): IterableIterator<Lease> {
    return this.values();
  }

  /** The slot an id names, or -1: 32 characters, the first 8 lowercase hex, within bounds. */
  private slotOf(id: string): number {
    if (id.length !== 32) return -1;
    let slot = 0;
    for (let i = 0; i < leaseSlotHexChars; i++) {
      const code = id.charCodeAt(i);
      const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
      if (digit < 0) return -1;
      slot = slot * 16 + digit;
    }
    return slot < this.slotsMax ? slot : -1;
  }
}
