import { crc32c } from './crc32c.js';

/**
 * A frame is one batch of records written with one write and one fdatasync:
 *
 *   u32 payloadBytes | u32 crc32c(bytes 8..end) | u32 firstSeq low | u32 firstSeq high
 *   | u32 recordCount | payload (records)
 *
 * One frame per fsync means a crash can tear only the last frame of the log: a bad
 * frame with a valid frame anywhere after it is corruption, never a torn write.
 */
export const frameHeaderBytes = 20;

/** No writer makes frames this big; a longer length field is garbage. */
export const frameBytesMax = 256 * 1024 * 1024;

const twoTo32 = 0x100000000;

/** Fills the header of the frame in `buf[0, end)` whose payload starts at byte 20. */
export function sealFrame(buf: Buffer, end: number, firstSeq: number, count: number): void {
  buf.writeUInt32LE(end - frameHeaderBytes, 0);
  buf.writeUInt32LE(firstSeq % twoTo32, 8);
  buf.writeUInt32LE(Math.floor(firstSeq / twoTo32), 12);
  buf.writeUInt32LE(count, 16);
  buf.writeUInt32LE(crc32c(buf, 8, end), 4);
}

export interface Frame {
  readonly ok: true;
  readonly firstSeq: number;
  readonly count: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

export interface BadFrame {
  readonly ok: false;
  readonly reason: string;
}

/** Reads and checks the frame at `offset` of `buf` (a whole file). */
export function readFrame(buf: Buffer, offset: number): Frame | BadFrame {
  const available = buf.length - offset;
  if (available < frameHeaderBytes) {
    return { ok: false, reason: `incomplete frame header (${available} bytes)` };
  }
  const payloadBytes = buf.readUInt32LE(offset);
  const end = offset + frameHeaderBytes + payloadBytes;
  if (payloadBytes > frameBytesMax || end > buf.length) {
    return { ok: false, reason: `frame of ${payloadBytes} bytes runs past the end of the file` };
  }
  const stored = buf.readUInt32LE(offset + 4);
  const computed = crc32c(buf, offset + 8, end);
  if (stored !== computed) {
    return { ok: false, reason: 'checksum mismatch' };
  }
  const firstSeq = buf.readUInt32LE(offset + 8) + buf.readUInt32LE(offset + 12) * twoTo32;
  return { ok: true, firstSeq, count: buf.readUInt32LE(offset + 16), payloadStart: offset + frameHeaderBytes, payloadEnd: end };
}

/**
 * True if a valid frame of a later record starts anywhere after `offset`. A crash
 * tears at most the last frame, in any way (sectors of one write may land in any
 * order, a length field may be cut), so a bad frame with nothing valid after it is
 * a torn write, and one with a valid frame after it is corruption. Only runs on a
 * bad frame; cheap header checks keep the scan fast.
 */
export function validFrameAfter(buf: Buffer, offset: number, badSeq: number): boolean {
  const seqMax = badSeq + (buf.length - offset);
  for (let at = offset + 1; at + frameHeaderBytes <= buf.length; at++) {
    const end = at + frameHeaderBytes + buf.readUInt32LE(at);
    if (end > buf.length) continue;
    const firstSeq = buf.readUInt32LE(at + 8) + buf.readUInt32LE(at + 12) * twoTo32;
    if (firstSeq <= badSeq || firstSeq > seqMax) continue;
    const count = buf.readUInt32LE(at + 16);
    if (count === 0 || count > end - at) continue;
    if (readFrame(buf, at).ok) return true;
  }
  return false;
}
