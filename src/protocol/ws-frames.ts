import { Type, type TSchema } from 'typebox';
import { errorStatus } from './error-catalogue.js';
import { responses } from './response-bodies.js';

/**
 * A JSON Schema (draft 2020-12) of every WebSocket frame: each op's request, its
 * reply, the error reply and the pushes. Request schemas are the ones the
 * server validates frames with (handed in by the caller, so this module stays free
 * of any transport); replies reuse the HTTP response schemas where the contract says
 * "as HTTP". Served at `/docs/ws.json`, and real frames are checked against it in
 * the test suite.
 */
type Json = Record<string, unknown>;

const requestId = Type.Union([Type.Integer(), Type.String({ maxLength: 256 }), Type.Null()], {
  description: 'The request\'s id, echoed; null when the request had none or an invalid one.',
});
const leaseResult = Type.Object(
  { leaseId: Type.String(), ttlMs: Type.Integer(), expiresAt: Type.Union([Type.Integer(), Type.Null()]) },
  { additionalProperties: true },
);
const holdRefs = responses.leaseRevoked.properties.released;

/** What each op answers beside `id` and `ok`. */
export const wsResults: Readonly<Record<string, TSchema>> = {
  'session.open': leaseResult,
  'session.resume': leaseResult,
  'lease.grant': leaseResult,
  'lease.keepalive': leaseResult,
  'lease.revoke': Type.Object(
    { leaseId: Type.String(), released: holdRefs, removed: responses.leaseRevoked.properties.removed },
    { additionalProperties: true },
  ),
  'lock.acquire': responses.grant,
  'lock.release': responses.released,
  'lock.check': responses.checked,
  'multilock.acquire': responses.multiGrant,
  'multilock.release': responses.multiReleased,
  'ring.lookup': Type.Union([responses.lookupOne, responses.lookupMany]),
  'ring.diff': responses.ringDiff,
  watch: Type.Object({ watchId: Type.Integer({ minimum: 1 }) }, { additionalProperties: true }),
  unwatch: Type.Object({}, { additionalProperties: true }),
  cancel: Type.Object({ cancelled: Type.Boolean() }, { additionalProperties: true }),
  auth: Type.Object({ name: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: true }),
};

export const wsPushes: Readonly<Record<string, TSchema>> = {
  lock: Type.Object(
    {
      event: Type.Literal('lock'),
      watchId: Type.Integer({ minimum: 1 }),
      type: Type.Enum(['acquired', 'released', 'expired', 'revoked', 'max_hold', 'preempted', 'yield_requested'], { type: 'string' }),
      name: Type.String(),
      token: Type.Integer(),
      owner: Type.String(),
      mode: Type.Optional(Type.Literal('read', { description: 'Present when the hold is a read hold.' })),
      yieldBy: Type.Optional(Type.Integer({ description: 'On yield_requested: when the server ends the hold unless released first (Unix epoch ms).' })),
    },
    { additionalProperties: false, description: 'A hold on a watched lock started, ended, or was asked to yield.' },
  ),
  ring: Type.Object(
    {
      event: Type.Literal('ring'),
      watchId: Type.Integer({ minimum: 1 }),
      ring: Type.String(),
      type: Type.Enum(['changed', 'deleted'], { type: 'string' }),
      version: Type.Integer(),
      nodes: Type.Array(Type.Object({ id: Type.String(), weight: Type.Number() }, { additionalProperties: false })),
    },
    { additionalProperties: false, description: 'A watched ring changed (one version) or was deleted.' },
  ),
  lease_expired: Type.Object(
    { event: Type.Literal('lease_expired'), leaseId: Type.String(), reason: Type.Enum(['expired', 'revoked'], { type: 'string' }), released: holdRefs },
    { additionalProperties: false, description: 'A lease this socket cares about ended, with the holds that went with it.' },
  ),
  hold_ended: Type.Object(
    {
      event: Type.Literal('hold_ended'), leaseId: Type.String(), name: Type.String(), token: Type.Integer(),
      reason: Type.Enum(['max_hold', 'preempted'], { type: 'string' }),
    },
    { additionalProperties: false, description: 'A hold on a lease this socket cares about reached its maxHoldMs, or the grace of a yield request, and ended.' },
  ),
  yield_requested: Type.Object(
    {
      event: Type.Literal('yield_requested'), leaseId: Type.String(), name: Type.String(), token: Type.Integer(),
      graceMs: Type.Integer({ description: 'The grace the waiter gave.' }),
      yieldBy: Type.Integer({ description: 'When the server ends the hold unless released first (Unix epoch ms).' }),
    },
    { additionalProperties: false, description: 'A higher-priority waiter asked a hold on a lease this socket cares about to yield.' },
  ),
  position: Type.Object(
    {
      event: Type.Literal('position'),
      id: Type.Union([Type.Integer(), Type.String({ maxLength: 256 }), Type.Null()], { description: 'The id of the waiting lock.acquire.' }),
      name: Type.String(),
      position: Type.Integer({ minimum: 1, description: '1: the next to be granted.' }),
      total: Type.Integer({ minimum: 1, description: 'Waiters in the queue when the position was read.' }),
    },
    {
      additionalProperties: false,
      description: 'A waiting lock.acquire sent with positions: true was queued or moved in its queue; none comes after its reply.',
    },
  ),
};

const errorReply = Type.Object(
  {
    id: requestId,
    ok: Type.Literal(false),
    error: Type.Object(
      { code: Type.Enum(Object.keys(errorStatus), { type: 'string' }), message: Type.String() },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false, description: 'Any request refused: the error catalogue, code without status.' },
);

const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema)) as Json;
const refTo = (name: string): Json => ({ $ref: `#/$defs/${name}` });

/** The document: `$defs` per frame kind, and the two directions as `oneOf`. */
export function wsFrameSchema(requests: Readonly<Record<string, TSchema>>): Json {
  const defs: Record<string, Json> = { errorReply: plain(errorReply) };
  const ops = Object.keys(requests);
  for (const op of ops) {
    const result = wsResults[op];
    if (result === undefined) throw new Error(`op ${op} has no reply schema`);
    // The server picks the schema by op; in the document each request names its own.
    defs[`request:${op}`] = { allOf: [{ type: 'object', properties: { op: { const: op } }, required: ['op'] }, plain(requests[op])] };
    defs[`reply:${op}`] = {
      description: `The successful reply to ${op}.`,
      allOf: [
        { type: 'object', properties: { id: plain(requestId), ok: { const: true } }, required: ['id', 'ok'] },
        plain(result),
      ],
    };
  }
  for (const [event, schema] of Object.entries(wsPushes)) defs[`push:${event}`] = plain(schema);
  defs['clientFrame'] = { oneOf: ops.map((op) => refTo(`request:${op}`)) };
  // anyOf: replies of different ops can have the same shape (a lease result, say).
  defs['serverFrame'] = {
    anyOf: [...ops.map((op) => refTo(`reply:${op}`)), refTo('errorReply'), ...Object.keys(wsPushes).map((e) => refTo(`push:${e}`))],
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'lockring-ws-v1',
    title: 'lockring WebSocket frames (GET /v1/ws)',
    description:
      'One JSON object per text frame. Requests carry op and an optional id; replies echo id with ok; pushes carry event (a position push also the id of its waiting acquire, never ok). ' +
      'Validate a frame against $defs/clientFrame or $defs/serverFrame, or a reply against $defs/reply:<op>.',
    $defs: defs,
    anyOf: [refTo('clientFrame'), refTo('serverFrame')],
  };
}
