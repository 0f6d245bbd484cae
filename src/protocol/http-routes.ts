import { Type, type TSchema } from 'typebox';
import type { Limits } from '../limits.js';
import type { WireErrorCode } from './error-catalogue.js';
import type { Schemas } from './request-bodies.js';
import type { ResponseName } from './response-bodies.js';

/**
 * The HTTP surface as data: every route with its parameters, body, answers and the
 * error codes it can return. Route plugins take their validation and serialization
 * schemas from here, and the OpenAPI document is generated from the same table, so
 * what is documented is what runs.
 */
export type Tag = 'leases' | 'locks' | 'rings' | 'operations';
export type BodyName = keyof Schemas;

export interface RouteParameter {
  readonly name: string;
  readonly in: 'path' | 'query';
  readonly required: boolean;
  readonly description: string;
  readonly schema: TSchema;
}

export interface RouteSpec {
  readonly operationId: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI path syntax (`{name}`). */
  readonly path: string;
  readonly tag: Tag;
  readonly summary: string;
  readonly description: string;
  readonly parameters: readonly RouteParameter[];
  readonly body?: BodyName;
  /** `{}` or no body at all is accepted. */
  readonly bodyOptional?: boolean;
  readonly response: ResponseName | 'metricsText';
  /** A PUT that answers 201 when it created the thing and 200 when it changed it. */
  readonly createdOr200?: boolean;
  readonly created?: boolean;
  readonly example: unknown;
  readonly errors: readonly WireErrorCode[];
  /** Served without auth (health, readiness, metrics). */
  readonly open?: boolean;
}

/** Errors any `/v1` route can give: bad path or query, auth, rate limits, readiness, bugs. */
export const v1Errors: readonly WireErrorCode[] = ['invalid_request', 'unauthorized', 'forbidden', 'limit_exceeded', 'not_ready', 'internal'];
const withBody: readonly WireErrorCode[] = [...v1Errors, 'payload_too_large'];

const pathName = (name: string, what: string): RouteParameter => ({
  name,
  in: 'path',
  required: true,
  description: `${what}: 1 to 256 bytes of UTF-8 without control characters, percent-encoded (\`/\` as \`%2F\`).`,
  schema: Type.String({ minLength: 1, maxLength: 768 }),
});
const leaseIdParam: RouteParameter = {
  name: 'id', in: 'path', required: true, description: 'Lease id as returned by a grant.', schema: Type.String({ minLength: 1, maxLength: 128 }),
};
const query = (name: string, description: string, schema: TSchema, required = false): RouteParameter => ({ name, in: 'query', required, description, schema });

const lease = { id: '5b1c0e7d9a4f4e2b8c3d6a7f1e2d3c4b', ttlMs: 10000, expiresAt: 1767225610000 };
const grant = { name: 'jobs/nightly', token: 42, leaseId: lease.id, owner: 'worker-1', limit: 1, mode: 'write', ttlMs: 10000, expiresAt: 1767225610000 };
const holder = { token: 42, owner: 'worker-1', mode: 'write', leaseId: lease.id, acquiredAt: 1767225600000, expiresAt: 1767225610000, priority: 0 };
const lockView = { name: 'jobs/nightly', limit: 1, holders: [holder], waiters: 0 };
const multiGrant = {
  leaseId: lease.id,
  grants: [
    { ...grant, name: 'accounts/alice', token: 43, owner: 'transfer-7' },
    { ...grant, name: 'accounts/bob', token: 44, owner: 'transfer-7' },
  ],
};

function leaseRoutes(): RouteSpec[] {
  return [
    { operationId: 'grantLease', method: 'POST', path: '/v1/leases', tag: 'leases', summary: 'Grant a lease',
      description: 'Creates a lease that lives ttlMs unless kept alive.', parameters: [], body: 'leaseGrant',
      response: 'lease', created: true, example: lease, errors: withBody },
    { operationId: 'getLease', method: 'GET', path: '/v1/leases/{id}', tag: 'leases', summary: 'Inspect a lease',
      description: 'The lease with the holds and ring members hanging on it.', parameters: [leaseIdParam],
      response: 'leaseDetail', example: { ...lease, locks: [{ name: 'jobs/nightly', token: 42 }], members: [{ ring: 'cache', node: 'n1' }] },
      errors: [...v1Errors, 'lease_not_found'] },
    { operationId: 'keepaliveLease', method: 'POST', path: '/v1/leases/{id}/keepalive', tag: 'leases', summary: 'Keep a lease alive',
      description: 'Sets the deadline to now + ttlMs (the lease\'s own, or the one given). An expired lease cannot be revived.',
      parameters: [leaseIdParam], body: 'leaseKeepalive', bodyOptional: true, response: 'lease', example: lease,
      errors: [...withBody, 'lease_not_found'] },
    { operationId: 'revokeLease', method: 'DELETE', path: '/v1/leases/{id}', tag: 'leases', summary: 'Revoke a lease',
      description: 'Ends the lease now, with every hold and ring member on it.', parameters: [leaseIdParam],
      response: 'leaseRevoked', example: { id: lease.id, released: [{ name: 'jobs/nightly', token: 42 }], removed: [] },
      errors: [...v1Errors, 'lease_not_found'] },
  ];
}

