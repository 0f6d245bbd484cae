import { LockringClient } from '../client/client.js';
import { UsageError } from './args.js';

export const defaultUrl = 'http://127.0.0.1:7420';

/**
 * The SDK client of the client commands, over HTTP only: the server (or the replicas,
 * comma-separated) is `--url`, else
 * `LOCKRING_URL`, else the default; `LOCKRING_AUTH_TOKEN`, when set, goes as a bearer
 * token (never logged).
 */
export function connect(command: string, urlFlag: string | undefined, env: NodeJS.ProcessEnv): LockringClient {
  const url = urlFlag ?? (env['LOCKRING_URL'] || defaultUrl);
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
  }
  return new LockringClient({ url, authToken: env['LOCKRING_AUTH_TOKEN'] || undefined, websocket: false });
}
