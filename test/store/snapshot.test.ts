// Segments roll, snapshots bound recovery, covered segments go.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { abandonStore } from '../../src/store/store.js';
import { digest, open, random, removeDir, settle, step, tempDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});
async function fresh(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

async function files(dir: string, suffix: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(suffix)).sort();
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('segments and snapshots', () => {
  test('segments roll at segmentBytesMax; a snapshot deletes the segments it covers', async () => {
    const dir = await fresh();
    const opened = await open(dir, { segmentBytesMax: 1024, snapshotEveryRecords: 1_000_000 });
    const rand = random(1);
    for (let i = 0; i < 400; i++) {
      step(opened, rand);
      if (i % 10 === 0) await settle(opened.store);
    }
    await settle(opened.store);
    const rolled = await files(dir, '.seg');
    assert.ok(rolled.length > 5, `expected the log to roll, got ${rolled.length} segment(s)`);

    await opened.store.snapshot();
    const snapshots = await files(dir, '.snap');
    assert.equal(snapshots.length, 1);
    const kept = await files(dir, '.seg');
    assert.ok(kept.length <= 1, `covered segments should go, ${kept.length} left`);
    assert.ok(kept.every((name) => rolled.includes(name) || name > rolled[rolled.length - 1]!));

    for (let i = 0; i < 100; i++) step(opened, rand);
    const expected = digest(opened.machine);
    await settle(opened.store);
    await abandonStore(opened.store);

    const again = await open(dir, { segmentBytesMax: 1024 });
    assert.equal(again.store.recovery.snapshotLoaded, true);
    assert.ok(again.store.recovery.records < 300, `replayed ${again.store.recovery.records} records after the snapshot`);
    assert.deepEqual(digest(again.machine), expected);
    await again.store.close();
  });

  test('snapshots start by themselves every snapshotEveryRecords records', async () => {
    const dir = await fresh();
    const opened = await open(dir, { segmentBytesMax: 2048, snapshotEveryRecords: 100 });
    const rand = random(2);
    for (let i = 0; i < 600; i++) {
      step(opened, rand);
      if (i % 20 === 0) await settle(opened.store);
    }
    await settle(opened.store);
    // The cadence started snapshots on its own; wait for one to be installed.
    for (let i = 0; i < 200 && (await files(dir, '.snap')).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok((await files(dir, '.snap')).length >= 1, 'a snapshot was written without being asked');
    // Joins the one running, if any; afterwards exactly one snapshot is left.
    await opened.store.snapshot();
    assert.equal((await files(dir, '.snap')).length, 1);
    assert.equal((await files(dir, '.tmp')).length, 0);
    const expected = digest(opened.machine);
    await abandonStore(opened.store);
    const again = await open(dir);
    assert.equal(again.store.recovery.snapshotLoaded, true);
    assert.deepEqual(digest(again.machine), expected);
    await again.store.close();
  });

  for (const seed of [3, 4, 5, 6, 7, 8]) {
    test(`a fuzzy snapshot taken while the state changes recovers exactly (seed ${seed})`, async () => {
      const dir = await fresh();
      const opened = await open(dir, { snapshotSliceItems: 2, segmentBytesMax: 4096 });
      const rand = random(seed);
      for (let i = 0; i < 300; i++) step(opened, rand);
      await settle(opened.store);
      // The snapshot walks two objects per turn; every turn in between changes things.
      let done = false;
      const snapshot = opened.store.snapshot().then(() => {
        done = true;
      });
      let turns = 0;
      while (!done) {
        for (let i = 0; i < 3; i++) step(opened, rand);
        await nextTurn();
        turns += 1;
      }
      await snapshot;
      assert.ok(turns > 10, `the snapshot should interleave with changes (${turns} turns)`);
      for (let i = 0; i < 50; i++) step(opened, rand);
      const expected = digest(opened.machine);
      await settle(opened.store);
      await abandonStore(opened.store);

      const again = await open(dir);
      assert.equal(again.store.recovery.snapshotLoaded, true);
      assert.deepEqual(digest(again.machine), expected);
      // And through a clean close (a snapshot with nothing after it).
      await again.store.close();
      const third = await open(dir);
      assert.equal(third.store.recovery.records, 0);
      assert.deepEqual(digest(third.machine), expected);
      await third.store.close();
    });
  }
});
