import { invalid } from './errors.js';

// U+0000..U+001F and U+007F; a lone surrogate cannot be encoded as valid UTF-8.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const forbidden = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks a lock name, ring name or node id: 1 to `bytesMax` bytes of valid UTF-8
 * without control characters. Throws `invalid_request` naming the field.
 */
export function checkName(field: string, value: string, bytesMax: number): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < 1 || bytes > bytesMax) {
    throw invalid(`${field} must be 1 to ${bytesMax} bytes of UTF-8, got ${bytes}`, { field });
  }
  if (forbidden.test(value)) {
    throw invalid(`${field} must not contain control characters or invalid UTF-8`, { field });
  }
  return value;
}

/** A free label such as `owner`: at most `bytesMax` bytes, same character rules. */
export function checkLabel(field: string, value: string, bytesMax: number): string {
  if (value === '') return value;
  return checkName(field, value, bytesMax);
}

/**
 * Orders strings by their UTF-8 bytes without encoding them. UTF-16 code-unit order
 * agrees with UTF-8 byte order except that a surrogate (a character above U+FFFF)
 * must sort after U+E000..U+FFFF, which UTF-16 puts above it.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
