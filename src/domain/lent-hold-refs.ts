import type { HoldRef } from './events.js';

interface HoldRefSlot {
  name: string;
  token: number;
}

/** Leases with up to this many holds end without allocating a list of them. */
const keptSizeMax = 8;

/**
 * The lists of holds released by a lease's end, lent out with its `lease_ended`
 * event. One list per size up to `keptSizeMax` is kept and refilled, so a hold's
 * own lease (one hold) or a small shared one ends without an allocation; a lease
 * with more holds gets a fresh list, whose cost is small beside ending them all.
 */
export class LentHoldRefs {
  private readonly bySize: HoldRefSlot[][] = [];

  /** A list of `size` refs to fill with `set`; valid until the next `take`. */
  take(size: number): readonly HoldRef[] {
    if (size > keptSizeMax) return Array.from({ length: size }, () => ({ name: '', token: 0 }));
    let list = this.bySize[size];
    if (list === undefined) {
      list = Array.from({ length: size }, () => ({ name: '', token: 0 }));
      this.bySize[size] = list;
    }
    return list;
  }

  /** Fills entry `index` of a list from `take`. */
  set(list: readonly HoldRef[], index: number, name: string, token: number): void {
    const slot = list[index] as HoldRefSlot;
    slot.name = name;
    slot.token = token;
  }
}
