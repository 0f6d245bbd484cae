import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { scriptArgs } from '../helpers/repo-root.js';
import { describe, test } from 'node:test';
import type { StateMachine } from '../../src/domain/state-machine.js';
import { ByteReader, ByteWriter } from '../../src/store/byte-buffer.js';
import { type RecordVisitor, decodeRecord, encodeEvent } from '../../src/store/record-codec.js';
import { encodeRingHistory } from '../../src/store/ring-history-codec.js';
import { abandonStore } from '../../src/store/store.js';
import { dirsRemovedAfter, open, settle } from './helpers.js';

const fresh = dirsRemovedAfter();

/** Everything a ring's history answers for: its range of versions and the placement inputs at each. */
function historyOf(machine: StateMachine, name: string): string[] {
  const ring = machine.rings.get(name);
  const out = [`${ring.algorithm} oldest=${ring.history.oldest} current=${ring.version}`];
  for (let version = ring.history.oldest; version <= ring.version; version++) {
    const config = ring.history.configAt(version, ring.config());
    out.push(`v${version} ${config.algorithm} ${config.vnodes} ${JSON.stringify([...config.weights].sort())}`);
  }
  return out;
}

function changeRings(machine: StateMachine): void {
  machine.run((m) => m.rings.put('k', { algorithm: 'ketama' }));
  for (let i = 0; i < 6; i++) machine.run((m) => m.rings.putMember('k', `s${i}`, { weight: 1 + (i % 3) }));
  machine.run((m) => m.rings.removeMember('k', 's2'));
  for (let i = 0; i < 4; i++) machine.run((m) => m.rings.putMember('x', `n${i}`, { weight: i }));
  machine.run((m) => m.rings.put('x', { vnodes: 40 }));
  machine.run((m) => m.rings.putMember('x', 'n1', { meta: { zone: 'b' }, weight: 1 }));
}

function moreChanges(machine: StateMachine): void {
  machine.run((m) => m.rings.putMember('k', 's9', { weight: 4 }));
  machine.run((m) => m.rings.put('x', { vnodes: 160, algorithm: 'ketama' }));
  machine.run((m) => m.rings.removeMember('x', 'n3'));
}

const histories = (machine: StateMachine): string[][] => ['k', 'x'].map((ring) => historyOf(machine, ring));

/** Stops the store (a crash, or a clean close that snapshots), reopens the directory and checks every history came back. */
async function reopen(dir: string, opened: Awaited<ReturnType<typeof open>>, stop: 'crash' | 'close') {
  const expected = histories(opened.machine);
  if (stop === 'crash') {
    await settle(opened.store);
    await abandonStore(opened.store);
  } else {
    await opened.store.close();
  }
  const again = await open(dir);
  assert.deepEqual(histories(again.machine), expected);
  return again;
}

