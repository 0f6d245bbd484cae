/**
 * What a scenario is and what it is handed: its time budget (quick or full), a
 * way to add rows to the table and raw figures to the JSON, and the anchor
 * figures (Redis, etcd) measured earlier in the same run.
 */
import { type Baseline, type Row, type RowInput, makeRow, skipRow } from './table.js';

export type AnchorId = 'redis' | 'etcd';

/** Figures the anchors publish for scenarios to compare against. */
export const anchorKeys = {
  redisCycles1: 'redis.ioredis.cycles.50x1',
  redisCycles16: 'redis.ioredis.cycles.50x16',
  etcdCycles: 'etcd.etcd3.cycles.50',
} as const;

export interface ScenarioContext {
  readonly quick: boolean;
  /** Measurement seconds for this mode. */
  seconds(full: number, quick: number): number;
  /** A count for this mode. */
  count(full: number, quick: number): number;
  row(input: RowInput): void;
  /** A row that could not be measured, with the reason (shown as a note). */
  skip(metric: string, reason: string): void;
  /** Raw figures for bench/results/*.json. */
  raw(key: string, value: unknown): void;
  /** An anchor figure from this run, or null when that anchor did not run. */
  anchor(key: string): Baseline | null;
  /** Why an anchor figure is missing, for notes. */
  anchorMissing(key: string): string;
  setAnchor(key: string, baseline: Baseline): void;
  /** Progress on stderr (the table goes to stdout). */
  log(message: string): void;
}

export interface Scenario {
  /** Letter (a..h) or anchor id; what `--only` takes. */
  readonly id: string;
  readonly title: string;
  /** Anchors whose figures this scenario compares against (run first when selected). */
  readonly needs?: readonly AnchorId[];
  run(ctx: ScenarioContext): Promise<void>;
}

export interface RunState {
  readonly rows: Row[];
  readonly raw: Record<string, Record<string, unknown>>;
  readonly anchors: Map<string, Baseline>;
  readonly anchorNotes: Map<string, string>;
}

export function makeContext(scenario: Scenario, state: RunState, quick: boolean): ScenarioContext {
  const raw = (state.raw[scenario.id] ??= {});
  return {
    quick,
    seconds: (full, quickSec) => (quick ? quickSec : full),
    count: (full, quickCount) => (quick ? quickCount : full),
    row: (input) => state.rows.push(makeRow(scenario.id, input)),
    skip: (metric, reason) => state.rows.push(skipRow(scenario.id, metric, reason)),
    raw: (key, value) => {
      raw[key] = value;
    },
    anchor: (key) => state.anchors.get(key) ?? null,
    anchorMissing: (key) => state.anchorNotes.get(key.split('.')[0]!) ?? `anchor ${key.split('.')[0]} did not report ${key}`,
    setAnchor: (key, baseline) => {
      state.anchors.set(key, baseline);
    },
    log: (message) => process.stderr.write(`  [${scenario.id}] ${message}\n`),
  };
}
