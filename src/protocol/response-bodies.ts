import { Type, type TObject, type TProperties, type TSchema } from 'typebox';
import { errorStatus } from './error-catalogue.js';

/**
 * What every HTTP route answers, as JSON Schema. Fastify compiles its serializers
 * from these, and the OpenAPI document shows them. Every object is open
 * (`additionalProperties: true`): the serializer drops any field a schema does not
 * list, and a field added by the service (an addition the contract allows) must
 * reach the client rather than vanish on the way out.
 */
const open = <P extends TProperties>(properties: P, description: string): TObject<P> =>
  Type.Object(properties, { additionalProperties: true, description });

const int = (description: string): TSchema => Type.Integer({ description });
const text = (description: string): TSchema => Type.String({ description });
const epochMsOrNull = (description: string): TSchema =>
  Type.Union([Type.Integer(), Type.Null()], { description: `${description} Unix epoch milliseconds, for display; null while a socket keeps it alive.` });

const holdRef = open({ name: text('Lock name.'), token: int('Fencing token.') }, 'A hold: lock name and fencing token.');
const memberRef = open({ ring: text('Ring name.'), node: text('Member id.') }, 'A ring member bound to a lease.');
const leaseFields = {
  id: text('Opaque lease id.'),
  ttlMs: int('Time to live in milliseconds.'),
  expiresAt: epochMsOrNull('Deadline.'),
};
const lockMode = Type.Union([Type.Literal('read'), Type.Literal('write')], {
  description: '"read": shares the lock with other readers; "write": exclusive (every semaphore permit is one).',
});
const holder = open(
  {
    token: int('Fencing token of the hold.'),
    owner: text('Label given at acquire ("" when none).'),
    mode: lockMode,
    leaseId: text('Lease the hold hangs on.'),
    acquiredAt: int('When it was granted, Unix epoch milliseconds.'),
    expiresAt: epochMsOrNull('When its lease runs out.'),
    priority: int('The acquire\'s priority (0 by default).'),
    yieldBy: Type.Optional(int('Present while a yield request is pending: when the server ends the hold unless released first, Unix epoch milliseconds.')),
    principal: Type.Optional(text('Auth token name that acquired it (auth on).')),
  },
  'One holder of a lock or semaphore.',
);
const lockView = open(
  {
    name: text('Lock name.'),
    limit: int('Permits of the name.'),
    holders: Type.Array(holder),
    waiters: int('Acquires queued for a permit.'),
    retryAfterMs: Type.Optional(int('Time left of a running lock-delay.')),
  },
  'A live lock name: its holders and how many wait.',
);
const waiterView = open(
  {
    position: int('1 for the next to be granted.'),
    owner: text('Label given at acquire ("" when none).'),
    mode: lockMode,
    leaseId: Type.Union([Type.String(), Type.Null()], { description: 'The lease it named; null when it asked for its own (ttlMs).' }),
    priority: int('Queue order: higher priorities first, FIFO within one.'),
    waitedMs: int('Time queued so far.'),
    timesOutInMs: int('Until its waitMs runs out (then it is answered lock_held).'),
    principal: Type.Optional(text('Auth token name that queued it (auth on).')),
  },
  'One acquire waiting in a name\'s queue.',
);
const ringFields = {
  name: text('Ring name.'),
  vnodes: int('Points per unit of weight.'),
  version: int('Rises by one with every change.'),
  algorithm: Type.Union([Type.Literal('xxhash'), Type.Literal('ketama')], { description: 'How keys are placed.' }),
};
const previousOwners = (nodes: TSchema): TSchema =>
  Type.Optional(open({ version: int('The earlier version asked for.'), nodes }, 'Owners at the earlier version (handover).'));
const movedRange = open(
  {
    start: int('First hash of the range (inclusive).'),
    end: int('Last hash of the range (inclusive); a range never wraps past 4294967295.'),
    before: Type.Array(Type.String(), { description: 'Owners (n of them, owner first) at `from`.' }),
    after: Type.Array(Type.String(), { description: 'Owners at `to`.' }),
  },
  'Hashes whose owners changed.',
);
const memberChange = open({ ring: text('Ring name.'), node: text('Member id.'), version: int('Ring version after the change.') }, 'A member change.');

const grant = open(
  {
    name: text('Lock name.'),
    token: int('Fencing token: above every token issued before.'),
    leaseId: text('Lease the hold hangs on (fresh when the acquire gave ttlMs).'),
    owner: text('Label given at acquire.'),
    limit: int('Permits of the name.'),
    mode: lockMode,
    ttlMs: int('Lease time to live.'),
    maxHoldMs: Type.Optional(int('Present when the acquire gave maxHoldMs: the hold ends this long after its grant.')),
    priority: Type.Optional(int('Present when the acquire gave a priority above 0.')),
    expiresAt: epochMsOrNull('Lease deadline.'),
  },
  'A granted hold.',
);

