const initialBits = 10;
/** 2^32 divided by the golden ratio: multiplying by it scatters consecutive integers. */
const goldenRatio32 = 0x9e3779b9;

/**
 * Fencing token -> small integer, in two typed arrays: open addressing, linear probing,
 * deletion by backward shift. It indexes the ended-holds memory, which takes a delete
 * and a set on every end of a hold. A Map of 100,000 number keys cost about 0.3 us for
 * that pair (deleted entries pile up until a rehash walks them all), the largest single
 * cost of a bare lock cycle in the state machine; here the pair touches a few adjacent
 * slots and nothing is allocated once the table has grown to its size. Tokens are
 * positive integers (0 marks an empty slot). The table doubles whenever its load would
 * pass a half.
 */
export class TokenIndex {
  private keys = new Float64Array(1 << initialBits);
  private values = new Int32Array(1 << initialBits);
  private mask = (1 << initialBits) - 1;
  /** 32 minus the table's size in bits: a hash's top bits pick the home slot. */
  private shift = 32 - initialBits;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The value of `token`; -1 when it has none. */
  get(token: number): number {
    const at = this.find(token);
    return at < 0 ? -1 : this.values[at]!;
  }

  /** Sets the value of `token` (a positive integer), replacing any it had. */
  set(token: number, value: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    let at = this.home(token);
    while (keys[at] !== 0 && keys[at] !== token) at = (at + 1) & this.mask;
    if (keys[at] === 0) this.count += 1;
    keys[at] = token;
    this.values[at] = value;
  }

  delete(token: number): boolean {
    let hole = this.find(token);
    if (hole < 0) return false;
    const { keys, values, mask } = this;
    // Backward shift: an entry after the hole moves into it unless its home lies
    // cyclically after the hole and no later than the entry itself.
    for (let at = (hole + 1) & mask; keys[at] !== 0; at = (at + 1) & mask) {
      const home = this.home(keys[at]!);
      const stays = hole <= at ? home > hole && home <= at : home > hole || home <= at;
      if (stays) continue;
      keys[hole] = keys[at]!;
      values[hole] = values[at]!;
      hole = at;
    }
    keys[hole] = 0;
    this.count -= 1;
    return true;
  }

  private find(token: number): number {
    const keys = this.keys;
    for (let at = this.home(token); keys[at] !== 0; at = (at + 1) & this.mask) {
      if (keys[at] === token) return at;
    }
    return -1;
  }

  /**
   * Where a token's probe starts: its low 32 bits mixed with the high ones, then
   * multiplied by the golden ratio and cut to the table's size (Fibonacci hashing).
   * Tokens are handed out in sequence: taken as they are, the live ones would sit in
   * one long run of slots, and every delete would walk the run to its end.
   */
  private home(token: number): number {
    const low = token % 4294967296;
    return Math.imul(low ^ ((token - low) / 4294967296), goldenRatio32) >>> this.shift;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.values = new Int32Array(keys.length * 2);
    this.mask = this.keys.length - 1;
    this.shift -= 1;
    this.count = 0;
    for (let at = 0; at < keys.length; at++) if (keys[at] !== 0) this.set(keys[at]!, values[at]!);
  }
}
