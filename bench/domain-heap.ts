/**
 * `node --expose-gc --import tsx bench/domain-heap.ts [count]`: heap bytes per lease and per held
 * lock in the state machine alone (no transport, no log, no metrics), to set beside
 * scenario g, which measures the same things in a running server. When the two agree,
 * the memory is in the domain's objects (leases, holds, locks, their sets and maps,
 * id and name strings, deadline slots), and that is where a flatter layout pays.
 *
 * Names and lease ids have the server's lengths and shapes (16-character names as scenario
 * g's; lease ids from the server's own source, flat 32-hex strings naming their slot:
 * a `padStart` id would be a rope of three strings, 100 B more). Each figure is the heap growth over `count` items
 * between two forced collections, divided by `count`.
 */
import { ManualClock } from '../src/domain/clock.js';
import { StateMachine } from '../src/domain/state-machine.js';
import { makeLimits } from '../src/limits.js';
import { leaseIdSource } from '../src/server.js';
import { loadHashing } from '../src/xxhash.js';

const count = Number(process.argv[2] ?? 100_000);
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with node --expose-gc --import tsx bench/domain-heap.ts');
const hashing = await loadHashing();
const roomy = count * 2;
const limits = { ...makeLimits(), leasesMax: roomy, locksMax: roomy, holdsMax: roomy, holdsPerLeaseMax: roomy };

function machine(): StateMachine {
  return new StateMachine({ clock: new ManualClock(), limits, hashing, newLeaseId: leaseIdSource() });
}

/**
 * The JavaScript heap plus array buffers: typed arrays keep their elements outside the
 * heap, and the hold table's and the deadline heap's columns are typed arrays.
 */
function used(): number {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

/**
 * Collected twice around a turn of the event loop: the backing store of an array
 * buffer that a typed array outgrew is released after the collection that finds it,
 * not always during it, and one collection alone left some runs 30-70 B high.
 */
async function settled(): Promise<number> {
  collect!();
  await new Promise((resolve) => setTimeout(resolve, 20));
  collect!();
  return used();
}

/** Bytes per item that `make(i)` keeps (heap and array buffers), for i in [0, count). */
async function perItem(make: (i: number) => void): Promise<number> {
  const before = await settled();
  for (let i = 0; i < count; i++) make(i);
  return ((await settled()) - before) / count;
}

const names = Array.from({ length: count }, (_, i) => `bench-${i.toString(36).padStart(10, '0')}`);
const leases = machine();
const lease = await perItem(() => leases.run((m) => m.leases.grant(60_000)));
const own = machine();
const ownHold = await perItem((i) => own.run((m) => m.locks.acquire({ name: names[i]!, ttlMs: 60_000 })));
const sharing = machine();
const sharedId = sharing.run((m) => m.leases.grant(60_000)).id;
const sharedHold = await perItem((i) => sharing.run((m) => m.locks.acquire({ name: names[i]!, leaseId: sharedId })));
// Keep the machines alive until every figure is taken.
if (leases.leases.byId.size + own.leases.byId.size + sharing.leases.byId.size === 0) throw new Error('nothing was kept');

const bytes = (n: number): string => `${Math.round(n)} B`;
console.log(`state machine alone, ${count.toLocaleString('en-US')} each:`);
console.log(`  lease (grant)                   ${bytes(lease)}`);
console.log(`  held lock, own lease (ttlMs)    ${bytes(ownHold)}`);
console.log(`  held lock on a shared lease     ${bytes(sharedHold)}`);
