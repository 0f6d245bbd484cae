/**
 * Throws random and adversarial WebSocket frames at a real listening server (with
 * auth): deep JSON nesting, huge numbers, `__proto__` keys, invalid UTF-8 in text
 * frames, binary frames, NaN-ish values, oversized frames, floods of tiny frames,
 * random `auth` frames. Checks that the server never crashes, never answers an
 * internal error, never changes state on a rejected op and stays responsive.
 * Also: random Authorization headers never authenticate. Bounded by default;
 * LOCKRING_FUZZ_RUNS=20000 runs longer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { opNames } from '../../src/ws/protocol.js';
import { type AuthServer, startAuthServer, tokens } from '../auth/helpers.js';
import { within } from '../ws/helpers.js';

const runs = Number(process.env['LOCKRING_FUZZ_RUNS'] ?? 300);
const frameBytesMax = 64 * 1024;
let server: AuthServer;

before(async () => {
  server = await startAuthServer({
    limits: {
      wsFrameBytesMax: frameBytesMax,
      // Nothing expires on its own during the run (every lease lives an hour), and a
      // waiting acquire gives up quickly: a rejected op is the only thing in flight.
      ttlMsMin: 3_600_000,
      waitMsMax: 20,
      wsAuthMsMax: 10_000,
    },
  });
  const setup = await server.http('PUT', '/v1/rings/r/nodes/a', { weight: 1 }, tokens.root);
  assert.equal(setup.status, 201);
  const held = await server.http('POST', '/v1/locks/held/acquire', { ttlMs: 3_600_000 }, tokens.root);
  assert.equal(held.status, 200);
  leaseIds.push(held.body.leaseId);
});

after(async () => {
  socket?.terminate();
  await server.close();
});

/** Everything a client could observe changing, as one comparable value. */
function digest(): string {
  const m = server.lockring.machine;
  const rings = [...m.rings.byName.values()].map((r) => `${r.name}@${r.version}`).join(',');
  return [m.leases.byId.size, m.locks.byName.size, m.locks.holdCount, m.locks.waiterCount, m.lastToken, rings].join('|');
}

// ---- one socket at a time, reopened when the server closes it ---------------

type Identity = 'root' | 'teamA' | 'pending';
let socket: WebSocket | undefined;
let inbox: Record<string, unknown>[] = [];
let closeCode: number | null = null;
const leaseIds: string[] = [];
const closeCodes = new Map<number, number>();

async function ensureSocket(identity: Identity): Promise<WebSocket> {
  if (socket !== undefined && socket.readyState === WebSocket.OPEN) return socket;
  const headers = identity === 'pending' ? {} : { authorization: `Bearer ${tokens[identity]}` };
  const ws = new WebSocket(server.wsUrl, { headers });
  ws.on('error', () => {});
  // Events of a socket already replaced (a late close) must not touch the current one's state.
  const current = (): boolean => socket === ws;
  socket = ws;
  closeCode = null;
  inbox = [];
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'the server only sends text frames');
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    // Remember lease ids, so later frames can aim at real leases.
    for (const key of ['leaseId', 'id']) {
      const value = message[key];
      if (typeof value === 'string' && value.length === 36 && leaseIds.length < 200) leaseIds.push(value);
    }
    if (current()) inbox.push(message);
  });
  ws.on('close', (code) => {
    closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
    if (current()) closeCode = code;
  });
  await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'websocket open');
  return ws;
}

