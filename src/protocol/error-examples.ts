import type { WireErrorCode } from './error-catalogue.js';

/** One realistic body per error code: what the OpenAPI document and docs/api.md show. */
export const errorExamples: Readonly<Record<WireErrorCode, Record<string, unknown>>> = {
  invalid_request: { code: 'invalid_request', message: 'ttlMs must be an integer from 100 to 86400000', field: 'ttlMs' },
  unauthorized: { code: 'unauthorized', message: 'missing bearer token' },
  forbidden: { code: 'forbidden', message: 'token "team-a" may not take or release the lock "b/job"', action: 'lock.write', name: 'b/job' },
  not_found: { code: 'not_found', message: 'no route GET /v1/nothing' },
  lease_not_found: { code: 'lease_not_found', message: 'lease "3f2a9c" does not exist or has ended', leaseId: '3f2a9c' },
  lock_not_found: { code: 'lock_not_found', message: 'lock "jobs/nightly" does not exist', name: 'jobs/nightly' },
  ring_not_found: { code: 'ring_not_found', message: 'ring "cache" does not exist', ring: 'cache' },
  node_not_found: { code: 'node_not_found', message: 'node "n9" is not in ring "cache"', ring: 'cache', node: 'n9' },
  lock_held: {
    code: 'lock_held',
    message: 'lock "jobs/nightly" is held',
    name: 'jobs/nightly',
    holders: [{ token: 41, owner: 'worker-1', expiresAt: 1767225600000 }],
    limit: 1,
  },
  limit_mismatch: { code: 'limit_mismatch', message: 'lock "pool" has limit 4, not 2', name: 'pool', limit: 4 },
  mode_mismatch: {
    code: 'mode_mismatch', message: 'lock "pool" is a semaphore (limit 4): mode "read" needs a lock of limit 1', name: 'pool', limit: 4, mode: 'read',
  },
  not_holder: { code: 'not_holder', message: 'token 41 does not hold "jobs/nightly" (expired)', name: 'jobs/nightly', token: 41, reason: 'expired' },
  ring_empty: { code: 'ring_empty', message: 'ring "cache" has no node with weight > 0', ring: 'cache' },
  stale_ring: { code: 'stale_ring', message: 'ring "cache" is at version 7, not 6', ring: 'cache', version: 7 },
  version_unavailable: {
    code: 'version_unavailable', message: 'ring "cache" keeps versions 40 to 72, not 12', ring: 'cache', version: 12, oldest: 40, current: 72,
  },
  payload_too_large: { code: 'payload_too_large', message: 'request body is too large' },
  limit_exceeded: { code: 'limit_exceeded', message: 'limit leasesMax (2000000) reached', limit: 'leasesMax', max: 2000000 },
  not_ready: { code: 'not_ready', message: 'recovering state from the data directory' },
  internal: { code: 'internal', message: 'internal error' },
};
