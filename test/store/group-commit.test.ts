// Concurrent requests share fsyncs; a failed fsync is never ignored.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readFrame } from '../../src/store/frame.js';
import type { LogFile, OpenLogFile } from '../../src/store/log-file.js';
import { openLogFile } from '../../src/store/log-file.js';
import type { FsyncObserver } from '../../src/store/log-writer.js';
import { DurabilityFailedError, StoreError } from '../../src/store/index.js';
import { heldSyncs, open, removeDir, settle, tempDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});
async function fresh(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

interface Fsync {
  readonly seconds: number;
  readonly records: number;
  readonly bytes: number;
}

interface Frame {
  readonly records: number;
  readonly bytes: number;
}

function recorder(): { fsyncs: Fsync[]; frames: Frame[]; observer: FsyncObserver } {
  const fsyncs: Fsync[] = [];
  const frames: Frame[] = [];
  return {
    fsyncs,
    frames,
    observer: {
      fsync: (seconds, records, bytes) => fsyncs.push({ seconds, records, bytes }),
      frame: (records, bytes) => frames.push({ records, bytes }),
    },
  };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  test('many concurrent requests share far fewer fsyncs', async (t) => {
    const dir = await fresh();
    const { fsyncs, observer } = recorder();
    const { store, machine } = await open(dir, { observer });
    const requests = 2_000;
    // Each request arrives in its own turn of the event loop, applies one command
    // and waits for durability before "answering", as the HTTP layer does.
    const answered = await Promise.all(
      Array.from({ length: requests }, async (_, i) => {
        for (let t = i % 50; t > 0; t--) await nextTurn();
        const result = machine.run((m) => m.locks.acquire({ name: `lock-${i}`, ttlMs: 60_000 }));
        await store.settled();
        return result;
      }),
    );
    assert.equal(answered.length, requests);
    const records = fsyncs.reduce((sum, f) => sum + f.records, 0);
    assert.equal(records, requests * 2, 'each acquire with ttlMs logs a lease grant and a hold');
    t.diagnostic(`${requests} requests, ${records} records, ${fsyncs.length} fsyncs`);
    assert.ok(fsyncs.length <= requests / 10, `${requests} requests took ${fsyncs.length} fsyncs`);
    assert.ok(fsyncs.every((f) => f.seconds >= 0 && f.bytes > 0));
    await store.close();
  });

  test('settled() is undefined when everything is durable, and one promise per batch', async () => {
    const dir = await fresh();
    const { store, machine } = await open(dir);
    assert.equal(store.settled(), undefined);
    machine.run((m) => m.leases.grant(1_000));
    const first = store.settled();
    machine.run((m) => m.leases.grant(1_000));
    assert.ok(first !== undefined);
    assert.equal(store.settled(), first, 'records of one turn share one batch');
    // Keepalives and waits are not logged: nothing to wait for.
    await first;
    const lease = [...machine.leases.byId.keys()][0]!;
    machine.run((m) => m.leases.keepalive(lease));
    assert.equal(store.settled(), undefined);
    await store.close();
  });

  test('a burst is cut into batches of at most batchBytesMax (plus one command)', async () => {
    const dir = await fresh();
    const { fsyncs, frames, observer } = recorder();
    const { store, machine } = await open(dir, { observer, batchBytesMax: 4096 });
    for (let i = 0; i < 3_000; i++) machine.run((m) => m.locks.acquire({ name: `burst-${i}`, ttlMs: 60_000 }));
    await settle(store);
    assert.ok(frames.length > 10);
    assert.ok(frames.every((f) => f.bytes <= 4096 + 512), `largest batch ${Math.max(...frames.map((f) => f.bytes))} bytes`);
    assert.equal(frames.reduce((sum, f) => sum + f.records, 0), 6_000);
    assert.equal(fsyncs.reduce((sum, f) => sum + f.records, 0), 6_000, 'every record written is made durable once');
    assert.ok(fsyncs.length <= frames.length);
    await store.close();
  });

  test('a command\'s records are never cut across two frames, however many they are', async () => {
    const dir = await fresh();
    const { frames, observer } = recorder();
    const { store, machine } = await open(dir, { observer, batchBytesMax: 256 });
    machine.run((m) => {
      for (let i = 0; i < 50; i++) m.locks.acquire({ name: `one-command-${i}`, ttlMs: 60_000 });
    });
    await settle(store);
    assert.deepEqual(frames.map((f) => f.records), [100]);
    await store.close();
  });

  test('commitDelayMs gathers records from several turns into one fsync', async () => {
    const dir = await fresh();
    const { fsyncs, observer } = recorder();
    const { store, machine } = await open(dir, { observer, commitDelayMs: 250 });
    for (let i = 0; i < 5; i++) {
      machine.run((m) => m.leases.grant(1_000));
      await nextTurn();
    }
    await settle(store);
    assert.equal(fsyncs.length, 1);
    assert.equal(fsyncs[0]!.records, 5);
    await store.close();
  });

  test('full batches are written while an fdatasync runs, and the next fdatasync covers them', async () => {
    const dir = await fresh();
    // A disk whose fdatasyncs return only when the test says so.
    const { openFile: slowSync, events, held, until } = heldSyncs();
    const { fsyncs, observer } = recorder();
    // One record per batch, full at once: full batches are written ahead of a running fdatasync.
    const { store, machine } = await open(dir, { observer, openFile: slowSync, batchBytesMax: 1 });
    machine.run((m) => m.leases.grant(1_000));
    const first = store.settled()!;
    await until(() => held.length === 1);
    // Two more batches arrive while the first fdatasync is held: both are written now.
    machine.run((m) => m.leases.grant(1_000));
    await until(() => events.filter((e) => e === 'write').length === 2);
    machine.run((m) => m.leases.grant(1_000));
    const third = store.settled()!;
    await until(() => events.filter((e) => e === 'write').length === 3);
    assert.deepEqual(events, ['write', 'sync', 'write', 'write'], 'one fdatasync at a time, writes beside it');
    assert.equal(store.durablePosition(), 0, 'nothing is durable before its fdatasync returns');
    held.shift()!();
    await first;
    assert.equal(store.durablePosition(), 1, 'the first fdatasync covers only the frame written before it');
    await until(() => held.length === 1);
    assert.deepEqual(events, ['write', 'sync', 'write', 'write', 'sync']);
    held.shift()!();
    await third;
    assert.equal(store.durablePosition(), 3);
    assert.deepEqual(fsyncs.map((f) => f.records), [1, 2], 'the second fdatasync made both later frames durable');
    await store.close();
  });

  test('a failed fsync fails every waiting request, every later one, and calls onFatal once', async () => {
    const dir = await fresh();
    let syncs = 0;
    const failing: OpenLogFile = async (path) => {
      const file = await openLogFile(path);
      const wrapped: LogFile = {
        write: (buf, length, position) => file.write(buf, length, position),
        datasync: async () => {
          syncs += 1;
          if (syncs >= 3) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
          await file.datasync();
        },
        truncate: (length) => file.truncate(length),
        close: () => file.close(),
      };
      return wrapped;
    };
    const fatal: Error[] = [];
    const { store, machine } = await open(dir, { openFile: failing, onFatal: (error) => fatal.push(error) });
    machine.run((m) => m.leases.grant(1_000));
    await settle(store);
    machine.run((m) => m.leases.grant(1_000));
    await settle(store);
    machine.run((m) => m.leases.grant(1_000));
    const doomed = store.settled()!;
    await nextTurn();
    machine.run((m) => m.leases.grant(1_000));
    const queued = store.settled()!;
    await assert.rejects(doomed, DurabilityFailedError);
    await assert.rejects(queued, DurabilityFailedError);
    assert.equal(fatal.length, 1);
    assert.ok(store.failure instanceof DurabilityFailedError);
    assert.match(store.failure.message, /EIO/);
    // From now on nothing is durable: every request must fail, even one that logs nothing.
    machine.run((m) => m.leases.grant(1_000));
    await assert.rejects(store.settled()!, DurabilityFailedError);
    await store.close();
    assert.equal(fatal.length, 1);

    // The lock is let go; a restart recovers what was acknowledged.
    const again = await open(dir);
    assert.ok(again.machine.leases.byId.size >= 2);
    await again.store.close();
  });

  test('after close, settled() rejects: nothing more is logged', async () => {
    const dir = await fresh();
    const { store, machine } = await open(dir);
    await store.close();
    machine.run((m) => m.leases.grant(1_000));
    await assert.rejects(store.settled()!, (error: unknown) => error instanceof StoreError && error.code === 'store_closed');
  });
});

