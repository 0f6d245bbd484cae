/**
 * Growable byte writer and bounds-checked reader for the log's binary records:
 * unsigned LEB128 varints (up to 2^53), little-endian doubles and length-prefixed
 * UTF-8 strings. No per-record allocation on the write side.
 */

const twoTo31 = 0x80000000;
/** Up to this many UTF-16 units, a JS loop beats Buffer#write's call overhead (~30 vs ~45 ns). */
const asciiInlineMax = 32;

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(capacityBytes: number) {
    this.buf = Buffer.allocUnsafe(capacityBytes);
  }

  /** Makes room for `bytes` more bytes, doubling the buffer when needed. */
  ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** An unsigned integer up to Number.MAX_SAFE_INTEGER, 1 to 8 bytes. */
  varint(value: number): void {
    this.ensure(8);
    const buf = this.buf;
    let v = value;
    while (v >= twoTo31) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v >= 0x80) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  f64(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A varint byte length, then the UTF-8 bytes. */
  string(value: string): void {
    // Names, owners and ids are short: reserve a 2-byte length (a non-minimal
    // varint for lengths under 128) and write in one pass, no byteLength scan.
    const maxBytes = value.length * 3;
    if (maxBytes < 0x4000) {
      this.ensure(2 + maxBytes);
      const start = this.pos + 2;
      const written = value.length <= asciiInlineMax ? this.writeShort(value, start) : this.buf.write(value, start, 'utf8');
      this.buf[start - 2] = (written & 0x7f) | 0x80;
      this.buf[start - 1] = written >>> 7;
      this.pos = start + written;
      return;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(value, this.pos, 'utf8');
  }

  /** Copies an ASCII string byte by byte; anything else goes through the UTF-8 encoder. */
  private writeShort(value: string, start: number): number {
    const buf = this.buf;
    const length = value.length;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) return buf.write(value, start, 'utf8');
      buf[start + i] = code;
    }
    return length;
  }
}

/** Thrown when a record runs past its frame or holds an impossible value. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class ByteReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end) throw new DecodeError('record runs past the end of its frame', this.pos);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      this.need(1);
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(result)) throw new DecodeError('varint out of range', this.pos);
        return result;
      }
      scale *= 128;
    }
    throw new DecodeError('varint longer than 8 bytes', this.pos);
  }

  f64(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  string(): string {
    const bytes = this.varint();
    this.need(bytes);
    const start = this.pos;
    this.pos += bytes;
    return this.buf.toString('utf8', start, this.pos);
  }
}
