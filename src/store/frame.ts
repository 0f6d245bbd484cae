import { crc32c } from './crc32c.js';

/**
 * A frame is one batch of records written with one write:
 *
 *   u32 payloadBytes | u32 crc32c(bytes 8..end) | u32 firstSeq low | u32 firstSeq high
 *   | u32 recordCount | payload (records)
 *
 * The log writes the next frame while the previous fdatasync runs, so a power cut can
 * keep a later frame and lose an earlier one that was not durable yet. A frame
 * written while earlier records were not durable says so: the top bit of its length
 * word is set, its checksum is folded with that word, and a u32 after the header
 * counts the records before it that were not durable when it was written. Recovery
 * uses that count to tell a torn write (a bad frame that no later frame saw durable)
 * from corruption (a bad frame a later frame saw durable).
 */
export const frameHeaderBytes = 20;

/** No writer makes frames this big; a longer length field is garbage. */
export const frameBytesMax = 256 * 1024 * 1024;

/** Room the log reserves in front of its records: the header of a frame written ahead. */
export const aheadHeaderBytes = frameHeaderBytes + 4;

const aheadFlag = 0x80000000;
const twoTo32 = 0x100000000;

/** Fills the header of the frame in `buf[0, end)` whose payload starts at byte 20. */
export function sealFrame(buf: Buffer, end: number, firstSeq: number, count: number): void {
  buf.writeUInt32LE(end - frameHeaderBytes, 0);
  buf.writeUInt32LE(firstSeq % twoTo32, 8);
  buf.writeUInt32LE(Math.floor(firstSeq / twoTo32), 12);
  buf.writeUInt32LE(count, 16);
  buf.writeUInt32LE(crc32c(buf, 8, end), 4);
}

/**
 * Seals a log frame whose records are in `buf[aheadHeaderBytes, end)`; returns where
 * the frame starts in `buf`. `notDurable`: records before this frame not yet durable
 * as it is written (0: a plain frame, its header right in front of the records).
 */
export function sealLogFrame(buf: Buffer, end: number, firstSeq: number, count: number, notDurable: number): number {
  if (notDurable === 0) {
    const start = aheadHeaderBytes - frameHeaderBytes;
    sealFrame(buf.subarray(start), end - start, firstSeq, count);
    return start;
  }
  const word0 = (aheadFlag | (end - frameHeaderBytes)) >>> 0;
  buf.writeUInt32LE(word0, 0);
  buf.writeUInt32LE(firstSeq % twoTo32, 8);
  buf.writeUInt32LE(Math.floor(firstSeq / twoTo32), 12);
  buf.writeUInt32LE(count, 16);
  buf.writeUInt32LE(notDurable, frameHeaderBytes);
  buf.writeUInt32LE((crc32c(buf, 8, end) ^ word0) >>> 0, 4);
  return 0;
}

export interface Frame {
  readonly ok: true;
  readonly firstSeq: number;
  readonly count: number;
  /** Records before this frame that were not durable when it was written. */
  readonly notDurable: number;
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
  const word0 = buf.readUInt32LE(offset);
  const ahead = (word0 & aheadFlag) !== 0;
  const payloadBytes = word0 & ~aheadFlag;
  const end = offset + frameHeaderBytes + payloadBytes;
  if (payloadBytes > frameBytesMax || end > buf.length || (ahead && payloadBytes < 4)) {
    return { ok: false, reason: `frame of ${payloadBytes} bytes runs past the end of the file` };
  }
  const stored = buf.readUInt32LE(offset + 4);
  const sum = crc32c(buf, offset + 8, end);
  const computed = ahead ? (sum ^ word0) >>> 0 : sum;
  if (stored !== computed) {
    return { ok: false, reason: 'checksum mismatch' };
  }
  const firstSeq = buf.readUInt32LE(offset + 8) + buf.readUInt32LE(offset + 12) * twoTo32;
  return {
    ok: true, firstSeq, count: buf.readUInt32LE(offset + 16),
    notDurable: ahead ? buf.readUInt32LE(offset + frameHeaderBytes) : 0,
    payloadStart: offset + (ahead ? aheadHeaderBytes : frameHeaderBytes), payloadEnd: end,
  };
}

/**
 * True if a valid frame after `offset` was written once record `badSeq` (the first
 * record of the bad frame at `offset`) was durable: then the bad frame is corruption.
 * Otherwise it is a torn write: every frame after it was written while it was not
 * yet durable, and a power cut may keep any of them and lose it, in any order
 * (sectors of one write land in any order too, a length field may be cut). Only runs
 * on a bad frame; cheap header checks keep the scan fast. `startsBefore` bounds where a
 * frame may start (zeros that end a spare segment hold none).
 */
export function durableFrameAfter(buf: Buffer, offset: number, badSeq: number, startsBefore = buf.length): boolean {
  const seqMax = badSeq + (buf.length - offset);
  for (let at = offset + 1; at < startsBefore && at + frameHeaderBytes <= buf.length; at++) {
    const end = at + frameHeaderBytes + (buf.readUInt32LE(at) & ~aheadFlag);
    if (end > buf.length) continue;
    const firstSeq = buf.readUInt32LE(at + 8) + buf.readUInt32LE(at + 12) * twoTo32;
    if (firstSeq <= badSeq || firstSeq > seqMax) continue;
    const count = buf.readUInt32LE(at + 16);
    if (count === 0 || count > end - at) continue;
    const frame = readFrame(buf, at);
    if (frame.ok && frame.firstSeq - 1 - frame.notDurable >= badSeq) return true;
  }
  return false;
}
