// Segments roll, snapshots bound recovery, covered segments go.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { writeSnapshot } from '../../src/store/snapshot-writer.js';
import { abandonStore } from '../../src/store/store.js';
import { digest, makeMachine, open, random, removeDir, settle, step, tempDir } from './helpers.js';

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

describe('a background snapshot shares the event loop by time', () => {
  /**
   * Writes a snapshot of `leases` leases with `options` while immediates tick; returns
   * the leases written and, each time it checks `aborted` (at every pause of the walk,
   * and once before installing), how many immediate turns had run by then.
   */
  async function pausesDuring(leases: number, options: { sliceMs: number; nowMs: () => number }): Promise<{ leases: number; turnsAtPauses: number[] }> {
    const dir = await fresh();
    const { machine } = await makeMachine();
    for (let i = 0; i < leases; i++) machine.run((m) => m.leases.grant(60_000));
    let turns = 0;
    const turnsAtPauses: number[] = [];
    let done = false;
    const written = writeSnapshot(
      { machine, lastSeq: () => 0, durableThrough: async () => {} },
      { dir, sliceItems: Number.MAX_SAFE_INTEGER, aborted: () => turnsAtPauses.push(turns) < 0, ...options },
    ).finally(() => (done = true));
    while (!done) {
      await nextTurn();
      turns += 1;
    }
    return { leases: (await written)?.leases ?? -1, turnsAtPauses };
  }

  test('a slice ends once sliceMs has passed, however few objects it wrote, and the event loop runs before the next', async () => {
    // No time bound and less than a frame of objects: the walk never pauses (the one
    // check is the one before installing).
    const untimed = await pausesDuring(1_000, { sliceMs: Infinity, nowMs: () => 0 });
    assert.equal(untimed.leases, 1_000);
    assert.equal(untimed.turnsAtPauses.length, 1);
    // A clock that moves 1 ms per look: every look (each 64 objects) ends the slice.
    let clockMs = 0;
    const timed = await pausesDuring(1_000, { sliceMs: 1, nowMs: () => (clockMs += 1) });
    assert.equal(timed.leases, 1_000);
    assert.equal(timed.turnsAtPauses.length, Math.floor(1_000 / 64) + 1);
    for (let i = 1; i < timed.turnsAtPauses.length; i++) {
      assert.ok(timed.turnsAtPauses[i]! > timed.turnsAtPauses[i - 1]!, `an immediate ran between pauses ${i - 1} and ${i}`);
    }
  });
});
