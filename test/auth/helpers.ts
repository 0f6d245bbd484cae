/**
 * Helpers for auth tests: an auth file in a temporary directory, a lockring with it
 * listening on 127.0.0.1 port 0, and HTTP calls that carry a bearer token.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { Logger } from 'pino';
import { type Config, makeConfig } from '../../src/config.js';

type Settings = Omit<Config, 'limits'>;
import type { Limits } from '../../src/limits.js';
import { type Lockring, buildServer } from '../../src/server.js';

/** Tokens are at least 16 bytes; these are easy to tell apart in a failure. */
export const tokens = {
  teamA: 'team-a-secret-0123456789',
  teamB: 'team-b-secret-0123456789',
  ops: 'ops-secret-0123456789abc',
  reader: 'reader-secret-0123456789',
  root: 'root-secret-0123456789ab',
  aRings: 'a-rings-secret-012345678',
} as const;

export type TokenKey = keyof typeof tokens;

export const authFileJson = {
  tokens: [
    { name: 'team-a', token: tokens.teamA, grants: [{ role: 'lock', prefix: 'a/' }, { role: 'read', prefix: 'shared/' }] },
    { name: 'team-b', token: tokens.teamB, grants: [{ role: 'lock', prefix: 'b/' }] },
    { name: 'ops', token: tokens.ops, grants: [{ role: 'ring-admin' }] },
    { name: 'reader', token: tokens.reader, grants: [{ role: 'read' }] },
    { name: 'root', token: tokens.root, grants: [{ role: 'admin' }] },
    { name: 'a-rings', token: tokens.aRings, grants: [{ role: 'ring-admin', prefix: 'a-' }] },
  ],
};

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lockring-auth-'));
  dirs.push(dir);
  return dir;
}

/** Writes `json` as an auth file (mode 0600) and returns its path. */
export function writeAuthFile(json: unknown = authFileJson, dir = tempDir()): string {
  const path = join(dir, 'tokens.json');
  writeFileSync(path, JSON.stringify(json), { mode: 0o600 });
  return path;
}

export interface AuthServer {
  readonly lockring: Lockring;
  readonly base: string;
  readonly wsUrl: string;
  readonly port: number;
  /** A JSON call with `Authorization: Bearer <token>` when `token` is given. */
  http(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export interface AuthServerOptions {
  readonly limits?: Partial<Limits>;
  /** Settings over the defaults (an auth file is written unless authFile is given, null: no auth). */
  readonly settings?: Partial<Settings>;
  readonly logger?: Logger;
  readonly scheme?: 'http' | 'https';
}

export async function startAuthServer(options: AuthServerOptions = {}): Promise<AuthServer> {
  const settings = options.settings ?? {};
  const authFile = 'authFile' in settings ? settings.authFile : writeAuthFile();
  const config = makeConfig({ logLevel: 'silent', dataDir: null, port: 0, ...settings, authFile: authFile ?? null, limits: options.limits ?? {} });
  const lockring = await buildServer(config, options.logger === undefined ? {} : { logger: options.logger });
  await lockring.app.listen({ host: '127.0.0.1', port: 0 });
  await lockring.start();
  const { port } = lockring.app.server.address() as AddressInfo;
  const scheme = options.scheme ?? 'http';
  const base = `${scheme}://127.0.0.1:${port}`;
  return {
    lockring,
    base,
    port,
    wsUrl: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}/v1/ws`,
    async http(method, path, body, token) {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON (metrics): the text as it is.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      const cut = setTimeout(() => lockring.app.server.closeAllConnections(), 300);
      try {
        await lockring.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

export const bearer = (token: string): { headers: { authorization: string } } => ({ headers: { authorization: `Bearer ${token}` } });

/** The value of one series of a metric in Prometheus text, or 0 when absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
