import { Type, type Static } from 'typebox';
import type { Limits } from '../limits.js';

/**
 * Body schemas for every route, built from the configured limits so the schema and
 * the limit can never disagree. Every object is closed (`additionalProperties:
 * false`) and Ajv runs without coercion: `"1000"` is not a number. The descriptions
 * end up in the OpenAPI document.
 */
export function makeSchemas(limits: Limits) {
  const ttlMs = Type.Integer({ minimum: limits.ttlMsMin, maximum: limits.ttlMsMax, description: 'Lease time to live, in milliseconds.' });
  const token = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'A fencing token returned by an acquire.' });
  const closed = { additionalProperties: false } as const;
  const leaseId = Type.String({ minLength: 1, maxLength: 128, description: 'An existing lease id.' });
  const mode = Type.Union([Type.Literal('read'), Type.Literal('write')], {
    description: `"write" (the default) is exclusive; "read" shares a lock (limit 1) with other readers, at most ${limits.readersPerLockMax}.`,
  });
  const name = Type.String({ minLength: 1, maxLength: limits.nameBytesMax, description: 'Lock name: UTF-8 without control characters.' });
  const permits = Type.Integer({ minimum: 1, maximum: limits.permitsMax, description: 'Permits of the name (1 is a lock).' });
  const count = { minItems: 1, maxItems: limits.namesPerAcquireMax };
  return {
    leaseGrant: Type.Object({ ttlMs }, closed),
    leaseKeepalive: Type.Object({ ttlMs: Type.Optional(ttlMs) }, closed),
    acquire: Type.Object(
      {
        ttlMs: Type.Optional(ttlMs),
        leaseId: Type.Optional(leaseId),
        owner: Type.Optional(Type.String({ maxLength: limits.ownerBytesMax, description: 'A free label shown in listings and logs.' })),
        waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.waitMsMax, description: 'How long to queue for a permit; 0 is a try-lock.' })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.permitsMax, description: 'Permits of the name (1 is a lock).' })),
        lockDelayMs: Type.Optional(
          Type.Integer({ minimum: 0, maximum: limits.lockDelayMsMax, description: 'Quiet time after this hold expires (not after a release).' }),
        ),
        mode: Type.Optional(mode),
        maxHoldMs: Type.Optional(
          Type.Integer({ minimum: 1, maximum: limits.maxHoldMsMax, description: 'The server ends the hold this long after its grant, whatever the keepalives.' }),
        ),
        priority: Type.Optional(
          Type.Integer({ minimum: 0, maximum: limits.priorityMax, description: 'Queue order, default 0: higher priorities are queued first, FIFO within one.' }),
        ),
        yieldGraceMs: Type.Optional(
          Type.Integer({
            minimum: 0, maximum: limits.yieldGraceMsMax,
            description: 'A waiting acquire with a priority above 0: the lower-priority holds in its way are asked to yield, and end this long after unless released first.',
          }),
        ),
      },
      { ...closed, description: 'Exactly one of ttlMs and leaseId.' },
    ),
    multiAcquire: Type.Object(
      {
        locks: Type.Array(Type.Object({ name, mode: Type.Optional(mode), limit: Type.Optional(permits) }, closed), {
          ...count, description: `1 to ${limits.namesPerAcquireMax} distinct names, each granted as a single acquire would be; all or none.`,
        }),
        ttlMs: Type.Optional(ttlMs),
        leaseId: Type.Optional(leaseId),
        owner: Type.Optional(Type.String({ maxLength: limits.ownerBytesMax, description: 'A free label shown in listings and logs.' })),
        waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.waitMsMax, description: 'How long to queue for every name at once; 0 is a try-lock.' })),
        lockDelayMs: Type.Optional(
          Type.Integer({ minimum: 0, maximum: limits.lockDelayMsMax, description: 'Quiet time after a hold expires (not after a release), per name.' }),
        ),
        maxHoldMs: Type.Optional(
          Type.Integer({ minimum: 1, maximum: limits.maxHoldMsMax, description: 'The server ends each hold this long after the grant, whatever the keepalives.' }),
        ),
      },
      { ...closed, description: 'Exactly one of ttlMs and leaseId.' },
    ),
    multiRelease: Type.Object(
      {
        holds: Type.Array(Type.Object({ name, token }, closed), {
          ...count, description: `1 to ${limits.namesPerAcquireMax} holds (name and fencing token), released together or not at all.`,
        }),
      },
      closed,
    ),
    tokenBody: Type.Object({ token }, closed),
    checkBody: Type.Object(
      { token, mode: Type.Optional(Type.Union([Type.Literal('read'), Type.Literal('write')], { description: 'Held only if held in this mode.' })) },
      closed,
    ),
    ringPut: Type.Object(
      {
        vnodes: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.vnodesMax, description: 'Points per unit of weight; default 160.' })),
        algorithm: Type.Optional(Type.Union([Type.Literal('xxhash'), Type.Literal('ketama')], {
          description: 'Placement: "xxhash" (default, the documented algorithm) or "ketama" (libmemcached-compatible).',
        })),
      },
      closed,
    ),
    nodePut: Type.Object(
      {
        weight: Type.Optional(Type.Number({ minimum: 0, maximum: limits.weightMax, description: 'Share of keys; 0 keeps the member with no keys. Default 1.' })),
        meta: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: `A JSON object of at most ${limits.metaBytesMax} bytes.` })),
        leaseId: Type.Optional(leaseId),
      },
      closed,
    ),
    lookupBatch: Type.Object(
      {
        keys: Type.Array(Type.String({ maxLength: limits.keyBytesMax }), { description: `At most ${limits.batchKeysMax} keys.` }),
        n: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.replicasMax, description: 'Distinct nodes per key, owner first.' })),
        version: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Refuse (409 stale_ring) unless the ring is at this version.' })),
        previous: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Also answer the owners at this earlier version (handover).' })),
      },
      closed,
    ),
  };
}

export type Schemas = ReturnType<typeof makeSchemas>;
export type AcquireBody = Static<Schemas['acquire']>;
export type MultiAcquireBody = Static<Schemas['multiAcquire']>;
export type MultiReleaseBody = Static<Schemas['multiRelease']>;
export type NodePutBody = Static<Schemas['nodePut']>;
export type LookupBatchBody = Static<Schemas['lookupBatch']>;