/** Waits for the next reply (not a push), the socket's close, or `quietMs` of nothing. */
async function nextOutcome(quietMs: number): Promise<'reply' | 'closed' | 'quiet'> {
  const deadline = Date.now() + quietMs;
  for (;;) {
    const index = inbox.findIndex((m) => 'ok' in m);
    if (index >= 0) return 'reply';
    if (closeCode !== null) return 'closed';
    if (Date.now() > deadline) return 'quiet';
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function checkReply(reply: Record<string, unknown>, what: string): void {
  assert.equal(typeof reply['ok'], 'boolean', what);
  if (reply['ok'] === true) return;
  const error = reply['error'] as { code?: unknown; message?: unknown };
  assert.equal(typeof error.code, 'string', what);
  assert.equal(typeof error.message, 'string', what);
  assert.notEqual(error.code, 'internal', `internal error for ${what}: ${JSON.stringify(reply)}`);
}

// ---- generators --------------------------------------------------------------

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', '', '\u0000', '\ud800', 'toString', 'hasOwnProperty');
const argKey = fc.constantFrom(
  'id', 'op', 'name', 'prefix', 'ring', 'key', 'keys', 'n', 'version', 'ttlMs', 'leaseId', 'token', 'owner',
  'waitMs', 'limit', 'lockDelayMs', 'watchId', 'requestId', 'topic', 'weight', 'meta',
);
const scalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, -1, 1, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, 1.5, 3_600_000, 20),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e3', '', '1000', 'held', 'a/x', 'b/y', 'r', 'lock', 'ring', '\u0000', '\ud800'),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 30 }),
);
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(hostileKey, argKey), tie('value'), { maxKeys: 4 }),
})).value;

/** A request-shaped frame: a real or bogus op with plausible and hostile arguments. */
const requestFrame = fc
  .record({
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.double(), fc.constant(undefined)),
    op: fc.oneof(fc.constantFrom(...opNames), fc.string({ maxLength: 12 }), jsonValue),
    args: fc.dictionary(fc.oneof(argKey, hostileKey), fc.oneof(scalar, jsonValue), { maxKeys: 5 }),
    lease: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ id, op, args, lease }) => {
    const frame: Record<string, unknown> = { ...args, op };
    if (id !== undefined) frame['id'] = id;
    if (lease !== undefined && leaseIds.length > 0) frame['leaseId'] = leaseIds[lease % leaseIds.length];
    return Buffer.from(JSON.stringify(frame) ?? 'null');
  });

/** Well-formed requests over a few names, so that ops succeed and change state between the hostile ones. */
const lockName = fc.constantFrom('held', 'a/x', 'a/y', 'b/y', 'shared/z', 'r');
const pickLease = fc.nat().map((i) => (leaseIds.length === 0 ? 'none' : leaseIds[i % leaseIds.length]!));
const wellFormed = fc.oneof(
  fc.constant({ op: 'lease.grant', ttlMs: 3_600_000 }),
  fc.constant({ op: 'session.open', ttlMs: 3_600_000 }),
  fc.record({ op: fc.constant('lock.acquire'), name: lockName, ttlMs: fc.constant(3_600_000), waitMs: fc.constantFrom(0, 10), limit: fc.constantFrom(1, 2) }),
  fc.record({ op: fc.constant('lock.acquire'), name: lockName, leaseId: pickLease, owner: fc.string({ maxLength: 8 }) }),
  fc.record({ op: fc.constantFrom('lock.release', 'lock.check'), name: lockName, token: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ op: fc.constantFrom('lease.keepalive', 'lease.revoke', 'session.resume'), leaseId: pickLease }),
  fc.record({ op: fc.constant('ring.lookup'), ring: fc.constantFrom('r', 'nope'), key: fc.string({ maxLength: 10 }), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('watch'), topic: fc.constant('lock'), prefix: fc.constantFrom('', 'a/', 'b/') }),
  fc.record({ op: fc.constant('unwatch'), watchId: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('cancel'), requestId: fc.integer({ min: 0, max: 5 }) }),
);
const wellFormedFrame = fc
  .tuple(wellFormed, fc.integer({ min: 1, max: 1_000_000 }), fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.tuple(fc.oneof(hostileKey, argKey), scalar) },
  ))
  .map(([request, id, extra]) => {
    const frame: Record<string, unknown> = { id, ...request };
    // Now and then one extra or replaced field: the op must refuse it and change nothing.
    if (extra !== undefined) frame[extra[0]] = extra[1];
    return Buffer.from(JSON.stringify(frame));
  });

