/**
 * `npx tsx bench/domain-acquire.ts [--against DIR]`: the cost of a plain lock cycle in
 * the state machine alone (a try-lock with ttlMs, then its release: no transport, no
 * log), so that a change to the domain can be checked not to slow the hot path. With
 * `--against DIR` (the `src/` of another tree, e.g. `git archive` of the previous
 * commit), both machines run in this process in alternating rounds and each keeps its
 * best and median round: other processes on a shared machine only slow rounds down.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { against: { type: 'string' }, rounds: { type: 'string' }, cycles: { type: 'string' } } });
const rounds = Number(values.rounds ?? 7);
const cycles = Number(values.cycles ?? 200_000);

interface Machine {
  run<T>(command: (machine: Machine) => T): T;
  readonly locks: {
    acquire(request: { name: string; ttlMs: number }): { granted?: { token: number } };
    release(name: string, token: number): unknown;
  };
}
type MachineClass = new (options: Record<string, unknown>) => Machine;

async function load(src: string): Promise<{ make: () => Machine }> {
  const url = (path: string): string => pathToFileURL(resolve(src, path)).href;
  const { StateMachine } = (await import(url('domain/state-machine.ts'))) as { StateMachine: MachineClass };
  const { ManualClock } = (await import(url('domain/clock.ts'))) as { ManualClock: new () => unknown };
  const { makeLimits } = (await import(url('limits.ts'))) as { makeLimits: () => unknown };
  const { loadHashing } = (await import(url('xxhash.ts'))) as { loadHashing: () => Promise<unknown> };
  const hashing = await loadHashing();
  let seq = 0;
  return { make: () => new StateMachine({ clock: new ManualClock(), limits: makeLimits(), hashing, newLeaseId: () => `L${++seq}` }) };
}

/** Cycles per second of one round: `cycles` acquires and releases over 64 names. */
function round(machine: Machine): number {
  const names = Array.from({ length: 64 }, (_, i) => `bench/${i}`);
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const name = names[i & 63]!;
    const result = machine.run((m) => m.locks.acquire({ name, ttlMs: 10_000 }));
    const token = result.granted!.token;
    machine.run((m) => m.locks.release(name, token));
  }
  return cycles / ((performance.now() - started) / 1000);
}

const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!;

const contenders = [{ label: 'this tree', src: resolve('src') }];
if (values.against !== undefined) contenders.push({ label: values.against, src: resolve(values.against) });
const loaded = await Promise.all(contenders.map(async (c) => ({ ...c, ...(await load(c.src)), rates: [] as number[] })));
for (const c of loaded) round(c.make()); // warm up
for (let r = 0; r < rounds; r++) for (const c of loaded) c.rates.push(round(c.make()));
for (const c of loaded) {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`${c.label}: best ${fmt(Math.max(...c.rates))} cycles/s, median ${fmt(median(c.rates))}, worst ${fmt(Math.min(...c.rates))} (${rounds} rounds of ${cycles})`);
}
