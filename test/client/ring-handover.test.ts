import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LockringClient, type RingView } from '../../src/index.js';
import { type TestServer, startServer, within } from '../ws/helpers.js';

const keys = Array.from({ length: 1_000 }, (_, i) => (i % 2 === 0 ? `user:${i}` : `ключ/${i}`));

describe('client: handover lookups, diffs and ketama ring views against a real server', () => {
  let server: TestServer;
  let client: LockringClient;
  before(async () => {
    server = await startServer({ ringDiffRangesPageMax: 5 });
    client = new LockringClient({ url: server.base, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  const reaches = (view: RingView, version: number): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        if (view.version >= version) return resolve();
        const stop = view.onChange(() => {
          if (view.version < version) return;
          stop();
          resolve();
        });
      }),
      5_000,
      `version ${version}`,
    );

  test('a ring view keeps the placement before its last change and answers both, as the server does', async () => {
    for (const node of ['a', 'b', 'c']) await client.putNode('hv', node);
    const view = await client.ring('hv');
    assert.equal(view.version, 4);
    assert.equal(view.previousVersion, 0, 'the first read has nothing before it');
    assert.equal(view.lookupWithPrevious('k').previous, undefined);
    await client.putNode('hv', 'd', { weight: 2 });
    await reaches(view, 5);
    assert.equal(view.previousVersion, 4);
    const server = await client.lookupMany('hv', keys, { n: 2, previous: 4 });
    for (const [i, key] of keys.entries()) {
      assert.deepEqual(view.lookupWithPrevious(key, 2), { version: 5, nodes: server.nodes[i], previous: { version: 4, nodes: server.previous!.nodes[i] } }, key);
    }
    await view.close();
  });

  test('a ring view of a ketama ring places keys as the server does', async () => {
    await client.putRing('kv', { algorithm: 'ketama' });
    for (const [node, weight] of [['10.0.0.1:11211', 1], ['10.0.0.2:11211', 3], ['10.0.0.3:11212', 2]] as const) {
      await client.putNode('kv', node, { weight });
    }
    const view = await client.ring('kv');
    const server = await client.lookupMany('kv', keys, { n: 2 });
    for (const [i, key] of keys.entries()) assert.deepEqual(view.lookup(key, 2), server.nodes[i], key);
    await client.deleteNode('kv', '10.0.0.2:11211');
    await reaches(view, 5);
    const after = await client.lookupMany('kv', keys, { n: 2, previous: 4 });
    for (const [i, key] of keys.entries()) {
      const both = view.lookupWithPrevious(key, 2);
      assert.deepEqual([both.nodes, both.previous?.nodes], [after.nodes[i], after.previous!.nodes[i]], key);
    }
    await view.close();
  });

  test('ringDiffAll reads every page; a key moved iff a range holds its position', async () => {
    const diff = await client.ringDiff('hv', 4, 5);
    assert.equal(diff.ranges.length, 5, 'one page of ringDiffRangesPageMax');
    assert.equal(typeof diff.next, 'number');
    const all = await client.ringDiffAll('hv', 4, 5);
    assert.ok(all.length > 5);
    assert.deepEqual(all.slice(0, 5), diff.ranges);
    assert.ok(all.every((range) => range.after[0] === 'd'), 'only the node added gained keys');
    await assert.rejects(client.ringDiff('hv', 1, 99), (error: { code?: string }) => error.code === 'version_unavailable');
  });
});
