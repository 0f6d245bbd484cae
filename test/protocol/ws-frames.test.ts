import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { opNames } from '../../src/ws/protocol.js';
import { wsPushes } from '../../src/protocol/ws-frames.js';
import { type TestServer, TestSocket, startServer } from '../ws/helpers.js';

/**
 * The WebSocket frame schema against a real server: every op is sent, and every
 * frame that comes back (replies, errors, pushes) must match the document served at
 * /docs/ws.json, the reply of each op against that op's own reply schema.
 */
let server: TestServer;
let ajv: Ajv2020;
let doc: Record<string, any>;

before(async () => {
  server = await startServer();
  doc = (await server.http('GET', '/docs/ws.json')).body;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc);
});
after(async () => server.close());

const check = (def: string, frame: unknown): string | null => {
  const validate = ajv.getSchema(`lockring-ws-v1#/$defs/${def}`);
  assert.ok(validate, `no $defs/${def}`);
  return validate(frame) ? null : `${def}: ${JSON.stringify(frame)} ${ajv.errorsText(validate.errors)}`;
};

describe('the WebSocket frame schema', () => {
  it('matches every frame a real server sends, for every op and every push', async () => {
    const socket = await TestSocket.open(server.wsUrl);
    const sent = new Map<number, { op: string; frame: Record<string, unknown> }>();
    let seq = 0;
    const send = async (op: string, args: Record<string, unknown>): Promise<Record<string, any>> => {
      const id = ++seq;
      sent.set(id, { op, frame: { id, op, ...args } });
      return socket.request(op, args, id);
    };

    const session = await send('session.open', { ttlMs: 5000 });
    await send('session.resume', { leaseId: session['leaseId'] });
    await send('watch', { topic: 'lock', prefix: '' });
    const ringWatch = await send('watch', { topic: 'ring', ring: 'cache' });
    const lease = await send('lease.grant', { ttlMs: 10_000 });
    const grant = await send('lock.acquire', { name: 'a', leaseId: lease['leaseId'], owner: 'w' });
    await send('lock.check', { name: 'a', token: grant['token'] });
    await send('lease.keepalive', { leaseId: lease['leaseId'] });
    await server.http('PUT', '/v1/rings/cache/nodes/n1', { weight: 1 });
    await socket.push('ring');
    await send('ring.lookup', { ring: 'cache', key: 'k', n: 1 });
    await send('ring.lookup', { ring: 'cache', keys: ['a', 'b'] });
    await send('ring.diff', { ring: 'cache', from: 1, to: 2 });
    const own = await send('lock.acquire', { name: 'b', ttlMs: 1000 });
    await send('lock.release', { name: 'b', token: own['token'] });
    const multi = await send('multilock.acquire', { locks: [{ name: 'm1' }, { name: 'm2', mode: 'read' }], ttlMs: 1000 });
    await send('multilock.release', { holds: multi['grants'].map((g: { name: string; token: number }) => ({ name: g.name, token: g.token })) });
    await send('lease.revoke', { leaseId: lease['leaseId'] });
    await socket.push('lease_expired');
    await send('lock.acquire', { name: 'c', ttlMs: 5000, maxHoldMs: 50 });
    await socket.push('hold_ended');
    const queueHolder = await send('lock.acquire', { name: 'q', ttlMs: 5000 });
    const queued = send('lock.acquire', { name: 'q', ttlMs: 5000, waitMs: 5000, positions: true });
    await socket.push('position');
    await send('lock.release', { name: 'q', token: queueHolder['token'] });
    assert.equal((await queued)['ok'], true);
    const low = await send('lock.acquire', { name: 'y', ttlMs: 5000 });
    const high = server.http('POST', '/v1/locks/y/acquire', { ttlMs: 5000, waitMs: 5000, priority: 5, yieldGraceMs: 50 });
    await socket.push('yield_requested');
    await socket.push('lock', (m) => m['type'] === 'yield_requested');
    const checked = await send('lock.check', { name: 'y', token: low['token'] });
    assert.equal(typeof checked['yieldBy'], 'number');
    await socket.push('hold_ended', (m) => m['reason'] === 'preempted');
    assert.equal((await high).status, 200);
    await send('cancel', { requestId: 99 });
    await send('auth', { token: 'anything-at-all' });
    await send('unwatch', { watchId: ringWatch['watchId'] });
    const refused = await send('lease.grant', { ttlMs: '1000' });
    assert.equal(refused['ok'], false);
    socket.send('not json');
    await socket.next((m) => m['id'] === null && m['ok'] === false, 'the error reply with id null');

    const problems: string[] = [];
    // Every request sent matches its schema, but the one sent to be refused.
    for (const [id, { frame }] of sent) {
      const problem = check('clientFrame', frame);
      if (id === seq) assert.notEqual(problem, null, 'the refused request does not match');
      else if (problem !== null) problems.push(problem);
    }
    for (const frame of socket.log) {
      const general = check('serverFrame', frame);
      if (general !== null) problems.push(general);
      if (typeof frame['event'] === 'string') continue;
      const request = typeof frame['id'] === 'number' ? sent.get(frame['id']) : undefined;
      const own = frame['ok'] === true ? check(`reply:${request!.op}`, frame) : check('errorReply', frame);
      if (own !== null) problems.push(own);
    }
    assert.deepEqual(problems, []);

    const repliedOps = new Set(socket.log.filter((m) => m['ok'] === true).map((m) => sent.get(m['id'])!.op));
    assert.deepEqual([...opNames].filter((op) => !repliedOps.has(op)), [], 'every op was exercised');
    const events = new Set(socket.log.map((m) => m['event']).filter((e) => e !== undefined));
    assert.deepEqual([...events].sort(), Object.keys(wsPushes).sort(), 'every push was seen');
    await socket.close();
  });

  it('rejects frames the protocol does not allow, so matching means something', () => {
    assert.notEqual(check('clientFrame', { id: 1, op: 'lease.grant', ttlMs: '1000' }), null);
    assert.notEqual(check('clientFrame', { id: 1, op: 'lock.nap', name: 'a' }), null);
    assert.notEqual(check('push:lock', { event: 'lock', watchId: 1, type: 'stolen', name: 'a', token: 1, owner: '' }), null);
    assert.notEqual(check('reply:lock.acquire', { id: 1, ok: true, name: 'a' }), null);
    assert.notEqual(check('push:position', { event: 'position', id: 1, name: 'a', position: 0, total: 1 }), null);
    assert.notEqual(check('clientFrame', { id: 1, op: 'lock.acquire', name: 'a', ttlMs: 1000, waitMs: 10, positions: 'yes' }), null);
    assert.equal(check('errorReply', { id: null, ok: false, error: { code: 'invalid_request', message: 'x', field: 'frame' } }), null);
  });
});
