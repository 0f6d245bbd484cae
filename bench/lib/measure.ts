/**
 * Measurement helpers shared by scenarios: run the same load against a server
 * child while watching its CPU, repeat in alternating rounds (lockring, baseline,
 * lockring, ...) and keep the best round of each, since a shared machine only
 * ever makes a round slower.
 */
import { type Child, assertAlive } from './processes.js';

export interface Measured<T> {
  readonly result: T;
  /** CPU of the server process, % of one core, during the measured run (not the warm-up). */
  readonly serverCpuPercent: number;
  /** CPU ms the server used during the measured run. */
  readonly serverCpuMs: number;
  /** CPU of the load generator (this process), % of one core. */
  readonly runnerCpuPercent: number;
}

/**
 * Runs `work`, which calls `start()` when its measured part begins (after any
 * warm-up), and reads the server's and this process's CPU time from there to the end.
 */
export async function measure<T>(server: Child, work: (start: () => void) => Promise<T>): Promise<Measured<T>> {
  let serverBefore = NaN;
  let started = NaN;
  let runnerBefore = process.cpuUsage();
  const start = (): void => {
    serverBefore = server.cpuMs();
    started = performance.now();
    runnerBefore = process.cpuUsage();
  };
  const value = await work(start);
  assertAlive(server);
  if (Number.isNaN(started)) throw new Error('measure: the work never called start()');
  const wallMs = performance.now() - started;
  const runner = process.cpuUsage(runnerBefore);
  const serverCpuMs = server.cpuMs() - serverBefore;
  return {
    result: value,
    serverCpuPercent: (serverCpuMs / wallMs) * 100,
    serverCpuMs,
    runnerCpuPercent: ((runner.user + runner.system) / 1000 / wallMs) * 100,
  };
}

/** Operations per second of server CPU: a rate that CPU stolen by other processes does not lower. */
export function perCpuSecond(measured: Measured<unknown>, operations: number): number {
  return measured.serverCpuMs > 0 ? operations / (measured.serverCpuMs / 1000) : NaN;
}

/** Runs `rounds` alternating rounds of each contender and returns the best of each by `score`. */
export async function alternate<T>(
  rounds: number,
  contenders: readonly { readonly name: string; run(): Promise<Measured<T>> }[],
  score: (result: T) => number,
): Promise<{ best: Map<string, Measured<T>>; all: Record<string, Measured<T>[]> }> {
  const all: Record<string, Measured<T>[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const contender of contenders) (all[contender.name] ??= []).push(await contender.run());
  }
  const best = new Map<string, Measured<T>>();
  for (const [name, results] of Object.entries(all)) {
    best.set(name, results.reduce((a, b) => (score(b.result) > score(a.result) ? b : a)));
  }
  return { best, all };
}

export function cpuNote(label: string, measured: Measured<unknown>): string {
  return `${label}: server CPU ${Math.round(measured.serverCpuPercent)}% of a core, load generator ${Math.round(measured.runnerCpuPercent)}%`;
}
