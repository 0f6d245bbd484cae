/**
 * g. Memory per hold. A child process (node --expose-gc) builds lockring with the
 * server's own `buildServer` (so the state machine has the real clock, lease ids and
 * subscribers the server wires; it does not listen), collects garbage, reads
 * process.memoryUsage(), creates N holds through the machine's one door, collects
 * again and reads again. The difference
 * divided by N is what one more hold costs: names, lease ids and every index
 * included. Three kinds, each at 100,000 and 1,000,000:
 *
 * - held lock with its own lease (acquire with ttlMs: lock + hold + lease), the
 *   common HTTP case;
 * - held lock on a shared lease (acquire with leaseId: lock + hold);
 * - lease alone (grant).
 */
import { makeConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/logger.js';
import { buildServer } from '../../src/server.js';
import type { Scenario } from '../lib/scenario.js';
import { reportResult, runJsonChild } from '../lib/servers.js';

type Kind = 'lock-own-lease' | 'lock-shared-lease' | 'lease';

/** `targetBytes`: the most heap a held lock may cost (the lean-core goal); null: information only. */
const kinds: readonly { kind: Kind; label: string; targetBytes: number | null }[] = [
  { kind: 'lock-own-lease', label: 'held lock, own lease (acquire ttlMs)', targetBytes: 300 },
  { kind: 'lock-shared-lease', label: 'held lock on a shared lease', targetBytes: 150 },
  { kind: 'lease', label: 'lease (grant)', targetBytes: null },
];

interface MemoryResult {
  readonly kind: Kind;
  readonly count: number;
  readonly heapBytesPerItem: number;
  readonly rssBytesPerItem: number;
  readonly externalBytesPerItem: number;
  readonly arrayBufferBytesPerItem: number;
  readonly createMs: number;
}

const ttlMs = 3_600_000;

async function childMain(): Promise<void> {
  const kind = process.env['BENCH_KIND'] as Kind;
  const count = Number(process.env['BENCH_COUNT']);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const config = makeConfig({ dataDir: null, logLevel: 'silent', limits: { leasesMax: count + 10, locksMax: count + 10, holdsMax: count + 10, holdsPerLeaseMax: count + 10 } });
  const lockring = await buildServer(config, { logger: createLogger('silent') });
  const machine = lockring.machine;
  const shared = machine.run((m) => m.leases.grant(ttlMs)).id;
  // Collected around a turn of the event loop: an outgrown typed array's backing store
  // is released after the collection that finds it, not always during it.
  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    for (let i = 0; i < 3; i++) gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    return process.memoryUsage();
  };
  const before = await settle();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const name = `lock/${i}`;
    switch (kind) {
      case 'lock-own-lease':
        machine.run((m) => m.locks.acquire({ name, ttlMs }));
        break;
      case 'lock-shared-lease':
        machine.run((m) => m.locks.acquire({ name, leaseId: shared }));
        break;
      case 'lease':
        machine.run((m) => m.leases.grant(ttlMs));
        break;
    }
  }
  const createMs = performance.now() - started;
  // Let subscribers that defer work to a microtask (WebSocket pushes) drain, as they
  // do after every request in the server, before measuring.
  await new Promise((resolve) => setImmediate(resolve));
  const after = await settle();
  const held = kind === 'lease' ? machine.leases.byId.size - 1 : machine.locks.holdCount;
  if (held !== count) throw new Error(`expected ${count} held, found ${held}`);
  reportResult({
    kind,
    count,
    heapBytesPerItem: (after.heapUsed - before.heapUsed) / count,
    rssBytesPerItem: (after.rss - before.rss) / count,
    externalBytesPerItem: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / count,
    arrayBufferBytesPerItem: (after.arrayBuffers - before.arrayBuffers) / count,
    createMs,
  } satisfies MemoryResult);
}

export const memory: Scenario = {
  id: 'g',
  title: 'Memory per held lock and per lease at 100,000 and 1,000,000',
  async run(ctx) {
    for (const { kind, label, targetBytes } of kinds) {
      // --quick measures 100,000 only (per-hold figures barely move between the two sizes).
      const counts = ctx.quick ? [100_000] : [100_000, 1_000_000];
      for (const count of counts) {
        const result = await runJsonChild<MemoryResult>(
          `memory-${kind}-${count}`,
          'bench/scenarios/g-memory.ts',
          { BENCH_CHILD: 'g', BENCH_KIND: kind, BENCH_COUNT: String(count) },
          { nodeFlags: ['--expose-gc', '--max-old-space-size=8192'], timeoutMs: 300_000 },
        );
        ctx.raw(`${kind} ${count}`, result);
        // Typed arrays keep their elements outside the JavaScript heap (array buffers): the
        // hold table and the deadline heap live there, so they count with the heap.
        ctx.row({
          metric: `heap + array buffers per ${label}, ${count.toLocaleString('en-US')}`,
          value: result.heapBytesPerItem + result.arrayBufferBytesPerItem,
          unit: 'B',
          ...(targetBytes === null ? {} : { target: { on: 'value' as const, op: '<=' as const, value: targetBytes } }),
        });
        ctx.row({ metric: `RSS per ${label}, ${count.toLocaleString('en-US')}`, value: result.rssBytesPerItem, unit: 'B' });
      }
    }
  },
};

if (process.env['BENCH_CHILD'] === 'g') {
  childMain().catch((error: unknown) => {
    process.stderr.write(`g-memory child: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
