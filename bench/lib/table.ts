/**
 * The one table the bench prints: a row per figure, its baseline from the same run,
 * the ratio between them, the target and whether it was met.
 */

export type Status = 'pass' | 'short' | 'info' | 'skip' | 'n/a' | 'error';

/** A target on the ratio (value / baseline) or on the value itself. */
export interface Target {
  readonly on: 'ratio' | 'value';
  readonly op: '>=' | '<=' | '==';
  readonly value: number;
}

export type Unit = 'req/s' | 'ops/s' | 'cycles/s' | 'grants/s' | 'keys/s' | 'lookups/s' | 'ms' | 'us' | 'B' | '%' | 'count' | 'x';

export interface Baseline {
  readonly value: number;
  /** What the baseline is ("bare fastify", "redis ioredis"). */
  readonly label: string;
}

export interface RowInput {
  readonly metric: string;
  readonly value: number | null;
  readonly unit: Unit;
  /** Latency of the operation behind a rate, in ms. */
  readonly latency?: { readonly p50: number; readonly p99: number } | undefined;
  readonly errors?: number | undefined;
  readonly baseline?: Baseline | null | undefined;
  readonly target?: Target | undefined;
  readonly note?: string | undefined;
}

export interface Row extends RowInput {
  readonly scenario: string;
  readonly ratio: number | null;
  readonly status: Status;
}

export function makeRow(scenario: string, input: RowInput): Row {
  const baseline = input.baseline ?? null;
  const ratio = input.value !== null && baseline !== null && baseline.value > 0 ? input.value / baseline.value : null;
  return { ...input, baseline, scenario, ratio, status: judge(input.target, input.value, ratio) };
}

export function skipRow(scenario: string, metric: string, reason: string, status: Status = 'skip'): Row {
  return { scenario, metric, value: null, unit: 'count', ratio: null, status, note: reason };
}

function judge(target: Target | undefined, value: number | null, ratio: number | null): Status {
  if (target === undefined) return 'info';
  const subject = target.on === 'ratio' ? ratio : value;
  if (subject === null || Number.isNaN(subject)) return 'n/a';
  switch (target.op) {
    case '>=':
      return subject >= target.value ? 'pass' : 'short';
    case '<=':
      return subject <= target.value ? 'pass' : 'short';
    case '==':
      return subject === target.value ? 'pass' : 'short';
  }
}

export function formatNumber(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '-';
  switch (unit) {
    case 'ms':
    case 'us':
      return `${significant(value)} ${unit}`;
    case 'B':
      return `${Math.round(value).toLocaleString('en-US')} B`;
    case '%':
      return `${significant(value)} %`;
    case 'x':
      return `${significant(value)}x`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    default:
      return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  }
}

/** Three significant digits, without exponent notation. */
export function significant(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : abs >= 0.1 ? 3 : 4;
  return value.toFixed(digits);
}

function formatTarget(target: Target | undefined, unit: Unit): string {
  if (target === undefined) return '';
  const amount = target.on === 'ratio' ? `${target.value}x` : formatNumber(target.value, unit);
  return `${target.on === 'ratio' ? 'ratio ' : ''}${target.op} ${amount}`;
}

function formatLatency(row: Row): string {
  const parts: string[] = [];
  if (row.latency !== undefined) parts.push(`${significant(row.latency.p50)} / ${significant(row.latency.p99)} ms`);
  if (row.errors !== undefined) parts.push(`err ${row.errors}`);
  return parts.join(', ');
}

const headers = ['scen', 'metric', 'value', 'p50 / p99, errors', 'baseline', 'ratio', 'target', 'result'] as const;

/** Renders the rows as a fixed-width text table, notes (skips, caveats) numbered below it. */
export function renderTable(rows: readonly Row[]): string {
  const notes: string[] = [];
  const cells = rows.map((row) => {
    let metric = row.metric;
    if (row.note !== undefined) {
      notes.push(row.note);
      metric += ` [${notes.length}]`;
    }
    return [
      row.scenario,
      metric,
      row.value === null ? '-' : formatNumber(row.value, row.unit),
      formatLatency(row),
      row.baseline == null ? '' : `${formatNumber(row.baseline.value, row.unit)} (${row.baseline.label})`,
      row.ratio === null ? '' : `${significant(row.ratio)}x`,
      formatTarget(row.target, row.unit),
      row.status,
    ];
  });
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((cell) => cell[i]!.length)));
  const line = (values: readonly string[]): string =>
    values.map((value, i) => (i === 2 || i === 5 ? value.padStart(widths[i]!) : value.padEnd(widths[i]!))).join(' | ').trimEnd();
  const out = [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-')];
  let previous = '';
  for (const [index, cell] of cells.entries()) {
    if (index > 0 && cell[0] !== previous) out.push(widths.map((w) => '-'.repeat(w)).join('-+-'));
    previous = cell[0]!;
    out.push(line(cell));
  }
  if (notes.length > 0) {
    out.push('');
    notes.forEach((note, i) => out.push(`[${i + 1}] ${note}`));
  }
  return out.join('\n');
}