const rawText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '{', '[', '{"op":"lock.check",}', 'null', '"x"', '1e999', '-0', '{"__proto__":{"op":"lease.grant"},"op":"lock.check"}',
    '{"op":"lease.grant","ttlMs":1e999}', '{"op":"lease.grant","ttlMs":NaN}', '{"op":"lease.grant","ttlMs":3600000.0000001}',
    '{"id":9007199254740993,"op":"lock.check","name":"held","token":1}', '{"id":1,"op":"lock.check","name":"held","token":-0}',
    '{"op":"constructor","constructor":{"prototype":{"polluted":1}}}', '{"id":1,"op":"auth","token":"' + 'A'.repeat(5000) + '"}',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `{"id":1,"op":"lock.check","name":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"token":1}`),
  fc.integer({ min: 1, max: 5_000 }).map((depth) => `{"id":1,"op":"ring.lookup","ring":"r","keys":${'['.repeat(depth)}${']'.repeat(depth)}}`),
).map((text) => Buffer.from(text, 'utf8'));

/** Text frames whose bytes are not UTF-8: the server must close (1007), nothing more. */
const invalidUtf8 = fc
  .tuple(fc.uint8Array({ maxLength: 40 }), fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]))
  .map(([prefix, bad]) => Buffer.concat([Buffer.from('{"op":"lock.check","name":"'), Buffer.from(prefix), Buffer.from(bad), Buffer.from('"}')]));

const randomAuth = fc.string({ minLength: 1, maxLength: 64 }).map((token) => Buffer.from(JSON.stringify({ id: 'auth', op: 'auth', token })));

type Frame = { kind: 'text' | 'binary' | 'invalid-utf8' | 'oversized' | 'flood'; bytes: Buffer };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 8, arbitrary: wellFormedFrame.map((bytes) => ({ kind: 'text' as const, bytes })) },
  { weight: 6, arbitrary: requestFrame.map((bytes) => ({ kind: 'text' as const, bytes })) },
  { weight: 3, arbitrary: rawText.map((bytes) => ({ kind: 'text' as const, bytes })) },
  { weight: 1, arbitrary: randomAuth.map((bytes) => ({ kind: 'text' as const, bytes })) },
  { weight: 1, arbitrary: invalidUtf8.map((bytes) => ({ kind: 'invalid-utf8' as const, bytes })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 100 }).map((a) => ({ kind: 'binary' as const, bytes: Buffer.from(a) })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'oversized' as const, bytes: Buffer.alloc(frameBytesMax + 1, 0x20) }) },
  { weight: 1, arbitrary: fc.constantFrom('{}', '1', ' ', '{"op":"lock.check","name":"held","token":1}').map((t) => ({ kind: 'flood' as const, bytes: Buffer.from(t) })) },
);

// ---- the properties ------------------------------------------------------------

test('random and adversarial WebSocket frames: no crash, no internal error, no state change when rejected', async () => {
  let replies = 0;
  await fc.assert(
    fc.asyncProperty(frame, fc.constantFrom<Identity>('root', 'root', 'teamA', 'pending'), async (sample, identity) => {
      const ws = await ensureSocket(identity);
      const before = digest();
      const what = `${sample.kind} ${sample.bytes.subarray(0, 120).toString('latin1')}`;
      if (sample.kind === 'flood') {
        for (let i = 0; i < 500; i++) ws.send(sample.bytes, { binary: false });
        // Every frame is answered (a bad one too: the socket stays open); then the next sample starts afresh.
        await new Promise((resolve) => setTimeout(resolve, 30));
        for (const reply of inbox.filter((m) => 'ok' in m)) checkReply(reply, what);
        ws.terminate();
        socket = undefined;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return;
      }
      ws.send(sample.bytes, { binary: sample.kind === 'binary' });
      const outcome = await nextOutcome(3_000);
      if (outcome === 'reply') {
        const index = inbox.findIndex((m) => 'ok' in m);
        const reply = inbox.splice(index, 1)[0]!;
        replies += 1;
        checkReply(reply, what);
        if (reply['ok'] === false) assert.equal(digest(), before, `a rejected frame changed state: ${what} -> ${JSON.stringify(reply)}`);
        if (reply['id'] === 'auth' && identity === 'pending') assert.equal(reply['ok'], false, 'a random token authenticated');
      } else if (outcome === 'closed') {
        assert.notEqual(closeCode, 1011, `internal error close for ${what}`);
        if (sample.kind === 'invalid-utf8') assert.equal(closeCode, 1007);
        if (sample.kind === 'oversized') assert.equal(closeCode, 1009);
        assert.equal(digest(), before, `a frame that closed the socket changed state: ${what}`);
        socket = undefined;
      } else {
        assert.fail(`no reply and no close within the deadline for ${what}`);
      }
      inbox = inbox.filter((m) => !('ok' in m)).slice(-100);
    }),
    { numRuns: runs },
  );
  assert.ok(replies > runs / 3, `most frames were answered (${replies} of ${runs})`);
  // Still serving: a fresh socket answers at once, and HTTP too.
  socket?.terminate();
  socket = undefined;
  const ws = await ensureSocket('root');
  ws.send(JSON.stringify({ id: 'ping', op: 'lock.check', name: 'held', token: 1 }));
  assert.equal(await nextOutcome(3_000), 'reply');
  assert.equal((await server.http('GET', '/healthz')).status, 200);
  assert.equal((await server.http('GET', '/v1/locks', undefined, tokens.reader)).status, 200);
});

