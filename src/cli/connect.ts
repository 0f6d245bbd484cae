import { readFileSync } from 'node:fs';
import { LockringClient } from '../client/client.js';
import type { ClientTls } from '../client/tls-options.js';
import { UsageError, durationFlag } from './args.js';

export const defaultUrl = 'http://127.0.0.1:7420';

/** The options every client command takes (spread into its own). */
export const connectionOptions = {
  url: { type: 'string' },
  timeout: { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ConnectionValues {
  readonly url?: string | undefined;
  readonly timeout?: string | undefined;
  readonly cacert?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** How long a request may go unanswered unless --timeout says otherwise. */
export const requestTimeoutMsDefault = 10_000;
const requestTimeoutMsMax = 3_600_000;

/**
 * The SDK client of a client command: the server (or the replicas, comma-separated)
 * is `--url`, else `LOCKRING_URL`,
 * else the default; `LOCKRING_AUTH_TOKEN`, when set, goes as a bearer token (never
 * logged); TLS files from `--cacert/--cert/--key`, else `LOCKRING_CACERT/_CERT/_KEY`.
 * HTTP only unless `websocket` (lost-lock notices, one queue position, watches).
 */
export function connect(command: string, values: ConnectionValues, env: NodeJS.ProcessEnv, websocket = false): LockringClient {
  const url = values.url ?? (env['LOCKRING_URL'] || defaultUrl);
  const tls = tlsFiles(command, values, env);
  // Several replicas (replicated mode) are comma-separated; the client follows the active.
  for (const one of url.split(',')) {
    let parsed: URL;
    try {
      parsed = new URL(one.trim());
    } catch {
      throw new UsageError(`--url: not a URL: ${JSON.stringify(one)}`, command);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UsageError(`--url: expected http:// or https://, got ${JSON.stringify(one)}`, command);
    }
    if (tls !== undefined && parsed.protocol !== 'https:') throw new UsageError('--cacert, --cert and --key need an https:// --url', command);
  }
  return new LockringClient({
    url,
    authToken: env['LOCKRING_AUTH_TOKEN'] || undefined,
    websocket,
    // A command's own lease (or none) is all it needs: no session lease.
    sessionTtlMs: 0,
    requestTimeoutMs: durationFlag(command, 'timeout', values.timeout, requestTimeoutMsDefault, 100, requestTimeoutMsMax),
    ...(tls !== undefined ? { tls } : {}),
  });
}

function tlsFiles(command: string, values: ConnectionValues, env: NodeJS.ProcessEnv): ClientTls | undefined {
  const read = (flag: 'cacert' | 'cert' | 'key'): Buffer | undefined => {
    const path = values[flag] ?? (env[`LOCKRING_${flag.toUpperCase()}`] || undefined);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new UsageError(`--${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, command);
    }
  };
  const ca = read('cacert');
  const cert = read('cert');
  const key = read('key');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--cert and --key go together (the client certificate and its key)', command);
  if (ca === undefined && cert === undefined) return undefined;
  return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}) };
}
