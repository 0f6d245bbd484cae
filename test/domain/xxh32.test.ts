import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import xxhash from 'xxhash-wasm';
import { loadHashing } from '../../src/xxhash.js';
import { asciiXxh32, jsHashCharsMax } from '../../src/xxh32.js';

const hashing = await loadHashing();
// The oracle: xxhash-wasm over the UTF-8 bytes, as placement hashed before the JavaScript path.
const { h32Raw } = await xxhash();
const oracle = (text: string): number => h32Raw(Buffer.from(text, 'utf8'), 0);

/** Strings of every length around the 16-byte stripes and the JavaScript/WASM boundary. */
const lengthsArb = fc.integer({ min: 0, max: jsHashCharsMax + 40 });
const asciiArb = lengthsArb.chain((length) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: length, maxLength: length }));
const anyTextArb = fc.oneof(
  asciiArb,
  fc.string({ unit: 'binary', maxLength: 70 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  // Lone surrogates: UTF-8 encoding makes them U+FFFD, on every path.
  fc.string({ unit: fc.constantFrom('a', '\uD800', '\uDFFF', 'é', '\u{1F600}'), maxLength: 40 }),
);

describe('xxHash32 of keys', () => {
  test('published vectors', () => {
    assert.equal(hashing.h32(''), 0x02cc5d05);
    assert.equal(hashing.h32('a'), 0x550d7456);
    assert.equal(hashing.h32('abc'), 0x32d153ff);
    assert.equal(hashing.h32('Nobody inspects the spammish repetition'), 0xe2293b2f);
    assert.equal(hashing.h32('user:42'), 4132429719);
  });

  test('the JavaScript path hashes ASCII as xxHash32 of the bytes, and declines anything else', () => {
    for (const text of ['', 'abcd', 'user:1234567:89', '0123456789abcdef', 'x'.repeat(33), '\u007f'.repeat(17)]) assert.equal(asciiXxh32(text), oracle(text));
    for (const text of ['é', 'abc\u0080', 'x'.repeat(20) + '\u{1F600}', '\uD800', 'ü'.repeat(16)]) assert.equal(asciiXxh32(text), -1);
  });

  test('property: h32 is xxHash32 of the UTF-8 bytes for any text, on either side of the JavaScript/WASM boundary', () => {
    fc.assert(fc.property(anyTextArb, (text) => assert.equal(hashing.h32(text), oracle(text))), { numRuns: 3_000 });
  });

  test('batch vectors: h32Batch hashes each text as h32 does, in order', () => {
    const texts = ['', 'a', 'abc', 'user:42', 'Nobody inspects the spammish repetition', 'é', '日本語のキー', 'x'.repeat(1_024)];
    const out = new Uint32Array(texts.length + 1).fill(7);
    hashing.h32Batch(texts, out);
    assert.deepEqual([...out.subarray(0, 5)], [0x02cc5d05, 0x550d7456, 0x32d153ff, 4132429719, 0xe2293b2f]);
    assert.deepEqual([...out.subarray(5, texts.length)], texts.slice(5).map(oracle));
    assert.equal(out[texts.length], 7, 'nothing is written past the batch');
  });

  test('property: batch == single for random keys, multi-byte UTF-8 included', () => {
    fc.assert(
      fc.property(fc.array(anyTextArb, { maxLength: 60 }), (texts) => {
        const out = new Uint32Array(texts.length);
        hashing.h32Batch(texts, out);
        assert.deepEqual([...out], texts.map((text) => hashing.h32(text)));
        assert.deepEqual([...out], texts.map(oracle));
      }),
      { numRuns: 300 },
    );
  });
});
