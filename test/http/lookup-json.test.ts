import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import Fastify, { type FastifyInstance } from 'fastify';
import { Placement } from '../../src/domain/placement.js';
import { type OwnerLookup, lookupArrays } from '../../src/domain/rings.js';
import { lookupManyJson } from '../../src/http/lookup-json.js';
import { responses } from '../../src/protocol/response-bodies.js';
import { type Api, expectStatus, seg, startApi } from '../helpers/http.js';
import { realHashing } from '../helpers/machine.js';

/**
 * The oracle: fastify's generic serializer compiled from the contract's response
 * schema, as the batch route answered before it wrote its reply itself.
 */
async function genericSerializer(): Promise<{ app: FastifyInstance; bytes: (body: unknown) => Promise<Buffer> }> {
  const app = Fastify();
  let next: unknown = null;
  app.post('/', { schema: { response: { 200: responses.lookupMany } } }, async () => next);
  await app.ready();
  return {
    app,
    bytes: async (body) => {
      next = body;
      const reply = await app.inject({ method: 'POST', url: '/', payload: {} });
      return reply.rawPayload;
    },
  };
}

// Ids that need escaping in JSON, or take 2 to 4 bytes of UTF-8.
const idArb = fc.oneof(
  fc.constantFrom('n1', 'a"b', 'back\\slash', 'tab\tno', 'é', '日本', '\u{1F600}', '\u2028', 'x'.repeat(60)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
);

describe('batch lookup reply', () => {
  let oracle: Awaited<ReturnType<typeof genericSerializer>>;
  let api: Api;
  before(async () => {
    oracle = await genericSerializer();
    api = await startApi();
  });
  after(async () => {
    await oracle.app.close();
    await api.close();
  });

  test('property: the same bytes as the generic serializer, for any members, keys, n and a previous version', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(idArb, { minLength: 0, maxLength: 12 }),
        fc.array(fc.string({ unit: 'binary', maxLength: 10 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 16 }),
        fc.boolean(),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
        async (ids, keys, n, withPrevious, ring) => {
          const placement = new Placement(realHashing);
          for (const id of ids) placement.set(id, 4);
          const past = new Placement(realHashing);
          for (const id of ids.slice(0, Math.ceil(ids.length / 2))) past.set(id, 4);
          const owners = placement.lookupBatch(keys, n);
          const lookup: OwnerLookup = withPrevious
            ? { ring, version: 1_234_567, owners, previous: { version: 42, owners: past.lookupBatch(keys, n) } }
            : { ring, version: 3, owners };
          const expected = await oracle.bytes(lookupArrays(lookup));
          assert.equal(lookupManyJson(lookup).toString('utf8'), expected.toString('utf8'));
          assert.ok(lookupManyJson(lookup).equals(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('over HTTP: the serializer\'s bytes and content type, 10,000 keys at 1,000 members, with and without previous', async () => {
    expectStatus(await api.call('PUT', '/v1/rings/big', { vnodes: 16 }), 201);
    for (let i = 0; i < 1_000; i++) expectStatus(await api.call('PUT', `/v1/rings/big/nodes/${seg(`node-${i}-é`)}`, {}), 201);
    expectStatus(await api.call('DELETE', `/v1/rings/big/nodes/${seg('node-7-é')}`), 200);
    const keys = Array.from({ length: 10_000 }, (_, i) => `user:${i}`);
    for (const body of [{ keys, n: 1 }, { keys, n: 3, previous: 1_000 }, { keys: [], n: 2 }]) {
      const reply = await api.call('POST', '/v1/rings/big/lookup', body);
      const answer = expectStatus(reply, 200);
      assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(answer.nodes.length, body.keys.length);
      assert.equal(reply.text, (await oracle.bytes(answer)).toString('utf8'));
      assert.equal(Number(reply.headers['content-length']), Buffer.byteLength(reply.text));
    }
  });
});
