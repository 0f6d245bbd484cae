// A torn tail is cut off and recovery goes on; a corrupt record in
// the middle stops startup with an error naming the file and the byte offset.
import assert from 'node:assert/strict';
import { appendFile, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CorruptLogError } from '../../src/store/index.js';
import { abandonStore } from '../../src/store/store.js';
import { digest, heldSyncs, open, removeDir, settle, tempDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});
async function fresh(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.seg')).sort().map((f) => join(dir, f));
}

async function size(path: string): Promise<number> {
  return (await stat(path)).size;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0x5a;
  await writeFile(path, bytes);
}

/**
 * Three batches (frames) in one segment: returns the byte offset where each frame
 * starts and the state after each one.
 */
async function threeFrames(dir: string): Promise<{ path: string; starts: number[]; states: ReturnType<typeof digest>[] }> {
  const { store, machine } = await open(dir);
  const starts: number[] = [];
  const states: ReturnType<typeof digest>[] = [];
  let path = '';
  for (let batch = 0; batch < 3; batch++) {
    starts.push(path === '' ? 0 : await size(path));
    machine.run((m) => {
      for (let i = 0; i < 5; i++) m.locks.acquire({ name: `b${batch}-${i}`, ttlMs: 60_000, owner: `o${i}` });
      m.rings.putMember('ring', `n${batch}`, { weight: batch + 1 });
    });
    await settle(store);
    states.push(digest(machine));
    path = (await segments(dir))[0]!;
  }
  await abandonStore(store);
  return { path, starts, states };
}

describe('torn tail', () => {
  test('a partly written last frame is cut off and recovery continues', async () => {
    const dir = await fresh();
    const { path, starts, states } = await threeFrames(dir);
    const full = await size(path);
    const torn = starts[2]! + Math.floor((full - starts[2]!) / 2);
    await truncate(path, torn);

    const { store, machine } = await open(dir);
    assert.deepEqual(digest(machine), states[1]);
    assert.equal(await size(path), starts[2], 'the torn frame is truncated away');
    // The log goes on from there, and a later recovery reads it whole.
    machine.run((m) => m.locks.acquire({ name: 'after-tear', ttlMs: 60_000 }));
    const expected = digest(machine);
    await settle(store);
    await abandonStore(store);
    const again = await open(dir);
    assert.deepEqual(digest(again.machine), expected);
    await again.store.close();
  });

  test('a last frame with a bad checksum is a torn write; zeros after the last frame end the log cleanly', async () => {
    const dir = await fresh();
    const { path, starts, states } = await threeFrames(dir);
    await flipByte(path, (await size(path)) - 3);
    const first = await open(dir);
    assert.deepEqual(digest(first.machine), states[1]);
    assert.equal(await size(path), starts[2], 'the torn frame is cut off');
    await abandonStore(first.store);

    // Zeros after the last frame: what is left of a spare segment, or a crash that grew
    // the file before its data landed. Nothing is cut; the log writes over them.
    await appendFile(path, Buffer.alloc(4096));
    const second = await open(dir);
    assert.deepEqual(digest(second.machine), states[1]);
    assert.equal(await size(path), starts[2]! + 4096, 'zeros are kept');
    second.machine.run((m) => m.locks.acquire({ name: 'over-the-zeros', ttlMs: 60_000 }));
    const expected = digest(second.machine);
    await settle(second.store);
    assert.equal(await size(path), starts[2]! + 4096, 'the next frame went into the zeros');
    await abandonStore(second.store);
    const third = await open(dir);
    assert.deepEqual(digest(third.machine), expected);
    await third.store.close();
  });

  test('a last frame whose header landed only in part, its payload in full, is a torn write', async () => {
    // The sectors of one write may reach the disk in any order.
    const dir = await fresh();
    const { path, starts, states } = await threeFrames(dir);
    const bytes = await readFile(path);
    bytes.fill(0, starts[2]! + 2, starts[2]! + 12);
    await writeFile(path, bytes);
    const { store, machine } = await open(dir);
    assert.deepEqual(digest(machine), states[1]);
    assert.equal(await size(path), starts[2]);
    await store.close();
  });

  test('a frame header cut short at the end is a torn write', async () => {
    const dir = await fresh();
    const { path, starts, states } = await threeFrames(dir);
    await truncate(path, starts[2]! + 7);
    const { store, machine } = await open(dir);
    assert.deepEqual(digest(machine), states[1]);
    await store.close();
  });
});