function lockRoutes(limits: Limits): RouteSpec[] {
  const name = pathName('name', 'Lock name');
  return [
    { operationId: 'acquireLock', method: 'POST', path: '/v1/locks/{name}/acquire', tag: 'locks', summary: 'Acquire a lock or semaphore permit',
      description: 'Grants a permit with a fresh fencing token, or queues for up to waitMs (FIFO per name, across both modes). Give exactly one of ttlMs and leaseId. '
        + 'mode "read" shares a lock (limit 1) with other readers; a writer is exclusive.',
      parameters: [name], body: 'acquire', response: 'grant', example: grant,
      errors: [...withBody, 'lease_not_found', 'lock_held', 'limit_mismatch', 'mode_mismatch'] },
    { operationId: 'releaseLock', method: 'POST', path: '/v1/locks/{name}/release', tag: 'locks', summary: 'Release a hold',
      description: 'Releases the hold of this token; a hold made with ttlMs also revokes its lease.', parameters: [name], body: 'tokenBody',
      response: 'released', example: { name: 'jobs/nightly', token: 42, released: true }, errors: [...withBody, 'not_holder'] },
    { operationId: 'acquireMultiLock', method: 'POST', path: '/v1/multi-locks/acquire', tag: 'locks', summary: 'Acquire several names at once',
      description: `Grants 1 to ${limits.namesPerAcquireMax} distinct names all at once or none, on one lease, with a fencing token per name (in request order). `
        + 'When one name cannot be granted now, the acquire queues for up to waitMs in every name\'s FIFO queue at once, holding nothing while it waits; '
        + 'lock_held names the names that blocked. Give exactly one of ttlMs and leaseId; a lease made for ttlMs ends with the last of its holds.',
      parameters: [], body: 'multiAcquire', response: 'multiGrant', example: multiGrant,
      errors: [...withBody, 'lease_not_found', 'lock_held', 'limit_mismatch', 'mode_mismatch'] },
    { operationId: 'releaseMultiLock', method: 'POST', path: '/v1/multi-locks/release', tag: 'locks', summary: 'Release several holds at once',
      description: 'Releases every hold named, in one step, or none: not_holder names the first that is not held. One hold alone: release it by its name.',
      parameters: [], body: 'multiRelease', response: 'multiReleased',
      example: { released: [{ name: 'accounts/alice', token: 43 }, { name: 'accounts/bob', token: 44 }] }, errors: [...withBody, 'not_holder'] },
    { operationId: 'checkLock', method: 'POST', path: '/v1/locks/{name}/check', tag: 'locks', summary: 'Check a fencing token',
      description: 'Tells a protected resource whether this token still holds the name (in `mode`, when given).', parameters: [name], body: 'checkBody',
      response: 'checked', example: { name: 'jobs/nightly', token: 42, held: true }, errors: withBody },
    { operationId: 'getLock', method: 'GET', path: '/v1/locks/{name}', tag: 'locks', summary: 'Inspect a lock',
      description: 'Holders, limit and number of waiters of a live name.', parameters: [name], response: 'lockView', example: lockView,
      errors: [...v1Errors, 'lock_not_found'] },
    { operationId: 'getLockWaiters', method: 'GET', path: '/v1/locks/{name}/waiters', tag: 'locks', summary: 'Inspect a lock\'s queue',
      description: 'The acquires waiting for the name, in the order they will be granted, a page at a time, with their positions.',
      parameters: [
        name,
        query('limit', `Page size, 1 to ${limits.listPageMax}; default 100.`, Type.Integer({ minimum: 1, maximum: limits.listPageMax, default: 100 })),
        query('after', 'Start after this position: the previous page\'s next; default 0.', Type.Integer({ minimum: 0, maximum: limits.waitersPerLockMax, default: 0 })),
      ],
      response: 'waiterPage',
      example: { name: 'jobs/nightly', total: 2, waiters: [{ position: 1, owner: 'worker-7', mode: 'write', leaseId: null, priority: 0, waitedMs: 1200, timesOutInMs: 8800 }], next: 1 },
      errors: [...v1Errors, 'lock_not_found'] },
    { operationId: 'listLocks', method: 'GET', path: '/v1/locks', tag: 'locks', summary: 'List locks',
      description: 'Live names in UTF-8 byte order, a page at a time.',
      parameters: [
        query('prefix', 'Only names starting with this.', Type.String({ maxLength: 768 })),
        query('limit', `Page size, 1 to ${limits.listPageMax}; default 100.`, Type.Integer({ minimum: 1, maximum: limits.listPageMax, default: 100 })),
        query('after', 'Start after this name: the previous page\'s next.', Type.String({ maxLength: 768 })),
      ],
      response: 'lockPage', example: { locks: [lockView], next: 'jobs/nightly' }, errors: v1Errors },
  ];
}

