import { createHash } from 'node:crypto';
import xxhash from 'xxhash-wasm';
import type { Hashing } from './domain/hashing.js';

/** xxHash32 (seed 0) for placement, xxHash64 for ring fingerprints, MD5 for ketama rings. Loads WASM once. */
export async function loadHashing(): Promise<Hashing> {
  const { h32, h64 } = await xxhash();
  return {
    h32: (text) => h32(text, 0),
    fingerprint: (text) => h64(text).toString(16).padStart(16, '0'),
    md5: (text) => createHash('md5').update(text, 'utf8').digest(),
  };
}
