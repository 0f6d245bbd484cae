import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LockringClient, type LockringClientError, type RingView } from '../../src/index.js';
import { type TestServer, startServer, within } from '../ws/helpers.js';

/** Deterministic keys, ASCII and not, so both sides hash the same UTF-8 bytes. */
const keys = Array.from({ length: 2_000 }, (_, i) => (i % 3 === 0 ? `user:${i}` : i % 3 === 1 ? `ключ/${i}` : `k${(i * 7919) % 104_729}✓`));

describe('client: ring views compute placement like the server', () => {
  let server: TestServer;
  let client: LockringClient;
  before(async () => {
    server = await startServer();
    client = new LockringClient({ url: server.base, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  /** Resolves once `ready(view)` holds, now or after one of the view's changes. */
  const until = (view: RingView, ready: (view: RingView) => boolean, what: string): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        if (ready(view)) return resolve();
        const stop = view.onChange(() => {
          if (!ready(view)) return;
          stop();
          resolve();
        });
      }),
      5_000,
      what,
    );
  const changed = (view: RingView, version: number): Promise<void> => until(view, (v) => v.version >= version, `version ${version}`);

  /** Every key for n = 1..3 against the server's batch lookup at the same version. */
  const agree = async (view: RingView): Promise<void> => {
    for (const n of [1, 2, 3]) {
      const server = await client.lookupMany(view.name, keys, { n, version: view.version });
      keys.forEach((key, i) => assert.deepEqual(view.lookup(key, n), server.nodes[i], `${key} n=${n} at version ${view.version}`));
    }
  };

  test('the contract test vectors', async () => {
    await client.putNode('vectors', 'alpha', { weight: 1 });
    await client.putNode('vectors', 'beta', { weight: 1 });
    const last = await client.putNode('vectors', 'gamma', { weight: 2 });
    const view = await client.ring('vectors');
    assert.equal(view.version, last.version);
    assert.equal(view.vnodes, 160);
    assert.deepEqual(view.lookup('user:1', 2), ['gamma', 'alpha']);
    assert.deepEqual(view.lookup('user:2', 2), ['beta', 'gamma']);
    assert.deepEqual(view.lookup('user:3', 2), ['gamma', 'beta']);
    assert.deepEqual(view.lookup('order/9', 2), ['gamma', 'alpha']);
    assert.deepEqual(view.lookup('ключ', 2), ['beta', 'alpha']);
    assert.deepEqual(view.lookup('user:1', 16), ['gamma', 'alpha', 'beta'], 'fewer nodes than asked');
    await view.close();
  });

  test('a view follows every change by push and agrees with the server after each', async () => {
    const view = await client.ring('live');
    assert.equal(view.exists, false);
    assert.throws(() => view.lookup('x'), (e: LockringClientError) => e.code === 'ring_not_found');
    let version = (await client.putRing('live', { vnodes: 40 })).version;
    await changed(view, version);
    assert.throws(() => view.lookup('x'), (e: LockringClientError) => e.code === 'ring_empty');

    const steps: (() => Promise<{ version: number }>)[] = [
      () => client.putNode('live', 'n1', { weight: 1 }),
      () => client.putNode('live', 'n2', { weight: 2.5 }),
      () => client.putNode('live', 'n3', { weight: 0.3 }),
      () => client.putNode('live', 'zero', { weight: 0 }),
      () => client.putNode('live', 'n1', { weight: 1.7 }),
      () => client.putNode('live', 'n1', { weight: 1.7, meta: { note: 'same placement, new version' } }),
      () => client.putRing('live', { vnodes: 97 }),
      () => client.deleteNode('live', 'n2'),
      () => client.putNode('live', 'n4', { weight: 1, meta: { zone: 'b' } }),
    ];
    for (const step of steps) {
      version = (await step()).version;
      await changed(view, version);
      await agree(view);
    }
    assert.deepEqual(view.nodes.map((node) => node.id), ['n1', 'n3', 'n4', 'zero']);

    await client.deleteRing('live');
    await until(view, (v) => !v.exists, 'the deletion');
    assert.equal(view.version, 0);
    await client.putNode('live', 'again', {});
    await changed(view, 2);
    assert.deepEqual(view.lookup('anything'), ['again']);
    await view.close();
  });

  test('after a reconnect the view reads the ring again and keeps following it', async () => {
    const view = await client.ring('after-drop');
    await client.putNode('after-drop', 'a', {});
    await changed(view, 2);
    const reconnected = within(new Promise((resolve) => client.once('connected', resolve)), 5_000, 'reconnect');
    for (const connection of server.hub.connections) connection.closeWith(1012, 'test restart');
    // Changed while the client is away: no push for this one, the re-read brings it.
    const missed = await client.putNode('after-drop', 'b', { weight: 3 });
    await reconnected;
    await changed(view, missed.version);
    const next = await client.putNode('after-drop', 'c', {});
    await changed(view, next.version);
    await agree(view);
    await view.close();
  });
});