/**
 * A log file whose writes are durable when they return, as the real one (O_DSYNC),
 * and return only when the test says so, in any order.
 */
function heldDurableWrites(): {
  openFile: OpenLogFile;
  starts: number[];
  held: Map<number, () => void>;
  datasyncs: () => number;
  until(ok: () => boolean): Promise<void>;
} {
  const starts: number[] = [];
  const held = new Map<number, () => void>();
  let datasyncs = 0;
  const openFile: OpenLogFile = async (path) => {
    const file = await openLogFile(path);
    assert.equal(file.durableWrites, true, 'the log opens its files O_DSYNC');
    const held: LogFile = {
      durableWrites: true,
      write: async (buf, length, position) => {
        const index = starts.length;
        starts.push(position);
        await new Promise<void>((resolve) => heldWrites.set(index, resolve));
        await file.write(buf, length, position);
      },
      datasync: async () => {
        datasyncs += 1;
        await file.datasync();
      },
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
    return held;
  };
  const heldWrites = held;
  const until = async (ok: () => boolean): Promise<void> => {
    for (let poll = 0; poll < 5_000 && !ok(); poll++) await new Promise((resolve) => setTimeout(resolve, 1));
    assert.ok(ok(), `stuck with writes at ${starts.join(',')}`);
  };
  return { openFile, starts, held, datasyncs: () => datasyncs, until };
}

describe('group commit on durable writes (O_DSYNC)', () => {
  test('appends fill the next batch while a write runs; a full batch is written beside it; acknowledged in order', async () => {
    const dir = await fresh();
    const disk = heldDurableWrites();
    const { fsyncs, observer } = recorder();
    const { store, machine } = await open(dir, { observer, openFile: disk.openFile });
    machine.run((m) => m.leases.grant(1_000));
    const first = store.settled()!;
    await disk.until(() => disk.held.has(0));
    // While the first write runs, appends wait in the open batch: no second write for them.
    for (let i = 0; i < 5; i++) machine.run((m) => m.leases.grant(1_000));
    const second = store.settled()!;
    for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(disk.starts, [0], 'one write at a time for batches still open');
    // The first write returns: the open batch goes next, all five records in one frame.
    disk.held.get(0)!();
    await first;
    assert.equal(store.durablePosition(), 1);
    await disk.until(() => disk.held.has(1));
    disk.held.get(1)!();
    await second;
    assert.equal(store.durablePosition(), 6);
    assert.deepEqual(fsyncs.map((f) => f.records), [1, 5]);
    assert.equal(disk.datasyncs(), 0, 'no fdatasync: the writes were durable');
    await store.close();
  });

  test('a full batch is written beside a running write; if it returns first it waits for the earlier one', async () => {
    const dir = await fresh();
    const disk = heldDurableWrites();
    // Every batch full at its command's end: each goes out as soon as it may.
    const { store, machine } = await open(dir, { openFile: disk.openFile, batchBytesMax: 1 });
    machine.run((m) => m.leases.grant(1_000));
    const first = store.settled()!;
    await disk.until(() => disk.held.has(0));
    machine.run((m) => m.leases.grant(2_000));
    const second = store.settled()!;
    await disk.until(() => disk.held.has(1));
    machine.run((m) => m.leases.grant(3_000));
    for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(disk.starts.length, 2, 'two writes in flight at most');
    let secondDone = false;
    void second.then(() => (secondDone = true));
    disk.held.get(1)!();
    // The third batch is written once the second write returns and frees its slot.
    await disk.until(() => disk.starts.length === 3);
    for (let turn = 0; turn < 20; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(secondDone, false, 'a later frame on disk is not acknowledged before an earlier one');
    assert.equal(store.durablePosition(), 0);
    disk.held.get(0)!();
    await first;
    await second;
    assert.equal(store.durablePosition(), 2);
    disk.held.get(2)!();
    await settle(store);
    assert.equal(store.durablePosition(), 3);
    // The second frame was written while the first was not durable, and says so.
    const path = join(dir, (await readdir(dir)).find((f) => f.endsWith('.seg'))!);
    const frame = readFrame(await readFile(path), disk.starts[1]!);
    assert.ok(frame.ok && frame.notDurable === 1, 'the frame written ahead counts the record before it that was not durable');
    await store.close();
  });
});
