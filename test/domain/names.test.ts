import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkLabel, checkName, compareUtf8 } from '../../src/domain/names.js';
import { byteCompare, expectError } from '../helpers/machine.js';

describe('compareUtf8', () => {
  test('orders astral characters after U+E000..U+FFFF, as UTF-8 bytes do', () => {
    assert.ok(compareUtf8('\u{1F600}', '\uE000') > 0);
    assert.ok(compareUtf8('\u{10000}', '\uFFFF') > 0);
    assert.ok(compareUtf8('\uD7FF', '\u{10000}') < 0);
    assert.ok(compareUtf8('a', 'ab') < 0);
    assert.equal(compareUtf8('é', 'é'), 0);
  });

  test('property: agrees in sign with a byte comparison of the UTF-8 encodings', () => {
    const text = fc.string({ unit: 'binary', maxLength: 6 });
    fc.assert(
      fc.property(text, text, (a, b) => {
        assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(byteCompare(a, b)));
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('checkName', () => {
  test('accepts 1 to bytesMax bytes of valid UTF-8, counted in bytes', () => {
    assert.equal(checkName('name', 'a/b%2F c', 256), 'a/b%2F c');
    checkName('name', '\u{1F512}'.repeat(64), 256);
    expectError(() => checkName('name', '\u{1F512}'.repeat(64) + 'x', 256), 'invalid_request', { field: 'name' });
    expectError(() => checkName('name', '', 256), 'invalid_request');
  });

  for (const bad of ['a\u0000', '\u001f', 'x\u007f', 'a\nb', '\ud800', 'x\udc00y', '\udc00\ud800']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      expectError(() => checkName('ring', bad, 256), 'invalid_request', { field: 'ring' });
    });
  }

  test('allows U+0080..U+009F and a paired surrogate', () => {
    checkName('name', '\u0080\u009f', 256);
    checkName('name', '\ud83d\ude00', 256);
  });

  test('checkLabel allows the empty string', () => {
    assert.equal(checkLabel('owner', '', 256), '');
    expectError(() => checkLabel('owner', 'x'.repeat(257), 256), 'invalid_request', { field: 'owner' });
  });
});
