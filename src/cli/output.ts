import type { LockringClientError } from '../client/errors.js';

/** Messages for people go to stderr, prefixed; results go to stdout. */
export function say(message: string): void {
  process.stderr.write(`lockring: ${message}\n`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces; the header row first. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** `in 8.2s` / `2.1s ago` for an epoch-ms timestamp, for display only. */
export function relativeTime(epochMs: number | null, nowMs: number = Date.now()): string {
  if (epochMs === null) return 'while its session is attached';
  const deltaS = (epochMs - nowMs) / 1000;
  return deltaS >= 0 ? `in ${deltaS.toFixed(1)}s` : `${(-deltaS).toFixed(1)}s ago`;
}

/** `lock_held: lock "x" is held`; with no answer, what went wrong (`cannot reach lockring at URL: ECONNREFUSED`). */
export function describeClientError(error: LockringClientError): string {
  return error.transport ? error.message : `${error.code}: ${error.message}`;
}
