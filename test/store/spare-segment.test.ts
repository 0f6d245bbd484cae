// Spare segments: the log starts segments from files of zeros made ahead, fills
// them, cuts them back to their frames when it moves on, and recovery reads the zeros
// after the last frame as the end of a segment, never as damage to cut or refuse.
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { readFrame } from '../../src/store/frame.js';
import { CorruptLogError } from '../../src/store/index.js';
import { SpareSegment, spareSegmentName } from '../../src/store/spare-segment.js';
import { abandonStore } from '../../src/store/store.js';
import { digest, dirsRemovedAfter, open, settle, silent } from './helpers.js';

const fresh = dirsRemovedAfter();
const spareBytesMin = 4096;
const segmentBytesMax = 64 * 1024;

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort().map((f) => join(dir, f));
}

async function size(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Where each frame of a segment file starts, and where the last one ends. */
async function frames(path: string): Promise<{ starts: number[]; end: number; fileBytes: number }> {
  const buf = await readFile(path);
  const starts: number[] = [];
  let offset = 0;
  for (let frame = readFrame(buf, 0); frame.ok; frame = readFrame(buf, offset)) {
    starts.push(offset);
    offset = frame.payloadEnd;
  }
  return { starts, end: offset, fileBytes: buf.length };
}

/**
 * Asserts that every segment but the last holds its frames and nothing else (a spare
 * the log left is cut back); returns their sizes.
 */
async function leftCutBack(all: readonly string[]): Promise<number[]> {
  const sizes: number[] = [];
  for (const path of all.slice(0, -1)) {
    const layout = await frames(path);
    assert.equal(layout.fileBytes, layout.end, `${path}: a segment left behind holds its frames and nothing else`);
    sizes.push(layout.fileBytes);
  }
  return sizes;
}

type Opened = Awaited<ReturnType<typeof open>>;

/** One durable frame: a lock on its own lease. */
async function oneFrame(opened: Opened, name: string): Promise<void> {
  opened.machine.run((m) => m.locks.acquire({ name, ttlMs: 600_000, owner: 'spare-test' }));
  await settle(opened.store);
}

/**
 * Writes frames until the log runs in a segment taken from a spare (a file longer than
 * its frames). The spare is made on the disk's own time: bounded by `framesMax` frames,
 * each a turn of the disk.
 */
async function untilInSpare(opened: Opened, dir: string, tag: string, framesMax = 2000): Promise<string> {
  for (let i = 0; i < framesMax; i++) {
    await oneFrame(opened, `${tag}-${i}`);
    const last = (await segments(dir)).at(-1)!;
    const layout = await frames(last);
    if (layout.fileBytes > layout.end) return last;
  }
  throw new Error(`no spare was taken in ${framesMax} frames`);
}

describe('spare segments', () => {
  test('the log moves onto a spare, and a crash there recovers everything and goes on in its zeros', async () => {
    const dir = await fresh();
    const first = await open(dir, { spareSegmentBytesMin: spareBytesMin, segmentBytesMax });
    const spare = await untilInSpare(first, dir, 'a');
    const all = await segments(dir);
    assert.ok(all.length >= 2, 'the first segment was a plain one, made before any spare was ready');
    await leftCutBack(all);
    const before = await frames(spare);
    assert.ok([spareBytesMin, 2 * spareBytesMin].includes(before.fileBytes), `a spare's size: ${before.fileBytes}`);
    const expected = digest(first.machine);
    await abandonStore(first.store);

    const second = await open(dir, { spareSegmentBytesMin: spareBytesMin, segmentBytesMax });
    assert.deepEqual(digest(second.machine), expected);
    assert.deepEqual(await frames(spare), before, 'recovery cut nothing');
    await oneFrame(second, 'after-crash');
    const after = await frames(spare);
    assert.deepEqual(await segments(dir), all, 'the log went on in the same segment');
    assert.equal(after.fileBytes, before.fileBytes, 'into its zeros, without growing it');
    assert.deepEqual(after.starts, [...before.starts, before.end]);
    const expectedAfter = digest(second.machine);
    await abandonStore(second.store);

    const third = await open(dir);
    assert.deepEqual(digest(third.machine), expectedAfter);
    await third.store.close();
  });

  test('full spares are cut back to their frames as the log moves on, and spares grow', async () => {
    const dir = await fresh();
    const opened = await open(dir, { spareSegmentBytesMin: spareBytesMin, segmentBytesMax });
    await untilInSpare(opened, dir, 'b');
    // Fill several spares: about 100 bytes a frame.
    for (let i = 0; i < 400; i++) await oneFrame(opened, `fill-${i}`);
    const all = await segments(dir);
    const sizes = await leftCutBack(all);
    assert.ok(all.length >= 4, `segments: ${all.length}`);
    assert.ok(Math.max(...sizes) > spareBytesMin, `later spares are larger: ${sizes.join(', ')}`);
    assert.ok(sizes.every((bytes) => bytes <= segmentBytesMax));
    const expected = digest(opened.machine);
    await opened.store.close();
    assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), [], 'a clean close leaves no spare');
    const again = await open(dir);
    assert.deepEqual(digest(again.machine), expected);
    await again.store.close();
  });

  test('a torn last frame in a spare is cut off; a bad frame a later one vouches for is corruption', async () => {
    const torn = await fresh();
    const opened = await open(torn, { spareSegmentBytesMin: spareBytesMin, segmentBytesMax });
    const path = await untilInSpare(opened, torn, 'c');
    await oneFrame(opened, 'c-second');
    const beforeLast = digest(opened.machine);
    await oneFrame(opened, 'c-last');
    await abandonStore(opened.store);
    const layout = await frames(path);
    const lastStart = layout.starts.at(-1)!;
    const bytes = await readFile(path);
    bytes[lastStart + 24] = bytes[lastStart + 24]! ^ 0x5a;
    await writeFile(path, bytes);
    const recovered = await open(torn);
    assert.deepEqual(digest(recovered.machine), beforeLast);
    assert.equal(await size(path), lastStart, 'cut at the torn frame, zeros and all');
    await recovered.store.close();

    const corrupt = await fresh();
    const again = await open(corrupt, { spareSegmentBytesMin: spareBytesMin, segmentBytesMax });
    const spare = await untilInSpare(again, corrupt, 'd');
    await oneFrame(again, 'd-second');
    await oneFrame(again, 'd-third');
    await abandonStore(again.store);
    const { starts } = await frames(spare);
    const damaged = await readFile(spare);
    const at = starts.at(-2)! + 24;
    damaged[at] = damaged[at]! ^ 0x5a;
    await writeFile(spare, damaged);
    await assert.rejects(open(corrupt), (error: unknown) => error instanceof CorruptLogError && error.file === spare && error.offset === starts.at(-2));
  });

  test('a spare that cannot be made is reported and leaves the log to plain segments', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const spare = new SpareSegment({ dir: join(await fresh(), 'missing'), log, bytesMin: spareBytesMin, bytesMax: segmentBytesMax });
    spare.prepare();
    await spare.close();
    assert.equal(spare.ready, false);
    assert.match(lines.join(''), /could not make a spare log segment/);
    assert.equal(await spare.take(join(await fresh(), 'x.seg')), 0, 'nothing to take');
  });

  test('a spare is made to its size in zeros, taken once, and the next one is twice as large', async () => {
    const dir = await fresh();
    const spare = new SpareSegment({ dir, log: silent, bytesMin: spareBytesMin, bytesMax: 3 * spareBytesMin });
    const sizes: number[] = [];
    for (let round = 0; round < 3; round++) {
      spare.prepare();
      for (let i = 0; i < 1000 && !spare.ready; i++) await new Promise((resolve) => setTimeout(resolve, 2));
      const path = join(dir, `taken-${round}.seg`);
      const bytes = await spare.take(path);
      const content = await readFile(path);
      assert.equal(content.length, bytes);
      assert.ok(content.every((byte) => byte === 0));
      assert.equal(await spare.take(join(dir, 'again.seg')), 0, 'a spare is taken once');
      sizes.push(bytes);
    }
    assert.deepEqual(sizes, [spareBytesMin, 2 * spareBytesMin, 3 * spareBytesMin], 'doubling, up to the segment size');
    await spare.close();
    assert.deepEqual((await readdir(dir)).filter((f) => f === spareSegmentName), []);
  });
});