export const responses = {
  lease: open(leaseFields, 'A lease.'),
  leaseDetail: open(
    { ...leaseFields, locks: Type.Array(holdRef), members: Type.Array(memberRef) },
    'A lease with the holds and ring members hanging on it.',
  ),
  leaseRevoked: open(
    { id: text('Lease id.'), released: Type.Array(holdRef), removed: Type.Array(memberRef) },
    'A revoked lease with what ended with it.',
  ),
  grant,
  released: open({ name: text('Lock name.'), token: int('The released token.'), released: Type.Literal(true) }, 'A released hold.'),
  multiGrant: open(
    { leaseId: text('The one lease every hold hangs on (fresh when the acquire gave ttlMs).'), grants: Type.Array(grant) },
    'A multi-lock: one grant per name, in request order, each with its own fencing token.',
  ),
  multiReleased: open({ released: Type.Array(holdRef) }, 'Every hold asked for, released together.'),
  checked: open(
    {
      name: text('Lock name.'),
      token: int('The token asked about.'),
      held: Type.Boolean(),
      yieldBy: Type.Optional(int('Present while the hold was asked to yield: when the server ends it unless released first, Unix epoch milliseconds.')),
    },
    'Whether the token holds the name now.',
  ),
  lockView,
  waiterPage: open(
    {
      name: text('Lock name.'),
      total: int('Waiters of the name in all.'),
      waiters: Type.Array(waiterView),
      next: Type.Optional(int('Pass as `after` for the next page; absent on the last page.')),
    },
    'A page of a lock\'s queue, in grant order, positions as of this read.',
  ),
  lockPage: open(
    { locks: Type.Array(lockView), next: Type.Optional(text('Pass as `after` for the next page; absent on the last page.')) },
    'A page of live lock names in UTF-8 byte order.',
  ),
  ringSummary: open(ringFields, 'A ring.'),
  ringList: open({ rings: Type.Array(open({ ...ringFields, nodes: int('Member count.') }, 'A ring and its member count.')) }, 'Every ring.'),
  ringDetail: open(
    {
      ...ringFields,
      fingerprint: text('Lowercase hex over vnodes, member ids and weights: equal fingerprints mean equal placement.'),
      nodes: Type.Array(
        open(
          {
            id: text('Member id.'),
            weight: Type.Number({ description: 'Share of keys.' }),
            meta: Type.Object({}, { additionalProperties: true, description: 'Free JSON object.' }),
            leaseId: Type.Union([Type.String(), Type.Null()], { description: 'Lease the member is bound to, or null.' }),
          },
          'A ring member.',
        ),
      ),
    },
    'A ring with its members: enough to compute placement locally.',
  ),
  ringDeleted: open({ name: text('Ring name.') }, 'A deleted ring.'),
  memberChange,
  lookupOne: open(
    { ring: text('Ring name.'), version: int('Ring version used.'), key: text('The key.'), nodes: Type.Array(Type.String()), previous: previousOwners(Type.Array(Type.String())) },
    'Owner first, then replicas.',
  ),
  lookupMany: open(
    { ring: text('Ring name.'), version: int('Ring version used.'), nodes: Type.Array(Type.Array(Type.String())), previous: previousOwners(Type.Array(Type.Array(Type.String()))) },
    'One list of nodes per key, in key order.',
  ),
  ringDiff: open(
    {
      ring: text('Ring name.'),
      version: int('The ring\'s current version.'),
      from: int('Version compared from.'),
      to: int('Version compared to.'),
      n: int('Owners per range compared.'),
      ranges: Type.Array(movedRange),
      next: Type.Optional(int('Pass as `start` for the next page; absent on the last page.')),
    },
    'The hash ranges whose owners changed between two kept versions, in hash order.',
  ),
  health: open({ status: Type.Literal('ok'), epoch: int('Restart counter of the data directory; 0 in memory.'), uptimeMs: int('Process uptime.') }, 'Liveness.'),
  ready: open({ status: Type.Literal('ready'), epoch: int('Restart counter of the data directory; 0 in memory.') }, 'Readiness.'),
  error: Type.Object(
    {
      error: open(
        {
          code: Type.Enum(Object.keys(errorStatus), { type: 'string', description: 'Stable code to branch on.' }),
          message: text('For people; may change.'),
        },
        'Code, message and the code\'s details.',
      ),
    },
    { additionalProperties: false, description: 'Every error has this shape.' },
  ),
} satisfies Record<string, TSchema>;

export type ResponseName = keyof typeof responses;
