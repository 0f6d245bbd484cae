import { UsageError } from './args.js';

export const defaultUrl = 'http://127.0.0.1:7420';

/** The contract's error body: `{code, message, ...details}`. */
export interface ApiError {
  readonly code: string;
  readonly message: string;
  readonly [detail: string]: unknown;
}

export type ApiResponse<T> =
  | { readonly ok: true; readonly status: number; readonly body: T }
  | { readonly ok: false; readonly status: number; readonly error: ApiError };

/** The server could not be reached, or answered something that is not lockring. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

/**
 * A thin fetch wrapper over the HTTP API for the client commands: finds the
 * server by `--url`, `LOCKRING_URL` or the default, and sends `LOCKRING_AUTH_TOKEN`
 * as a bearer token when set. Never logs the token.
 */
export class ApiClient {
  readonly baseUrl: string;

  constructor(
    url: string,
    private readonly authToken: string | undefined,
  ) {
    this.baseUrl = url.replace(/\/+$/, '');
  }

  static fromOptions(command: string, urlFlag: string | undefined, env: NodeJS.ProcessEnv): ApiClient {
    const url = urlFlag ?? (env['LOCKRING_URL'] || defaultUrl);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url: not a URL: ${JSON.stringify(url)}`, command);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new UsageError(`--url: expected http:// or https://, got ${JSON.stringify(url)}`, command);
    }
    return new ApiClient(url, env['LOCKRING_AUTH_TOKEN'] || undefined);
  }

  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.authToken !== undefined) headers['authorization'] = `Bearer ${this.authToken}`;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ?? null,
      });
    } catch (error) {
      if (signal?.aborted === true) throw error;
      throw new ConnectionError(`cannot reach lockring at ${this.baseUrl}: ${describeFetchError(error)}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ConnectionError(`${method} ${this.baseUrl}${path}: HTTP ${response.status} with a body that is not JSON`);
    }
    if (response.ok) return { ok: true, status: response.status, body: parsed as T };
    const error = (parsed as { error?: ApiError }).error;
    if (error === undefined || typeof error.code !== 'string') {
      throw new ConnectionError(`${method} ${this.baseUrl}${path}: HTTP ${response.status} without a lockring error body`);
    }
    return { ok: false, status: response.status, error };
  }
}

/** Names lockring paths: every name is one percent-encoded segment (`/` as `%2F`). */
export function segment(name: string): string {
  return encodeURIComponent(name);
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** `lock_held: lock "x" is held` */
export function describeApiError(error: ApiError): string {
  return `${error.code}: ${error.message}`;
}
