import { createHash } from 'node:crypto';
import xxhash from 'xxhash-wasm';
import type { Hashing } from './domain/hashing.js';
import { asciiXxh32, jsHashCharsMax } from './xxh32.js';

/**
 * xxHash32 (seed 0) for placement, xxHash64 for ring fingerprints, MD5 for ketama
 * rings. Loads WASM once. Short ASCII text is hashed in JavaScript, the rest by
 * WASM: whichever is faster at that length (src/xxh32.ts); both give the same bits.
 */
export async function loadHashing(): Promise<Hashing> {
  const { h32: wasmH32, h64 } = await xxhash();
  const h32 = (text: string): number => {
    if (text.length < jsHashCharsMax) {
      const hash = asciiXxh32(text);
      if (hash >= 0) return hash;
    }
    return wasmH32(text, 0);
  };
  return {
    h32,
    h32Batch: (texts, out) => {
      for (let i = 0; i < texts.length; i++) out[i] = h32(texts[i]!);
    },
    fingerprint: (text) => h64(text).toString(16).padStart(16, '0'),
    md5: (text) => createHash('md5').update(text, 'utf8').digest(),
  };
}
