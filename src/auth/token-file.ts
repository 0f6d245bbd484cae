import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Grant, type Principal, type Role, roles } from './grants.js';

/** The parsed auth file: principals indexed by the SHA-256 digest of their token. */
export interface TokenTable {
  readonly byDigest: ReadonlyMap<string, Principal>;
  readonly size: number;
}

export class AuthFileError extends Error {
  override name = 'AuthFileError';
}

const tokenBytesMin = 16;
const tokensMax = 10_000;
const grantsPerTokenMax = 100;

/**
 * Tokens are looked up by a digest of what the client sent, so the lookup's timing
 * depends on the digest, never on how many leading characters of a secret matched.
 */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function loadTokenFile(path: string): TokenTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AuthFileError(`auth file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AuthFileError(`auth file ${path}: not valid JSON (${(error as Error).message})`);
  }
  return parseTokenFile(json, path);
}

export function parseTokenFile(json: unknown, source = 'auth file'): TokenTable {
  const fail = (message: string): never => {
    throw new AuthFileError(`${source}: ${message}`);
  };
  if (!isObject(json)) return fail('must be a JSON object {"tokens": [...]}');
  checkKeys(json, ['tokens'], 'the top level', fail);
  const tokens = json['tokens'];
  if (!Array.isArray(tokens) || tokens.length === 0) return fail('tokens must be a non-empty array');
  if (tokens.length > tokensMax) return fail(`at most ${tokensMax} tokens`);
  const byDigest = new Map<string, Principal>();
  const names = new Set<string>();
  tokens.forEach((entry: unknown, index: number) => {
    const principal = parseEntry(entry, `tokens[${index}]`, fail);
    const token = (entry as Record<string, string>)['token']!;
    if (names.has(principal.name)) fail(`tokens[${index}].name ${JSON.stringify(principal.name)} is used twice`);
    const digest = tokenDigest(token);
    if (byDigest.has(digest)) fail(`tokens[${index}].token is used twice`);
    names.add(principal.name);
    byDigest.set(digest, principal);
  });
  return { byDigest, size: byDigest.size };
}

function parseEntry(entry: unknown, where: string, fail: (message: string) => never): Principal {
  if (!isObject(entry)) return fail(`${where} must be an object`);
  checkKeys(entry, ['name', 'token', 'grants'], where, fail);
  const { name, token, grants } = entry;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) fail(`${where}.name must be a string of 1 to 128 characters`);
  if (typeof token !== 'string' || Buffer.byteLength(token) < tokenBytesMin || token.length > 4096) {
    fail(`${where}.token must be a string of at least ${tokenBytesMin} bytes`);
  }
  if (!Array.isArray(grants) || grants.length === 0 || grants.length > grantsPerTokenMax) {
    fail(`${where}.grants must be an array of 1 to ${grantsPerTokenMax} grants`);
  }
  const parsed = (grants as unknown[]).map((grant, index) => parseGrant(grant, `${where}.grants[${index}]`, fail));
  return Object.freeze({ name: name as string, grants: Object.freeze(parsed) });
}

function parseGrant(grant: unknown, where: string, fail: (message: string) => never): Grant {
  if (!isObject(grant)) return fail(`${where} must be an object`);
  checkKeys(grant, ['role', 'prefix'], where, fail);
  const { role, prefix } = grant;
  if (typeof role !== 'string' || !(roles as readonly string[]).includes(role)) {
    fail(`${where}.role must be one of ${roles.join(', ')}`);
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0 || Buffer.byteLength(prefix) > 256)) {
    fail(`${where}.prefix must be a non-empty string of at most 256 bytes`);
  }
  return Object.freeze(prefix === undefined ? { role: role as Role } : { role: role as Role, prefix: prefix as string });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(value: Record<string, unknown>, allowed: readonly string[], where: string, fail: (m: string) => never): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) fail(`unknown key ${JSON.stringify(key)} in ${where}`);
}