function ringRoutes(limits: Limits): RouteSpec[] {
  const ring = pathName('ring', 'Ring name');
  const node = pathName('node', 'Member id');
  const version = query('version', 'Refuse with 409 stale_ring unless the ring is at this version.', Type.Integer({ minimum: 1 }));
  const lookupErrors: WireErrorCode[] = ['ring_not_found', 'ring_empty', 'stale_ring', 'version_unavailable'];
  const kept = (field: string, description: string, required = false): RouteParameter =>
    query(field, description, Type.Integer({ minimum: 1 }), required);
  return [
    { operationId: 'putRing', method: 'PUT', path: '/v1/rings/{ring}', tag: 'rings', summary: 'Create or configure a ring',
      description: '201 when the ring is new, 200 when it existed (changed or not).', parameters: [ring], body: 'ringPut', bodyOptional: true,
      response: 'ringSummary', createdOr200: true, example: { name: 'cache', vnodes: 160, version: 1, algorithm: 'xxhash' }, errors: withBody },
    { operationId: 'listRings', method: 'GET', path: '/v1/rings', tag: 'rings', summary: 'List rings', description: 'Every ring with its member count.',
      parameters: [], response: 'ringList', example: { rings: [{ name: 'cache', vnodes: 160, version: 3, algorithm: 'xxhash', nodes: 2 }] }, errors: v1Errors },
    { operationId: 'getRing', method: 'GET', path: '/v1/rings/{ring}', tag: 'rings', summary: 'Read a ring',
      description: 'The snapshot a client needs to compute placement itself.', parameters: [ring], response: 'ringDetail',
      example: { name: 'cache', vnodes: 160, version: 3, algorithm: 'xxhash', fingerprint: '9e107d9d', nodes: [{ id: 'n1', weight: 1, meta: { zone: 'a' }, leaseId: null }] },
      errors: [...v1Errors, 'ring_not_found'] },
    { operationId: 'deleteRing', method: 'DELETE', path: '/v1/rings/{ring}', tag: 'rings', summary: 'Delete a ring',
      description: 'Removes the ring and all its members.', parameters: [ring], response: 'ringDeleted', example: { name: 'cache' },
      errors: [...v1Errors, 'ring_not_found'] },
    { operationId: 'putNode', method: 'PUT', path: '/v1/rings/{ring}/nodes/{node}', tag: 'rings', summary: 'Add or change a ring member',
      description: 'Creates the ring with defaults if needed. 201 for a new member, 200 otherwise. With leaseId the member leaves when the lease ends.',
      parameters: [ring, node], body: 'nodePut', bodyOptional: true, response: 'memberChange', createdOr200: true,
      example: { ring: 'cache', node: 'n1', version: 2 }, errors: [...withBody, 'lease_not_found'] },
    { operationId: 'deleteNode', method: 'DELETE', path: '/v1/rings/{ring}/nodes/{node}', tag: 'rings', summary: 'Remove a ring member',
      description: 'Removes the member; the ring stays.', parameters: [ring, node], response: 'memberChange',
      example: { ring: 'cache', node: 'n1', version: 4 }, errors: [...v1Errors, 'ring_not_found', 'node_not_found'] },
    { operationId: 'lookupKey', method: 'GET', path: '/v1/rings/{ring}/lookup', tag: 'rings', summary: 'Look up one key',
      description: 'The nodes owning a key: owner first, then replicas clockwise.',
      parameters: [
        ring,
        query('key', `The key, at most ${limits.keyBytesMax} bytes of UTF-8.`, Type.String({ maxLength: limits.keyBytesMax }), true),
        query('n', `Distinct nodes wanted, 1 to ${limits.replicasMax}; default 1.`, Type.Integer({ minimum: 1, maximum: limits.replicasMax, default: 1 })),
        version,
        kept('previous', 'Also answer the owners at this earlier, kept version (handover).'),
      ],
      response: 'lookupOne', example: { ring: 'cache', version: 3, key: 'user:42', nodes: ['n2', 'n1'] }, errors: [...v1Errors, ...lookupErrors] },
    { operationId: 'lookupKeys', method: 'POST', path: '/v1/rings/{ring}/lookup', tag: 'rings', summary: 'Look up many keys',
      description: `Up to ${limits.batchKeysMax} keys in one request; answers in key order.`, parameters: [ring], body: 'lookupBatch',
      response: 'lookupMany', example: { ring: 'cache', version: 3, nodes: [['n2'], ['n1']] }, errors: [...withBody, ...lookupErrors] },
    { operationId: 'ringDiff', method: 'GET', path: '/v1/rings/{ring}/diff', tag: 'rings', summary: 'What moved between two versions',
      description: `The hash ranges whose owners changed between two versions the server keeps (the last ${limits.ringHistoryVersionsMax}), with old and new owners; a page at a time.`,
      parameters: [
        ring,
        kept('from', 'The earlier version.', true),
        kept('to', 'The later version.', true),
        query('n', `Owners per range, 1 to ${limits.replicasMax}; default 1.`, Type.Integer({ minimum: 1, maximum: limits.replicasMax, default: 1 })),
        query('start', 'Start at this hash: the previous page\'s next.', Type.Integer({ minimum: 0, maximum: 4294967295 })),
        query('limit', `Ranges per page, 1 to ${limits.ringDiffRangesPageMax}.`, Type.Integer({ minimum: 1, maximum: limits.ringDiffRangesPageMax })),
      ],
      response: 'ringDiff',
      example: { ring: 'cache', version: 4, from: 3, to: 4, n: 1, ranges: [{ start: 12, end: 9001, before: ['n1'], after: ['n3'] }] },
      errors: [...v1Errors, 'ring_not_found', 'version_unavailable'] },
  ];
}

