import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { LockringError, invalid } from '../domain/errors.js';
import { makeSchemas } from '../protocol/request-bodies.js';
import { validationError } from '../protocol/validation.js';
import type { Limits } from '../limits.js';

/**
 * The WebSocket protocol: one JSON object per text frame. Requests carry `op` and an
 * optional `id` echoed in the reply; pushes carry `event` and no `id`. Argument
 * schemas reuse the HTTP body schemas (same bounds, same strictness: closed objects,
 * no coercion) and add the name that HTTP carries in the path.
 */

/** A request id: an integer or a short string. Anything else is answered with id null. */
export type RequestId = number | string;
export const requestIdCharsMax = 256;
/** The longest bearer token an `auth` frame may carry (the auth file allows no longer). */
export const authTokenCharsMax = 4096;

export function makeFrameSchemas(limits: Limits) {
  const http = makeSchemas(limits);
  const closed = { additionalProperties: false } as const;
  // `id` is checked before the schema (an error reply needs it); `op` picked the schema.
  const head = { id: Type.Optional(Type.Unknown()), op: Type.String() };
  // A cheap bound only: names are checked in bytes (and for control characters) by checkName.
  const name = Type.String({ maxLength: limits.nameBytesMax });
  const prefix = Type.String({ maxLength: limits.nameBytesMax });
  // The HTTP acquire body has leaseId optional; the lease ops require it, same bounds.
  const { leaseId } = Type.Required(Type.Object({ leaseId: http.acquire.properties.leaseId })).properties;
  const ttlMs = http.leaseGrant.properties.ttlMs;
  const token = http.tokenBody.properties.token;
  const tokenArgs = Type.Object({ ...head, name, token }, closed);
  return {
    'session.open': Type.Object({ ...head, ttlMs }, closed),
    'session.resume': Type.Object({ ...head, leaseId }, closed),
    'lease.grant': Type.Object({ ...head, ttlMs }, closed),
    'lease.keepalive': Type.Object({ ...head, leaseId, ttlMs: Type.Optional(ttlMs) }, closed),
    'lease.revoke': Type.Object({ ...head, leaseId }, closed),
    'lock.acquire': Type.Object({
      ...head, name, ...http.acquire.properties,
      // WebSocket only: a waiting acquire is pushed its place in the queue (docs/websocket.md).
      positions: Type.Optional(Type.Boolean({ description: 'With waitMs: push the acquire\'s position in the queue while it waits.' })),
    }, closed),
    'lock.release': tokenArgs,
    'lock.check': Type.Object({ ...head, name, ...http.checkBody.properties }, closed),
    'multilock.acquire': Type.Object({
      ...head, ...http.multiAcquire.properties,
      positions: Type.Optional(Type.Boolean({ description: 'With waitMs: push the multi-lock\'s position in each of its queues while it waits.' })),
    }, closed),
    'multilock.release': Type.Object({ ...head, ...http.multiRelease.properties }, closed),
    'ring.lookup': Type.Object(
      {
        ...head,
        ring: name,
        key: Type.Optional(Type.String({ maxLength: limits.keyBytesMax })),
        keys: Type.Optional(http.lookupBatch.properties.keys),
        n: http.lookupBatch.properties.n,
        version: http.lookupBatch.properties.version,
        previous: http.lookupBatch.properties.previous,
      },
      closed,
    ),
    // An addition to the contract: the hash ranges that moved between two kept versions.
    'ring.diff': Type.Object(
      {
        ...head,
        ring: name,
        from: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        to: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
        n: http.lookupBatch.properties.n,
        start: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: limits.ringDiffRangesPageMax })),
      },
      closed,
    ),
    watch: Type.Object(
      {
        ...head,
        // Checked by the op, which can say which combinations are allowed.
        topic: Type.String(),
        name: Type.Optional(name),
        prefix: Type.Optional(prefix),
        ring: Type.Optional(name),
      },
      closed,
    ),
    unwatch: Type.Object({ ...head, watchId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, closed),
    // An addition to the contract: withdraws a waiting lock.acquire sent on this socket.
    cancel: Type.Object({ ...head, requestId: Type.Unknown() }, closed),
    // Authenticates a socket whose upgrade carried no Authorization header (browsers).
    auth: Type.Object({ ...head, token: Type.String({ minLength: 1, maxLength: authTokenCharsMax }) }, closed),
  };
}

export type FrameSchemas = ReturnType<typeof makeFrameSchemas>;
export type OpName = keyof FrameSchemas;
// A record, so the compiler checks the list is complete.
const opTable: Record<OpName, true> = {
  'session.open': true, 'session.resume': true, 'lease.grant': true, 'lease.keepalive': true, 'lease.revoke': true,
  'lock.acquire': true, 'lock.release': true, 'lock.check': true, 'ring.lookup': true, watch: true, unwatch: true,
  cancel: true, auth: true, 'ring.diff': true, 'multilock.acquire': true, 'multilock.release': true,
};
export const opNames = Object.keys(opTable) as OpName[];

