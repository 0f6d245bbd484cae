import { assert } from '../domain/errors.js';
import type { OwnerTable } from '../domain/owner-table.js';
import type { OwnerLookup } from '../domain/rings.js';

/**
 * The batch lookup's reply, `{"ring":…,"version":…,"nodes":[[…],…]}` (with
 * `previous`: `,"previous":{"version":…,"nodes":[…]}`), written byte by byte from
 * the owner tables into one buffer sized up front. For 10,000 keys the generic
 * serializer walks 10,000 arrays of ids and escapes each id again; here each owner
 * is a copy of its id's JSON bytes, escaped once per member. The bytes are the
 * serializer's: JSON.stringify of the same object (test/http/lookup-json.test.ts).
 */
export function lookupManyJson(lookup: OwnerLookup): Buffer {
  const head = `{"ring":${JSON.stringify(lookup.ring)},"version":${lookup.version},"nodes":`;
  const nodes = new NodesWriter(lookup.owners);
  const previous = lookup.previous === undefined ? null : new NodesWriter(lookup.previous.owners);
  const middle = lookup.previous === undefined ? '' : `,"previous":{"version":${lookup.previous.version},"nodes":`;
  const tail = previous === null ? '}' : '}}';
  const size = Buffer.byteLength(head) + nodes.bytes + Buffer.byteLength(middle) + (previous?.bytes ?? 0) + tail.length;
  const out = Buffer.allocUnsafe(size);
  let at = out.write(head, 0, 'utf8');
  at = nodes.write(out, at);
  if (previous !== null) {
    at += out.write(middle, at, 'utf8');
    at = previous.write(out, at);
  }
  at += out.write(tail, at, 'latin1');
  assert(at === size, `lookup reply sized ${size} bytes, wrote ${at}`);
  return out;
}

const openBracket = 0x5b;
const closeBracket = 0x5d;
const comma = 0x2c;

/** `[[…],…]` of one owner table: the JSON of each member id used, then the arrays. */
class NodesWriter {
  /** The JSON strings of the ids the table uses, back to back; slot s's is [start[s], end[s]). */
  private readonly idBytes: Uint8Array;
  private readonly start: Uint32Array;
  private readonly end: Uint32Array;
  /** Bytes `write` writes. */
  readonly bytes: number;

  constructor(private readonly table: OwnerTable) {
    const { slots, ids, keys, perKey } = table;
    this.start = new Uint32Array(ids.length);
    this.end = new Uint32Array(ids.length);
    const used: string[] = [];
    let length = 0;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (this.end[slot] !== 0) continue;
      const json = JSON.stringify(ids[slot]!);
      used.push(json);
      this.start[slot] = length;
      length += Buffer.byteLength(json);
      this.end[slot] = length;
    }
    this.idBytes = Buffer.from(used.join(''), 'utf8');
    let ownerBytes = 0;
    for (let i = 0; i < slots.length; i++) ownerBytes += this.end[slots[i]!]! - this.start[slots[i]!]!;
    // Outer brackets, a comma between keys, brackets per key, a comma between owners.
    this.bytes = 2 + Math.max(0, keys - 1) + 2 * keys + ownerBytes + keys * Math.max(0, perKey - 1);
  }

  write(out: Buffer, from: number): number {
    const { slots, keys, perKey } = this.table;
    const { idBytes, start, end } = this;
    let at = from;
    out[at++] = openBracket;
    for (let i = 0; i < keys; i++) {
      if (i > 0) out[at++] = comma;
      out[at++] = openBracket;
      for (let k = 0; k < perKey; k++) {
        if (k > 0) out[at++] = comma;
        const slot = slots[i * perKey + k]!;
        // Ids are short: a byte loop beats the fixed cost of a native copy.
        for (let b = start[slot]!; b < end[slot]!; b++) out[at++] = idBytes[b]!;
      }
      out[at++] = closeBracket;
    }
    out[at++] = closeBracket;
    return at;
  }
}