function operationRoutes(): RouteSpec[] {
  // Open to every client, but not to a foreign page or a rebinding Host name.
  const browserRefusal: WireErrorCode[] = ['forbidden', 'internal'];
  return [
    { operationId: 'health', method: 'GET', path: '/healthz', tag: 'operations', summary: 'Liveness', description: 'The process is up.',
      parameters: [], response: 'health', example: { status: 'ok', epoch: 3, uptimeMs: 81234 }, errors: browserRefusal, open: true },
    { operationId: 'readiness', method: 'GET', path: '/readyz', tag: 'operations', summary: 'Readiness',
      description: 'State is recovered and /v1 is served.', parameters: [], response: 'ready', example: { status: 'ready', epoch: 3 },
      errors: [...browserRefusal, 'not_ready'], open: true },
    { operationId: 'metrics', method: 'GET', path: '/metrics', tag: 'operations', summary: 'Prometheus metrics',
      description: 'Prometheus text exposition format.', parameters: [], response: 'metricsText',
      example: '# TYPE lockring_locks_held gauge\nlockring_locks_held 3\n', errors: browserRefusal, open: true },
  ];
}

export function httpRoutes(limits: Limits): readonly RouteSpec[] {
  return [...leaseRoutes(), ...lockRoutes(limits), ...ringRoutes(limits), ...operationRoutes()];
}

export const tagDescriptions: Readonly<Record<Tag, string>> = {
  leases: 'TTLs kept alive by clients; every hold and lease-bound ring member hangs on one.',
  locks: 'Locks and semaphores with fencing tokens, try-lock or FIFO wait.',
  rings: 'Named consistent-hash rings, their members and key lookups.',
  operations: 'Health, readiness and metrics; open even with auth configured.',
};
