/**
 * Human units for the command line and the config file: durations (`500ms`, `10s`,
 * `2m`, `1h30m`) and byte sizes (`64KiB`). Everything inside lockring is integer
 * milliseconds and bytes; these only translate at the edge.
 */

const durationUnitsMs: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const durationPart = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/**
 * Parses `10s`, `500ms`, `2m`, `1h30m`, `1.5s` into integer milliseconds. A unit is
 * required (a bare `10` could mean seconds or milliseconds). Returns null when the
 * text is not a duration or does not come to a whole number of milliseconds.
 */
export function parseDuration(text: string): number | null {
  if (text === '') return null;
  durationPart.lastIndex = 0;
  let totalMs = 0;
  let end = 0;
  for (let match = durationPart.exec(text); match !== null; match = durationPart.exec(text)) {
    totalMs += Number(match[1]) * durationUnitsMs[match[2]!]!;
    end = durationPart.lastIndex;
  }
  if (end !== text.length) return null;
  // 1.5s is fine; 1.5ms is not a whole millisecond.
  const rounded = Math.round(totalMs);
  if (Math.abs(totalMs - rounded) > 1e-9 || !Number.isSafeInteger(rounded)) return null;
  return rounded;
}

/** `90000` -> `1m30s`; `1500` -> `1.5s`; `250` -> `250ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1_000}s`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(rest % 1_000 === 0 ? `${rest / 1_000}s` : `${rest}ms`);
  return parts.join('');
}

const byteUnits: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** Parses `65536`, `64KiB`, `12MiB` into bytes; null when malformed. */
export function parseBytes(text: string): number | null {
  const match = /^(\d+)(B|KiB|MiB|GiB)?$/.exec(text);
  if (match === null) return null;
  const bytes = Number(match[1]) * byteUnits[match[2] ?? '']!;
  return Number.isSafeInteger(bytes) ? bytes : null;
}
