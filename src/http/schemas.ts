import { Type, type Static } from 'typebox';
import type { Limits } from '../limits.js';

/**
 * Body schemas for every route, built from the configured limits so the schema and
 * the limit can never disagree. Every object is closed (`additionalProperties:
 * false`) and Ajv runs without coercion: `"1000"` is not a number.
 */
export function makeSchemas(limits: Limits) {
  const ttlMs = Type.Integer({ minimum: limits.ttlMsMin, maximum: limits.ttlMsMax });
  const token = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
  const closed = { additionalProperties: false } as const;
  const leaseId = Type.String({ minLength: 1, maxLength: 128 });
  return {
    leaseGrant: Type.Object({ ttlMs }, closed),
    leaseKeepalive: Type.Object({ ttlMs: Type.Optional(ttlMs) }, closed),
    acquire: Type.Object(
      {
        ttlMs: Type.Optional(ttlMs),
        leaseId: Type.Optional(leaseId),
        owner: Type.Optional(Type.String({ maxLength: limits.ownerBytesMax })),
        waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.waitMsMax })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.permitsMax })),
        lockDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: limits.lockDelayMsMax })),
      },
      closed,
    ),
    tokenBody: Type.Object({ token }, closed),
    ringPut: Type.Object(
      {
        vnodes: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.vnodesMax })),
        algorithm: Type.Optional(Type.Union([Type.Literal('xxhash'), Type.Literal('ketama')])),
      },
      closed,
    ),
    nodePut: Type.Object(
      {
        weight: Type.Optional(Type.Number({ minimum: 0, maximum: limits.weightMax })),
        meta: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
        leaseId: Type.Optional(leaseId),
      },
      closed,
    ),
    lookupBatch: Type.Object(
      {
        keys: Type.Array(Type.String({ maxLength: limits.keyBytesMax })),
        n: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.replicasMax })),
        version: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
        previous: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
      },
      closed,
    ),
  };
}

export type Schemas = ReturnType<typeof makeSchemas>;
export type AcquireBody = Static<Schemas['acquire']>;
export type NodePutBody = Static<Schemas['nodePut']>;
export type LookupBatchBody = Static<Schemas['lookupBatch']>;
