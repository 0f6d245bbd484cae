/**
 * Field rules every transport applies the same way (names, keys, owners, query
 * strings, schema errors to `invalid_request`): part of the protocol, so HTTP,
 * WebSocket and the event stream share them without importing each other.
 */
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { LockringError, invalid } from '../domain/errors.js';
import { checkLabel, checkName } from '../domain/names.js';
import type { Limits } from '../limits.js';

interface SchemaLike {
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
}

/** Says what a schema accepts, in words a client can act on. */
function describe(schema: SchemaLike | undefined): string {
  if (schema === undefined) return 'valid';
  const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` from ${schema.minimum} to ${schema.maximum}` : '';
  switch (schema.type) {
    case 'integer':
      return `an integer${range}`;
    case 'number':
      return `a number${range}`;
    case 'string':
      if (schema.maxLength === undefined) return 'a string';
      return schema.minLength !== undefined && schema.minLength > 0
        ? `a string of ${schema.minLength} to ${schema.maxLength} characters`
        : `a string of at most ${schema.maxLength} characters`;
    case 'object':
      return 'a JSON object';
    case 'array':
      return 'an array';
    default:
      return `of type ${schema.type ?? 'unknown'}`;
  }
}

function fieldOf(context: string, path: string, child?: unknown): string {
  const parts = path.split('/').filter((part) => part !== '');
  if (typeof child === 'string') parts.push(child);
  return parts.length === 0 ? context : parts.join('.');
}

/** Turns the first Ajv error into `invalid_request` naming the field and what it accepts. */
export function validationError(errors: FastifySchemaValidationError[], context: string): LockringError {
  const error = errors[0]!;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const field = fieldOf(context, error.instancePath, params['missingProperty']);
      return invalid(`${field} is required`, { field });
    }
    case 'additionalProperties': {
      const field = fieldOf(context, error.instancePath, params['additionalProperty']);
      return invalid(`unknown field ${field}`, { field });
    }
    default: {
      const field = fieldOf(context, error.instancePath);
      const schema = (error as { parentSchema?: SchemaLike }).parentSchema;
      return invalid(`${field} must be ${describe(schema)}`, { field });
    }
  }
}

// Marks a query string that was not valid percent-encoded UTF-8; holds the field.
const badEncoding = Symbol('badEncoding');

type ParsedQuery = Record<string, string | string[]> & { [badEncoding]?: string };

function decodeQueryPart(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

const noQuery = Object.freeze(Object.create(null) as ParsedQuery);

/**
 * The router's query parser. Unlike the default it never guesses: `%ZZ` or `%FF`
 * (bad percent-encoding, invalid UTF-8) is remembered so `checkQuery` can refuse
 * the request naming the field, instead of a prefix or key silently becoming
 * something the client did not send. Null prototype: `?__proto__=` is just a key.
 */
export function parseQuery(text: string): ParsedQuery {
  // Most requests (every POST) have no query: they share one empty, frozen answer.
  if (text === '') return noQuery;
  const query = Object.create(null) as ParsedQuery;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const key = decodeQueryPart(rawKey);
    const value = decodeQueryPart(eq < 0 ? '' : part.slice(eq + 1));
    if (key === undefined || value === undefined) {
      query[badEncoding] ??= key ?? rawKey;
      continue;
    }
    const seen = query[key];
    query[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return query;
}

/** Strict query strings: only the named parameters, each at most once, well encoded. */
export function checkQuery(query: unknown, allowed: readonly string[]): Record<string, string> {
  const bad = (query as ParsedQuery | undefined)?.[badEncoding];
  if (bad !== undefined) throw invalid(`query parameter ${bad} must be valid percent-encoded UTF-8`, { field: bad });
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw invalid(`unknown query parameter ${key}`, { field: key });
    if (typeof value !== 'string') throw invalid(`query parameter ${key} must be given once`, { field: key });
    result[key] = value;
  }
  return result;
}

/** An integer query parameter in [min, max], or `fallback` when absent. */
export function queryInt(query: Record<string, string>, field: string, min: number, max: number, fallback: number): number;
export function queryInt(query: Record<string, string>, field: string, min: number, max: number): number | undefined;
export function queryInt(query: Record<string, string>, field: string, min: number, max: number, fallback?: number): number | undefined {
  const text = query[field];
  if (text === undefined) return fallback;
  const value = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer from ${min} to ${max}`, { field });
  }
  return value;
}

/** Path and body names share the same rules: 1..nameBytesMax bytes, no control characters. */
export function nameParam(field: string, value: string, limits: Limits): string {
  return checkName(field, value, limits.nameBytesMax);
}

export function ownerField(value: string | undefined, limits: Limits): string | undefined {
  return value === undefined ? undefined : checkLabel('owner', value, limits.ownerBytesMax);
}

export function keyField(field: string, key: string, limits: Limits): string {
  if (Buffer.byteLength(key, 'utf8') > limits.keyBytesMax) {
    throw invalid(`${field} must be at most ${limits.keyBytesMax} bytes of UTF-8`, { field });
  }
  return key;
}
