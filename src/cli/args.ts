import { parseArgs, type ParseArgsConfig } from 'node:util';
import { suggest } from '../config.js';
import { parseDuration } from '../units.js';

/** A command line that cannot be run as given: the message, then exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command whose `--help` explains it, e.g. `lock` or `ring lookup`. */
    readonly command: string | null = null,
  ) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
export type ParsedArgs<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>>;

/**
 * node:util parseArgs, strict, with its errors turned into UsageError naming the
 * command. Positionals are allowed; callers check how many they got.
 */
export function parseCommandArgs<T extends Options>(command: string, args: string[], options: T): ParsedArgs<T> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error, Object.keys(options)), command);
  }
}

function describeParseError(error: unknown, known: string[]): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(message)?.[1];
    return option !== undefined ? `unknown option ${option}${suggest(option, known.map((k) => `--${k}`))}` : message;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = /'(-[^']+)'/.exec(message)?.[1];
    return option !== undefined ? `option ${option.replace(/^-\w, /, '')} needs a value` : message;
  }
  return message;
}

/** Splits `lockring lock NAME --ttl 10s -- CMD ARGS` at the first `--`. */
export function splitAtDoubleDash(args: string[]): { before: string[]; after: string[] | null } {
  const index = args.indexOf('--');
  return index < 0 ? { before: args, after: null } : { before: args.slice(0, index), after: args.slice(index + 1) };
}

/** A duration flag (`10s`, `500ms`, `2m`) within [minMs, maxMs]. */
export function durationFlag(command: string, flag: string, text: string | undefined, fallbackMs: number, minMs: number, maxMs: number): number {
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === null) throw new UsageError(`--${flag}: expected a duration with a unit (500ms, 10s, 2m), got ${JSON.stringify(text)}`, command);
  if (ms < minMs || ms > maxMs) throw new UsageError(`--${flag}: must be from ${minMs} ms to ${maxMs} ms, got ${ms} ms`, command);
  return ms;
}

/** An integer flag within [min, max]. */
export function integerFlag(command: string, flag: string, text: string | undefined, fallback: number | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return fallback;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`--${flag}: expected an integer, got ${JSON.stringify(text)}`, command);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError(`--${flag}: must be from ${min} to ${max}, got ${value}`, command);
  return value;
}

/** `--mode read|write`, or undefined when not given (the server's default: write). */
export function modeFlag(command: string, text: string | undefined): 'read' | 'write' | undefined {
  if (text === undefined || text === 'read' || text === 'write') return text;
  throw new UsageError(`--mode: expected read or write, got ${JSON.stringify(text)}`, command);
}

/** Exactly `names.length` positionals, named in the error. */
export function takePositionals(command: string, positionals: string[], names: readonly string[]): string[] {
  if (positionals.length < names.length) throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`, command);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`, command);
  return positionals;
}