test('a flood of tiny valid frames is answered in order and the server stays responsive to others', async () => {
  socket?.terminate();
  socket = undefined;
  const ws = await ensureSocket('root');
  const count = Math.min(5_000, Math.max(1_000, runs * 5));
  for (let i = 0; i < count; i++) ws.send(`{"id":${i},"op":"lock.check","name":"held","token":1}`);
  const startedAt = Date.now();
  const health = await server.http('GET', '/healthz');
  assert.equal(health.status, 200);
  assert.ok(Date.now() - startedAt < 2_000, 'others are served during the flood');
  await within(
    (async () => {
      while (inbox.filter((m) => 'ok' in m).length < count && closeCode === null) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    10_000,
    'the flood to be answered',
  );
  const ids = inbox.filter((m) => 'ok' in m).map((m) => m['id']);
  assert.equal(ids.length, count);
  assert.ok(inbox.filter((m) => 'ok' in m).every((m) => m['ok'] === true));
});

/** True when `header` is a real token in a well-formed Bearer header (the one case that may pass). */
function isValidBearer(header: string): boolean {
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match !== null && (Object.values(tokens) as string[]).includes(match[1]!);
}

const realToken = fc.constantFrom(...Object.values(tokens));
const mutatedToken = fc.oneof(
  fc.tuple(realToken, fc.nat()).map(([t, i]) => t.slice(0, i % t.length)),
  fc.tuple(realToken, fc.string({ minLength: 1, maxLength: 3 })).map(([t, s]) => t + s),
  fc.tuple(realToken, fc.string({ minLength: 1, maxLength: 3 })).map(([t, s]) => s + t),
  fc.tuple(realToken, fc.nat()).map(([t, i]) => {
    const at = i % t.length;
    return t.slice(0, at) + String.fromCharCode(t.charCodeAt(at) ^ 1) + t.slice(at + 1);
  }),
  realToken.map((t) => t.toUpperCase()),
  fc.string({ unit: 'binary', maxLength: 80 }),
);
const header = fc.oneof(
  mutatedToken.map((t) => `Bearer ${t}`),
  fc.tuple(fc.constantFrom('Basic', 'Token', 'bearer', 'BEARER', 'Bearer:', '', 'Bearer\t'), mutatedToken).map(([s, t]) => `${s} ${t}`),
  realToken.map((t) => `Basic ${Buffer.from(`x:${t}`).toString('base64')}`),
  realToken.map((t) => `${t}`),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

test('random Authorization headers never authenticate', async () => {
  const app = server.lockring.app;
  await fc.assert(
    fc.asyncProperty(header, async (value) => {
      // Only what an HTTP header may carry.
      fc.pre(/^[\t\x20-\x7e\x80-\xff]*$/.test(value) && !isValidBearer(value));
      const res = await app.inject({ method: 'GET', url: '/v1/locks', headers: { authorization: value } });
      assert.equal(res.statusCode, 401, `authenticated with ${JSON.stringify(value)}`);
    }),
    { numRuns: runs * 2 },
  );
  await fc.assert(
    fc.asyncProperty(mutatedToken, (token) => {
      fc.pre(!(Object.values(tokens) as string[]).includes(token));
      assert.equal(server.lockring.auth!.authenticateToken(token).ok, false, `token ${JSON.stringify(token)}`);
    }),
    { numRuns: runs * 4 },
  );
});
