/**
 * xxHash32 (seed 0) of short ASCII strings, in JavaScript, straight from their char
 * codes. For the keys rings route (a few dozen bytes) this beats xxhash-wasm, which
 * pays for encoding the string into WASM memory and for the call on every key: more
 * than hashing 20 bytes costs. Past `jsHashCharsMax` chars, or for text that is not
 * ASCII (its UTF-8 bytes are not its char codes), WASM is faster and the caller uses
 * it. bench/hash-variants.ts measures both by key length.
 *
 * Bit-identical to xxHash32 of the UTF-8 bytes (test/domain/xxh32.test.ts).
 */

/** Where WASM catches up (measured: equal at ~48-64 chars, ahead past that). */
export const jsHashCharsMax = 48;

// As int32s (`| 0`): Math.imul and the additions then stay small integers.
const prime1 = 0x9e3779b1 | 0;
const prime2 = 0x85ebca77 | 0;
const prime3 = 0xc2b2ae3d | 0;
const prime4 = 0x27d4eb2f | 0;
const prime5 = 0x165667b1 | 0;

/**
 * xxHash32 (seed 0) of `text` when it is ASCII, else -1. One pass: the words are
 * hashed as they are read and every char code is OR-ed into `seen`, so non-ASCII
 * text is only found at the end (it is rare; the caller then hashes it again).
 */
export function asciiXxh32(text: string): number {
  const length = text.length;
  let at = 0;
  let seen = 0;
  let h: number;
  if (length >= 16) {
    let v1 = (prime1 + prime2) | 0;
    let v2 = prime2;
    let v3 = 0;
    let v4 = -prime1 | 0;
    const limit = length - 16;
    do {
      let a = text.charCodeAt(at);
      let b = text.charCodeAt(at + 1);
      let c = text.charCodeAt(at + 2);
      let d = text.charCodeAt(at + 3);
      seen |= a | b | c | d;
      v1 = (v1 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), prime2)) | 0;
      v1 = Math.imul((v1 << 13) | (v1 >>> 19), prime1);
      a = text.charCodeAt(at + 4);
      b = text.charCodeAt(at + 5);
      c = text.charCodeAt(at + 6);
      d = text.charCodeAt(at + 7);
      seen |= a | b | c | d;
      v2 = (v2 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), prime2)) | 0;
      v2 = Math.imul((v2 << 13) | (v2 >>> 19), prime1);
      a = text.charCodeAt(at + 8);
      b = text.charCodeAt(at + 9);
      c = text.charCodeAt(at + 10);
      d = text.charCodeAt(at + 11);
      seen |= a | b | c | d;
      v3 = (v3 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), prime2)) | 0;
      v3 = Math.imul((v3 << 13) | (v3 >>> 19), prime1);
      a = text.charCodeAt(at + 12);
      b = text.charCodeAt(at + 13);
      c = text.charCodeAt(at + 14);
      d = text.charCodeAt(at + 15);
      seen |= a | b | c | d;
      v4 = (v4 + Math.imul(a | (b << 8) | (c << 16) | (d << 24), prime2)) | 0;
      v4 = Math.imul((v4 << 13) | (v4 >>> 19), prime1);
      at += 16;
    } while (at <= limit);
    h = (((v1 << 1) | (v1 >>> 31)) + ((v2 << 7) | (v2 >>> 25)) + ((v3 << 12) | (v3 >>> 20)) + ((v4 << 18) | (v4 >>> 14))) | 0;
  } else h = prime5;
  h = (h + length) | 0;
  for (; at + 4 <= length; at += 4) {
    const a = text.charCodeAt(at);
    const b = text.charCodeAt(at + 1);
    const c = text.charCodeAt(at + 2);
    const d = text.charCodeAt(at + 3);
    seen |= a | b | c | d;
    h = (h + Math.imul(a | (b << 8) | (c << 16) | (d << 24), prime3)) | 0;
    h = Math.imul((h << 17) | (h >>> 15), prime4);
  }
  for (; at < length; at++) {
    const a = text.charCodeAt(at);
    seen |= a;
    h = (h + Math.imul(a, prime5)) | 0;
    h = Math.imul((h << 11) | (h >>> 21), prime1);
  }
  if (seen > 0x7f) return -1;
  h = Math.imul(h ^ (h >>> 15), prime2);
  h = Math.imul(h ^ (h >>> 13), prime3);
  return (h ^ (h >>> 16)) >>> 0;
}
