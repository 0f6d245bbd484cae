import { errorStatus as domainErrorStatus } from '../domain/errors.js';

/**
 * The error catalogue as a client sees it: every code, its one HTTP status and what
 * it means. The domain raises all of them but `internal`, which only the transports
 * send (a bug in lockring, never details). Over WebSocket the code is sent, not the
 * status. docs/errors.md and docs/api.md are checked against this table.
 */
export const errorStatus = { ...domainErrorStatus, internal: 500 } as const;

export type WireErrorCode = keyof typeof errorStatus;

export const errorMeaning: Readonly<Record<WireErrorCode, string>> = {
  invalid_request: 'The body, path, query or frame breaks the rules: unknown field, wrong type, out of range, bad name.',
  unauthorized: 'Auth is configured and the request carries no valid bearer token.',
  forbidden: 'The token may not do this, or the Origin or Host header is not allowed.',
  not_found: 'No such route.',
  lease_not_found: 'The lease does not exist, has expired or was revoked.',
  lock_not_found: 'The name has no holders, no waiters and no running lock-delay.',
  ring_not_found: 'No ring of that name.',
  node_not_found: 'The ring has no member of that id.',
  lock_held: 'Every permit is taken (or a lock-delay runs) and the wait, if any, timed out.',
  limit_mismatch: 'An explicit limit differs from the live name\'s.',
  mode_mismatch: 'A read-mode acquire on a semaphore (a name whose limit is above 1): only a lock (limit 1) has readers.',
  not_holder: 'The token does not hold the name; reason says why.',
  ring_empty: 'The ring has no member of weight above 0.',
  stale_ring: 'The lookup named a version that is not the ring\'s current one.',
  version_unavailable: 'A diff or handover lookup named a ring version the server no longer keeps, or never had.',
  payload_too_large: 'The body is over its byte limit, or a batch has too many keys.',
  limit_exceeded: 'A bounded collection or a rate limit is full; limit names it.',
  not_ready: 'The server is recovering its state or shutting down.',
  internal: 'A bug in lockring; logged, answered without internals.',
};

/** Codes by status, in catalogue order (one OpenAPI response per status). */
export function codesByStatus(codes: readonly WireErrorCode[]): Map<number, WireErrorCode[]> {
  const byStatus = new Map<number, WireErrorCode[]>();
  for (const code of codes) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return byStatus;
}