describe('frames written ahead of an fdatasync', () => {
  test('a lost frame that no later frame saw durable is a torn write, even with frames after it', async () => {
    const dir = await fresh();
    const disk = heldSyncs();
    // One record per batch, each full at once: full batches are written ahead of a running fdatasync.
    const { store, machine } = await open(dir, { openFile: disk.openFile, batchBytesMax: 1 });
    const batch = (tag: string): void => {
      machine.run((m) => m.leases.grant(60_000 + tag.length));
    };
    batch('one');
    const durable = digest(machine);
    const first = store.settled()!;
    await disk.until(() => disk.held.length === 1);
    // Written while the first fdatasync runs: neither is durable yet.
    batch('two');
    await disk.until(() => disk.starts.length === 2);
    batch('three');
    await disk.until(() => disk.starts.length === 3);
    disk.held.shift()!();
    await first;
    await disk.until(() => disk.held.length === 1);
    // The crash comes while the second fdatasync runs (it returns, but nobody waits).
    const crashed = abandonStore(store);
    disk.held.shift()!();
    await crashed;
    // The power cut kept the third frame and lost the second.
    const path = (await segments(dir))[0]!;
    await flipByte(path, disk.starts[1]! + 30);
    const again = await open(dir);
    assert.deepEqual(digest(again.machine), durable, 'what was durable is back, nothing after the hole');
    assert.equal(await size(path), disk.starts[1], 'the log is cut at the lost frame');
    await again.store.close();
  });

  test('a bad frame that a later frame saw durable is corruption', async () => {
    const dir = await fresh();
    const disk = heldSyncs();
    const { store, machine } = await open(dir, { openFile: disk.openFile, batchBytesMax: 1 });
    const batch = (tag: string): void => {
      machine.run((m) => m.leases.grant(60_000 + tag.length));
    };
    batch('one');
    const first = store.settled()!;
    await disk.until(() => disk.held.length === 1);
    batch('two');
    await disk.until(() => disk.starts.length === 2);
    disk.held.shift()!();
    await first;
    // Written once the first frame was durable: it vouches for it.
    await disk.until(() => disk.held.length === 1);
    batch('three');
    await disk.until(() => disk.starts.length === 3);
    disk.held.shift()!();
    await disk.until(() => disk.held.length === 1);
    disk.held.shift()!();
    await settle(store);
    await abandonStore(store);
    const path = (await segments(dir))[0]!;
    await flipByte(path, disk.starts[0]! + 30);
    await assert.rejects(open(dir), (error: unknown) => error instanceof CorruptLogError && error.offset === disk.starts[0]);
  });
});

describe('corruption', () => {
  test('a corrupt record in the middle of a segment stops startup, naming file and offset', async () => {
    const dir = await fresh();
    const { path, starts } = await threeFrames(dir);
    const at = starts[1]! + 30;
    await flipByte(path, at);
    const sizeBefore = await size(path);
    await assert.rejects(open(dir), (error: unknown) => {
      assert.ok(error instanceof CorruptLogError);
      assert.equal(error.file, path);
      assert.equal(error.offset, starts[1]);
      assert.match(error.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} at byte offset ${starts[1]}`));
      assert.match(error.message, /checksum mismatch/);
      return true;
    });
    // Nothing was truncated or rewritten, and the lock was let go.
    assert.equal(await size(path), sizeBefore);
    await assert.rejects(open(dir), CorruptLogError);
  });

  test('a corrupt length field in the middle is caught too', async () => {
    const dir = await fresh();
    const { path, starts } = await threeFrames(dir);
    const bytes = await readFile(path);
    bytes.writeUInt32LE(bytes.readUInt32LE(starts[1]!) - 4, starts[1]!);
    await writeFile(path, bytes);
    await assert.rejects(open(dir), (error: unknown) => error instanceof CorruptLogError && error.offset === starts[1]);
  });

  test('a length field in the middle that points past the end of the file is corruption, not a tear', async () => {
    const dir = await fresh();
    const { path, starts } = await threeFrames(dir);
    const bytes = await readFile(path);
    bytes[starts[1]! + 3] = 0x40;
    await writeFile(path, bytes);
    await assert.rejects(open(dir), (error: unknown) => error instanceof CorruptLogError && error.offset === starts[1] && /runs past the end/.test(error.message));
    assert.equal(await size(path), bytes.length, 'nothing was cut off');
  });

  test('a bad frame at the end of a segment that is not the last one is corruption, not a tear', async () => {
    const dir = await fresh();
    const { store, machine } = await open(dir, { segmentBytesMax: 256 });
    for (let i = 0; i < 20; i++) {
      machine.run((m) => m.locks.acquire({ name: `lock-${i}`, ttlMs: 60_000 }));
      await settle(store);
    }
    await abandonStore(store);
    const files = await segments(dir);
    assert.ok(files.length >= 3, `expected several segments, got ${files.length}`);
    const victim = files[1]!;
    await flipByte(victim, (await size(victim)) - 2);
    await assert.rejects(open(dir), (error: unknown) => error instanceof CorruptLogError && error.file === victim);
  });

  test('a missing segment in the middle is a gap, not silently skipped', async () => {
    const dir = await fresh();
    const { store, machine } = await open(dir, { segmentBytesMax: 256 });
    for (let i = 0; i < 20; i++) {
      machine.run((m) => m.locks.acquire({ name: `lock-${i}`, ttlMs: 60_000 }));
      await settle(store);
    }
    await abandonStore(store);
    const files = await segments(dir);
    await writeFile(files[1]!, '');
    const gap = (error: unknown): boolean => error instanceof CorruptLogError && error.file === files[2] && /expected \d+/.test(error.message);
    await assert.rejects(open(dir), gap);
    await unlink(files[1]!);
    await assert.rejects(open(dir), gap);
  });

  test('a corrupt snapshot stops startup, naming the snapshot file', async () => {
    const dir = await fresh();
    const first = await open(dir);
    first.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 60_000 }));
    await first.store.close();
    const snapshot = join(dir, (await readdir(dir)).find((f) => f.endsWith('.snap'))!);
    await flipByte(snapshot, 40);
    await assert.rejects(open(dir), (error: unknown) => error instanceof CorruptLogError && error.file === snapshot);
  });
});
