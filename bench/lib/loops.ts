/**
 * Closed-loop load: every loop sends one unit of work, awaits it, records its
 * latency and starts the next, until the deadline. `inFlight` loops share each
 * connection, so that many requests are outstanding per connection; none is
 * batched. Used for the WebSocket client and the Redis and etcd anchors alike.
 */
import { Recorder } from './stats.js';

export interface LoopOptions<C> {
  readonly connections: readonly C[];
  /** Loops per connection. */
  readonly inFlight: number;
  readonly durationSec: number;
  /** One unit of work; returns how many requests it made. */
  readonly cycle: (connection: C, loop: number) => Promise<number>;
  /** A short code for an error (counted by code); `fatal` ends that loop. */
  readonly classify?: (error: unknown) => { code: string; fatal: boolean };
}

export interface LoopResult {
  readonly cyclesPerSec: number;
  readonly opsPerSec: number;
  readonly cycles: number;
  /** Cycle latency, ms. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly durationSec: number;
}

const defaultClassify = (error: unknown): { code: string; fatal: boolean } => ({
  code: error instanceof Error ? error.message.slice(0, 60) : String(error),
  fatal: false,
});

export async function timedLoops<C>(options: LoopOptions<C>): Promise<LoopResult> {
  const recorder = new Recorder();
  const errorCodes: Record<string, number> = {};
  const classify = options.classify ?? defaultClassify;
  let cycles = 0;
  let ops = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + options.durationSec * 1000;
  const loop = async (connection: C, index: number): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        // Not `ops += await ...`: that reads `ops` before the await and loses the other loops' counts.
        const requests = await options.cycle(connection, index);
        ops += requests;
        cycles += 1;
        recorder.add(performance.now() - t0);
      } catch (error) {
        errors += 1;
        const { code, fatal } = classify(error);
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        if (fatal) return;
      }
    }
  };
  const loops: Promise<void>[] = [];
  options.connections.forEach((connection, c) => {
    for (let k = 0; k < options.inFlight; k++) loops.push(loop(connection, c * options.inFlight + k));
  });
  await Promise.all(loops);
  const elapsedSec = (performance.now() - started) / 1000;
  const latency = recorder.summary();
  return {
    cyclesPerSec: cycles / elapsedSec,
    opsPerSec: ops / elapsedSec,
    cycles,
    p50: latency.p50,
    p99: latency.p99,
    max: latency.max,
    errors,
    errorCodes,
    durationSec: elapsedSec,
  };
}