/** The arguments of `op`, as a client writes them (no `id`, no `op`). */
export type OpArgs<Op extends OpName> = Omit<Static<FrameSchemas[Op]>, 'id' | 'op'>;

// Results and pushes are the SDK's wire shapes: one declaration for both sides.
export type {
  HoldEndedPush, LeaseExpiredPush, LeaseResult, LockEventType, LockPush, LookupManyResult, LookupOneResult, OpResults, PositionPush, Push, RingPush, YieldRequestedPush,
} from '../protocol/wire.js';

/** A frame that passed its schema; `args` is typed by `op`. */
export type Request = { [Op in OpName]: { readonly id: RequestId | null; readonly op: Op; readonly args: Static<FrameSchemas[Op]> } }[OpName];

/** A frame that did not: the error reply and the id it goes to. */
export interface FrameError {
  readonly id: RequestId | null;
  readonly error: LockringError;
}

type Validator = { Check(value: unknown): boolean; Errors(value: unknown): Iterable<TypeBoxError> };

interface TypeBoxError {
  readonly keyword: string;
  readonly schemaPath: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
}

/** Parses and validates frames with validators compiled once per server. */
export class FrameParser {
  private readonly validators: Map<string, { schema: TSchema; validator: Validator }>;

  constructor(limits: Limits) {
    const schemas = makeFrameSchemas(limits);
    this.validators = new Map(
      Object.entries(schemas).map(([op, schema]) => [op, { schema, validator: Compile(schema) as Validator }]),
    );
  }

  parse(text: string): Request | FrameError {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return { id: null, error: invalid('frame is not valid JSON', { field: 'frame' }) };
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      return { id: null, error: invalid('frame must be a JSON object', { field: 'frame' }) };
    }
    const record = frame as Record<string, unknown>;
    const id = record['id'] ?? null;
    if (!isRequestId(id)) {
      return { id: null, error: invalid(`id must be an integer or a string of at most ${requestIdCharsMax} characters`, { field: 'id' }) };
    }
    const op = record['op'];
    if (op === undefined) return { id, error: invalid('op is required', { field: 'op' }) };
    const entry = typeof op === 'string' ? this.validators.get(op) : undefined;
    if (entry === undefined) {
      return { id, error: invalid(`unknown op ${JSON.stringify(op)}; known ops: ${opNames.join(', ')}`, { field: 'op' }) };
    }
    if (!entry.validator.Check(frame)) return { id, error: describeErrors(entry.schema, entry.validator.Errors(frame)) };
    return { id, op, args: frame } as Request;
  }
}

export function isRequestId(value: unknown): value is RequestId | null {
  if (value === null) return true;
  if (typeof value === 'number') return Number.isSafeInteger(value);
  return typeof value === 'string' && value.length <= requestIdCharsMax;
}

/**
 * Words the first schema error the way HTTP does (field named, range given), by
 * handing it to the HTTP validation module in Ajv's shape.
 */
function describeErrors(schema: TSchema, errors: Iterable<TypeBoxError>): LockringError {
  let first: TypeBoxError | undefined;
  for (const error of errors) {
    if (error.keyword === 'boolean' || error.keyword === 'anyOf') continue;
    first = error;
    break;
  }
  if (first === undefined) return invalid('frame does not match its op', { field: 'frame' });
  const params: Record<string, unknown> = { ...first.params };
  if (first.keyword === 'required') params['missingProperty'] = (first.params['requiredProperties'] as string[])[0];
  if (first.keyword === 'additionalProperties') params['additionalProperty'] = (first.params['additionalProperties'] as string[])[0];
  const shaped = {
    keyword: first.keyword,
    instancePath: first.instancePath,
    schemaPath: first.schemaPath,
    params,
    message: '',
    parentSchema: resolvePointer(schema, first.schemaPath),
  } as FastifySchemaValidationError & { parentSchema: unknown };
  return validationError([shaped], 'frame');
}

/** The sub-schema at a `#/properties/x/anyOf/0` pointer: the one the error is about. */
function resolvePointer(schema: TSchema, pointer: string): unknown {
  let node: unknown = schema;
  for (const part of pointer.replace(/^#\/?/, '').split('/')) {
    if (part === '' || typeof node !== 'object' || node === null) continue;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export function errorReply(id: RequestId | null, error: LockringError): string {
  return JSON.stringify({ id, ok: false, error: error.toBody() });
}

/**
 * `{id, ok: true, ...result}` as text, without building that object: the result's
 * own serialisation with the head put in front (a key of the result named like one
 * of the head's would come last and win, as with the spread).
 */
export function okReply(id: RequestId | null, result: object): string {
  const body = JSON.stringify(result);
  const head = `{"id":${JSON.stringify(id)},"ok":true`;
  return body.length === 2 ? `${head}}` : `${head},${body.slice(1)}`;
}
