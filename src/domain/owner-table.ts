/**
 * The owners of a batch of keys: `perKey` slot numbers per key, owner first, in one
 * array, and the slot -> member id array of the placement that answered (which that
 * placement never changes in place). Transports write their reply straight from it
 * instead of building an array of ids per key.
 */
export class OwnerTable {
  constructor(
    /** Keys looked up. */
    readonly keys: number,
    /** Owners of every key: min(n, nodes placed). */
    readonly perKey: number,
    /** keys * perKey slot numbers; key i's are [i * perKey, (i + 1) * perKey). */
    readonly slots: Uint32Array,
    /** Slot -> member id; every slot in `slots` names a member. */
    readonly ids: readonly (string | undefined)[],
  ) {}

  /** The owners of key `i`, owner first. */
  ownersOf(i: number): string[] {
    const owners = new Array<string>(this.perKey);
    for (let k = 0; k < this.perKey; k++) owners[k] = this.ids[this.slots[i * this.perKey + k]!]!;
    return owners;
  }

  /** One array of owners per key (the shape WebSocket answers and tests compare). */
  toArrays(): string[][] {
    const nodes = new Array<string[]>(this.keys);
    for (let i = 0; i < this.keys; i++) nodes[i] = this.ownersOf(i);
    return nodes;
  }
}
