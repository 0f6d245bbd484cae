/**
 * `npx tsx bench/snapshot-stall.ts [leases] [rounds]`: how long a background snapshot
 * of the local log holds the event loop at a time. It logs `leases` grants into a
 * fresh data directory, then writes a snapshot the way the store does in the
 * background (in slices, yielding between them) while an immediate-driven probe
 * stands in for the expiry loop and request handling: the longest gap between two
 * probe turns is the longest an expiry or a request waited for the snapshot.
 *
 * Then it encodes the same state the way the replicated mode's active does for a
 * snapshot in etcd (the same walk, cut into 256 KiB chunks and checksummed as it goes;
 * no etcd needed) under the same probe.
 *
 * Prints, per round, each one's duration and the probe's longest and p99 gap.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { systemClock } from '../src/domain/clock.js';
import { StateMachine } from '../src/domain/state-machine.js';
import { makeLimits } from '../src/limits.js';
import { leaseIdSource } from '../src/server.js';
import { encodeState } from '../src/store/etcd/etcd-snapshot.js';
import { openStore } from '../src/store/index.js';
import { backgroundSlice } from '../src/store/state-walk.js';
import { loadHashing } from '../src/xxhash.js';

const leases = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const hashing = await loadHashing();
const limits = { ...makeLimits(), leasesMax: leases * 2 };

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Gaps between consecutive immediate turns until `stop` resolves. */
async function probe(stop: Promise<unknown>): Promise<number[]> {
  const gaps: number[] = [];
  let done = false;
  void stop.finally(() => (done = true));
  let last = performance.now();
  while (!done) {
    await new Promise((resolve) => setImmediate(resolve));
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }
  return gaps;
}

for (let round = 1; round <= rounds; round++) {
  const dir = await mkdtemp(join(tmpdir(), 'lockring-snapshot-stall-'));
  const machine = new StateMachine({ clock: systemClock, limits, hashing, newLeaseId: leaseIdSource() });
  const store = await openStore({ dataDir: dir, machine, log: pino({ level: 'silent' }), snapshotEveryRecords: Number.MAX_SAFE_INTEGER, snapshotOnClose: false });
  for (let i = 0; i < leases; i++) machine.run((m) => m.leases.grant(3_600_000));
  await store.settled();
  const started = performance.now();
  const snapshot = store.snapshot();
  const gaps = (await probe(snapshot)).sort((a, b) => a - b);
  const tookMs = performance.now() - started;
  const ms = (n: number): string => `${n.toFixed(2)} ms`;
  console.log(`round ${round}: ${leases.toLocaleString('en-US')} leases, snapshot ${ms(tookMs)}, probe turns ${gaps.length}, longest gap ${ms(gaps.at(-1) ?? 0)}, p99 gap ${ms(quantile(gaps, 0.99))}`);
  const encodeStarted = performance.now();
  const encoding = encodeState(machine, 0, () => 0, {
    chunkBytes: limits.etcdSnapshotChunkBytesMax,
    bytesMax: limits.etcdQuotaBytesMax / 4,
    walk: { ...backgroundSlice, aborted: () => false },
  });
  const encodeGaps = (await probe(encoding)).sort((a, b) => a - b);
  const encodeMs = performance.now() - encodeStarted;
  const encoded = await encoding;
  const mb = encoded !== null && 'bytes' in encoded ? (encoded.bytes / 1e6).toFixed(1) : '?';
  console.log(`round ${round}: etcd snapshot encoding, ${mb} MB, ${ms(encodeMs)}, probe turns ${encodeGaps.length}, longest gap ${ms(encodeGaps.at(-1) ?? 0)}, p99 gap ${ms(quantile(encodeGaps, 0.99))}`);
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
