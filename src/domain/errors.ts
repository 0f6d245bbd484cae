/**
 * The error catalogue: every error a client can see, with its one HTTP status.
 * Transports (HTTP, WebSocket) render a LockringError the same way; the table in
 * docs/errors.md is checked against this object by test/domain/errors.test.ts.
 */
export const errorStatus = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  lease_not_found: 404,
  lock_not_found: 404,
  ring_not_found: 404,
  node_not_found: 404,
  lock_held: 409,
  limit_mismatch: 409,
  mode_mismatch: 409,
  not_holder: 409,
  ring_empty: 409,
  stale_ring: 409,
  version_unavailable: 409,
  payload_too_large: 413,
  limit_exceeded: 429,
  not_ready: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** Extra fields carried beside `code` and `message` in the error body. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** An expected failure, returned to the client. Bugs are assertions, not these. */
export class LockringError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'LockringError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorStatus[this.code];
  }

  /** The wire shape: `{code, message, ...details}`. */
  toBody(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(errorStatus, value);
}

export const invalid = (message: string, details: ErrorDetails = {}): LockringError =>
  new LockringError('invalid_request', message, details);

export const limitExceeded = (limit: string, max: number): LockringError =>
  new LockringError('limit_exceeded', `limit ${limit} (${max}) reached`, { limit, max });

/** No valid bearer token (auth on). The message never repeats what the client sent. */
export const unauthorized = (message: string): LockringError => new LockringError('unauthorized', message);

/** A valid token whose grants do not cover the action (or a lease of another token). */
export const forbidden = (message: string, details: ErrorDetails = {}): LockringError =>
  new LockringError('forbidden', message, details);

/** Asserts an invariant; a failure is a bug in lockring, never a client error. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`lockring invariant violated: ${message}`);
}
