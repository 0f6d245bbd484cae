import { type ErrorCode, errorStatus, isErrorCode } from '../domain/errors.js';

/** Codes the client adds to the server's catalogue: the request never got an answer. */
export type TransportErrorCode = 'disconnected' | 'timeout' | 'closed' | 'bad_response' | 'internal';

/**
 * A failed request. `code` is the server's error code (`lock_held`, `lease_not_found`,
 * ...) with `status` and the error's details, or a transport code when no answer came.
 */
export class LockringClientError extends Error {
  override name = 'LockringClientError';

  constructor(
    readonly code: ErrorCode | TransportErrorCode,
    message: string,
    readonly status: number | null = null,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** True when the server never answered: the request may or may not have run. */
  get transport(): boolean {
    return this.status === null;
  }
}

/** Why a lock handle's signal fired. */
export type LostReason =
  /** The server said the lease expired (`lease_expired` push). */
  | 'expired'
  /** The server said the lease was revoked. */
  | 'revoked'
  /** A keepalive was answered `lease_not_found`. */
  | 'keepalive_failed'
  /** No keepalive was confirmed in time: the server may expire the lease any moment. */
  | 'deadline'
  /** `release()` was called. */
  | 'released'
  /** The client was closed while holding the lock. */
  | 'client_closed'
  /**
   * The hold reached the acquire's maxHoldMs: the server ended it (a `hold_ended`
   * push), or the local bound passed first (counted from the acquire's send).
   */
  | 'max_hold'
  /**
   * A higher-priority waiter asked the hold to yield and the grace ran out: the server
   * ended it (a `hold_ended` push), or the local end passed first (the grace from the
   * `yield_requested` push's arrival, less the safety margin).
   */
  | 'preempted';

/**
 * The `reason` of a lock handle's aborted signal. For `keepalive_failed` and
 * `deadline`, `cause` is the keepalive failure behind it (for `deadline`, the latest
 * since the last confirmed keepalive; none when the keepalives went unanswered).
 */
export class LockLostError extends Error {
  override name = 'LockLostError';

  constructor(
    readonly reason: LostReason,
    readonly lock: { readonly name: string; readonly token: number; readonly leaseId: string },
    options?: ErrorOptions,
  ) {
    super(`lock ${JSON.stringify(lock.name)} (token ${lock.token}) is no longer held: ${reason}`, options);
  }
}

export function asClientError(error: unknown): LockringClientError {
  if (error instanceof LockringClientError) return error;
  if (error instanceof Error && error.name === 'TimeoutError') return new LockringClientError('timeout', error.message);
  return new LockringClientError('disconnected', error instanceof Error ? error.message : String(error));
}

/** Builds the error for an `{error: {code, message, ...details}}` answer. */
export function serverError(body: unknown, status: number | null): LockringClientError {
  const error = (body as { error?: Record<string, unknown> } | undefined)?.error;
  if (error === undefined || typeof error['code'] !== 'string') {
    return new LockringClientError('bad_response', `unexpected answer${status === null ? '' : ` (HTTP ${status})`}`, status);
  }
  const { code, message, ...details } = error as { code: string; message?: unknown };
  const known = isErrorCode(code);
  // Over WebSocket there is no status: the catalogue gives it.
  const resolved = status ?? (known ? errorStatus[code] : 500);
  return new LockringClientError(known ? code : 'internal', String(message ?? code), resolved, details);
}
