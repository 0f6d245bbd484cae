/**
 * The hash functions the domain uses, injected so the domain stays free of WASM
 * loading. `h32` must be xxHash32 (seed 0) of the UTF-8 bytes: clients reproduce
 * placement from it. `fingerprint` only has to be stable within one server build.
 */
export interface Hashing {
  h32(text: string): number;
  /** `out[i] = h32(texts[i])` for every text: one call for a batch lookup's keys. */
  h32Batch(texts: readonly string[], out: Uint32Array): void;
  /** Lowercase hex digest of `text`, 16 characters. */
  fingerprint(text: string): string;
  /** The 16-byte MD5 digest of the UTF-8 bytes of `text` (ketama rings reproduce libmemcached with it). */
  md5(text: string): Uint8Array;
}