describe('ring history and algorithm across restarts', () => {
  test('a crash (no snapshot) rebuilds history and algorithm from the log', async () => {
    const dir = await fresh();
    const opened = await open(dir);
    changeRings(opened.machine);
    const again = await reopen(dir, opened, 'crash');
    assert.equal(again.store.recovery.snapshotLoaded, false);
    assert.equal(again.machine.rings.get('k').algorithm, 'ketama');
    await again.store.close();
  });

  test('a clean stop (snapshot, nothing to replay) keeps history and algorithm', async () => {
    const dir = await fresh();
    const opened = await open(dir);
    changeRings(opened.machine);
    const fingerprint = opened.machine.rings.get('k').fingerprint();
    const again = await reopen(dir, opened, 'close');
    assert.equal(again.store.recovery.snapshotLoaded, true);
    assert.equal(again.store.recovery.records, 0);
    assert.equal(again.machine.rings.get('k').fingerprint(), fingerprint);
    await again.store.close();
  });

  test('a snapshot followed by more changes and a crash joins the snapshot\'s history to the replayed steps', async () => {
    const dir = await fresh();
    const opened = await open(dir);
    changeRings(opened.machine);
    await settle(opened.store);
    await opened.store.snapshot();
    moreChanges(opened.machine);
    const again = await reopen(dir, opened, 'crash');
    assert.equal(again.store.recovery.snapshotLoaded, true);
    assert.ok(again.store.recovery.records > 0);
    // The diff across the snapshot boundary answers as before the crash.
    const diff = again.machine.rings.diff('x', { from: 2, to: again.machine.rings.get('x').version, n: 2, start: 0, limit: 100_000 });
    const before = opened.machine.rings.diff('x', { from: 2, to: opened.machine.rings.get('x').version, n: 2, start: 0, limit: 100_000 });
    assert.deepEqual(diff, before);
    await again.store.close();
  });

  test('a ketama ring logs its algorithm; a default ring logs the record it always did', () => {
    const out = new ByteWriter(64);
    encodeEvent(out, { type: 'ring_configured', ring: 'k', vnodes: 160, version: 3, algorithm: 'ketama' });
    encodeEvent(out, { type: 'ring_configured', ring: 'x', vnodes: 10, version: 1 });
    encodeRingHistory(out, 'k', {
      oldest: 1,
      changes: [
        { version: 2, kind: 'member', node: 'ключ', before: null, after: 2.5 },
        { version: 3, kind: 'shape', before: { algorithm: 'xxhash', vnodes: 40 }, after: { algorithm: 'ketama', vnodes: 160 } },
      ],
    });
    const seen: unknown[][] = [];
    const visitor = new Proxy({} as RecordVisitor, { get: (_, method: string) => (...args: unknown[]) => seen.push([method, ...args]) });
    const input = new ByteReader(out.buf, 0, out.pos);
    const types: number[] = [];
    while (!input.done) types.push(decodeRecord(input, visitor));
    assert.deepEqual(types, [14, 5, 15]);
    assert.deepEqual(seen, [
      ['ringConfigured', 'k', 160, 3, 'ketama'],
      ['ringConfigured', 'x', 10, 1, 'xxhash'],
      [
        'ringHistory',
        'k',
        {
          oldest: 1,
          changes: [
            { version: 2, kind: 'member', node: 'ключ', before: null, after: 2.5 },
            { version: 3, kind: 'shape', before: { algorithm: 'xxhash', vnodes: 40 }, after: { algorithm: 'ketama', vnodes: 160 } },
          ],
        },
      ],
    ]);
  });
});

const fixture = scriptArgs(new URL('./fixtures/ring-writer.js', import.meta.url));

/** Runs the ring writer until it has acknowledged `count` versions, then SIGKILLs it; returns each acknowledged line by ring and version. */
async function writeThenKill(dir: string, seed: number, count: number): Promise<Map<string, string>> {
  const child = spawn(process.execPath, [...fixture, dir, String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acknowledged = new Map<string, string>();
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`ring writer exited (${code ?? signal})`))));
    lines.on('line', (line) => {
      const { ring, version } = JSON.parse(line) as { ring: string; version: number };
      acknowledged.set(`${ring} ${version}`, line);
      if (acknowledged.size === count) child.kill('SIGKILL');
    });
  });
  return acknowledged;
}

test('kill -9 while rings change, roll segments and snapshot: every acknowledged version is still answered as it was', { timeout: 120_000 }, async () => {
  const dir = await fresh();
  const acknowledged = await writeThenKill(dir, 7, 700);
  const { store, machine } = await open(dir);
  assert.equal(store.recovery.snapshotLoaded, true, 'the writer snapshots every 200 records');
  for (const name of ['kx', 'plain']) {
    const ring = machine.rings.get(name);
    const kept = Math.min(ring.version - 1, machine.limits.ringHistoryVersionsMax);
    assert.equal(ring.history.oldest, ring.version - kept, `${name}: history shorter than the limit`);
  }
  let checked = 0;
  for (const line of acknowledged.values()) {
    const { ring: name, version, algorithm, vnodes, weights } = JSON.parse(line) as {
      ring: string;
      version: number;
      algorithm: string;
      vnodes: number;
      weights: [string, number][];
    };
    const ring = machine.rings.get(name);
    if (version < ring.history.oldest) continue;
    const config = ring.history.configAt(version, ring.config());
    assert.deepEqual(
      { algorithm: config.algorithm, vnodes: config.vnodes, weights: [...config.weights].sort(([a], [b]) => (a < b ? -1 : 1)) },
      { algorithm, vnodes, weights },
      `${name} v${version}`,
    );
    checked += 1;
  }
  assert.ok(checked >= 600, `checked ${checked} acknowledged versions`);
  await store.close();
});
