/**
 * The etcd gRPC client against a real 3-member etcd: round trips, fenced
 * txns, and its failure modes (a dead endpoint, an endpoint that never answers, a
 * watch that never opens, a watch cancelled by compaction, a lost lease, a member that
 * dies under a watch and comes back).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Server, type Socket, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EtcdClient, prefixEnd } from '../../src/store/etcd/etcd-client.js';
import { EtcdError } from '../../src/store/etcd/etcd-error.js';
import { type WatchEvent, openWatch } from '../../src/store/etcd/etcd-watch.js';
import { type EtcdCluster, freePort, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';

const key = (text: string): Buffer => Buffer.from(text);

/** A TCP server that accepts connections and never answers: a stalled etcd. */
async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('etcd client over gRPC', { skip: noEtcd }, () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  before(async () => {
    cluster = await startEtcdCluster(3);
    client = new EtcdClient({ endpoints: cluster.endpoints.split(','), callTimeoutMs: 2_000 });
  });
  after(async () => cluster?.stop());

  test('a put is read back with its revisions; a prefix range sees only its keys', async () => {
    const revision = await client.put(key('t/a/1'), key('one'));
    await client.put(key('t/a/2'), key('two'));
    await client.put(key('t/b'), key('other'));
    const found = await client.range(key('t/a/'), { rangeEnd: prefixEnd(key('t/a/')) });
    assert.deepEqual(found.kvs.map((kv) => kv.value.toString()), ['one', 'two']);
    assert.equal(found.kvs[0]!.createRevision, revision);
    assert.ok(found.revision >= revision + 2);
  });

  test('a txn whose compare fails changes nothing and says so', async () => {
    await client.put(key('t/fence'), key('1'));
    const refused = await client.txn([{ key: key('t/fence'), target: 'VALUE', value: key('0') }], [{ put: { key: key('t/fenced'), value: key('x') } }]);
    assert.equal(refused.succeeded, false);
    assert.equal((await client.range(key('t/fenced'))).kvs.length, 0);
    const accepted = await client.txn([{ key: key('t/fence'), target: 'VALUE', value: key('1') }], [{ put: { key: key('t/fenced'), value: key('x') } }]);
    assert.equal(accepted.succeeded, true);
    assert.equal((await client.range(key('t/fenced'))).kvs[0]!.value.toString(), 'x');
  });

  test('a read moves on from an endpoint nobody listens on', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const failing = new EtcdClient({ endpoints: [dead, cluster.members[0]!.clientUrl], callTimeoutMs: 2_000 });
    await client.put(key('t/failover'), key('ok'));
    assert.equal((await failing.range(key('t/failover'))).kvs[0]!.value.toString(), 'ok');
    assert.equal(failing.endpoint, cluster.members[0]!.clientUrl);
  });

  test('a txn moves on from an endpoint that refuses the connection: it surely never arrived', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const failing = new EtcdClient({ endpoints: [dead, cluster.members[1]!.clientUrl], callTimeoutMs: 2_000 });
    const answer = await failing.txn([], [{ put: { key: key('t/refused'), value: key('once') } }]);
    assert.equal(answer.succeeded, true);
    assert.equal((await client.range(key('t/refused'))).kvs[0]!.version, 1);
  });

  test('a call to an endpoint that never answers fails with timeout within its deadline', async () => {
    const silent = await silentServer();
    try {
      const stalled = new EtcdClient({ endpoints: [silent.url], callTimeoutMs: 300 });
      const started = performance.now();
      await assert.rejects(stalled.range(key('t/x')), (error: unknown) => error instanceof EtcdError && error.code === 'timeout');
      assert.ok(performance.now() - started < 2_000);
    } finally {
      await silent.close();
    }
  });

  test('a txn is not retried on another endpoint: its outcome is unknown', async () => {
    const silent = await silentServer();
    try {
      const stalled = new EtcdClient({ endpoints: [silent.url, cluster.members[0]!.clientUrl], callTimeoutMs: 300 });
      await assert.rejects(stalled.txn([], [{ put: { key: key('t/once'), value: key('x') } }]), (error: unknown) => error instanceof EtcdError && error.code === 'timeout');
      assert.equal((await client.range(key('t/once'))).kvs.length, 0);
    } finally {
      await silent.close();
    }
  });

  test('a watch delivers puts and deletes in order', async () => {
    const start = (await client.range(key('t/w'))).revision + 1;
    const seen: WatchEvent[] = [];
    let resolveSeen: () => void = () => {};
    const done = new Promise<void>((resolve) => (resolveSeen = resolve));
    const watch = openWatch(client, { key: key('t/w/'), rangeEnd: prefixEnd(key('t/w/')), startRevision: start }, {
      events: (events) => {
        seen.push(...events);
        if (seen.length >= 3) resolveSeen();
      },
      ended: (error) => assert.fail(error),
    }, 2_000);
    try {
      await client.put(key('t/w/1'), key('a'));
      await client.put(key('t/w/2'), key('b'));
      await client.txn([], [{ deleteRange: { key: key('t/w/1') } }]);
      await done;
      assert.deepEqual(seen.map((e) => `${e.type}:${e.kv.key.toString()}`), ['put:t/w/1', 'put:t/w/2', 'delete:t/w/1']);
    } finally {
      watch.close();
    }
  });

  test('a watch from before the compacted history ends with compacted, not silence', async () => {
    const first = await client.put(key('t/c'), key('1'));
    const last = await client.put(key('t/c'), key('2'));
    await client.compact(last);
    const error = await new Promise<EtcdError>((resolve) => {
      openWatch(client, { key: key('t/c'), startRevision: first }, { events: () => {}, ended: resolve }, 2_000);
    });
    assert.equal(error.code, 'compacted');
  });

  test('a watch on an endpoint that never answers ends with timeout', async () => {
    const silent = await silentServer();
    try {
      const error = await new Promise<EtcdError>((resolve) => {
        openWatch(new EtcdClient({ endpoints: [silent.url], callTimeoutMs: 300 }), { key: key('t/s'), startRevision: 1 }, { events: () => {}, ended: resolve }, 300);
      });
      assert.equal(error.code, 'timeout');
    } finally {
      await silent.close();
    }
  });

  test('a keepalive of a revoked lease says the lease is gone (TTL 0)', async () => {
    const granted = await client.leaseGrant(5);
    assert.equal(granted.ttlSeconds, 5, 'the TTL etcd granted');
    const lease = granted.id;
    assert.ok((await client.leaseKeepAlive(lease)) > 0);
    await client.leaseRevoke(lease);
    assert.equal(await client.leaseKeepAlive(lease), 0);
    await client.leaseRevoke(lease);
  });

  test('a member that dies ends the watch on it (not silence) and is reached again within about a second of coming back', async () => {
    const member = cluster.members[2]!;
    const only = new EtcdClient({ endpoints: [member.clientUrl], callTimeoutMs: 1_000 });
    try {
      const start = (await only.put(key('t/back'), key('1'))) + 1;
      let live: () => void = () => {};
      const confirmed = new Promise<void>((resolve) => (live = resolve));
      const ended = new Promise<EtcdError>((resolve) => {
        openWatch(only, { key: key('t/back/'), rangeEnd: prefixEnd(key('t/back/')), startRevision: start }, { events: () => live(), ended: resolve }, 2_000);
      });
      // An event proves the watch is open on the member before it dies.
      await only.put(key('t/back/1'), key('x'));
      await confirmed;
      await cluster.kill(member);
      assert.equal((await ended).code, 'unreachable');
      // Down for 10 s with calls failing all along: gRPC's own backoff (1 s, growing 1.6x
      // per failed attempt, up to two minutes) would by then wait about 6.5 s before its
      // next try; the client caps it at 1 s.
      const downAt = performance.now();
      while (performance.now() - downAt < 10_000) {
        await assert.rejects(only.range(key('t/back')), (error: unknown) => error instanceof EtcdError && (error.code === 'refused' || error.code === 'unreachable'));
        await sleep(200);
      }
      await cluster.restart(member);
      await cluster.healthy(20_000);
      const answeringAt = performance.now();
      let reached = false;
      while (!reached && performance.now() - answeringAt < 2_500) {
        reached = await only.range(key('t/back')).then(() => true, () => false);
        if (!reached) await sleep(50);
      }
      assert.ok(reached, 'the member was reached again within 2.5 s of answering');
    } finally {
      only.close();
    }
  });

  test('a key on a lease goes when the lease is revoked', async () => {
    const lease = (await client.leaseGrant(5)).id;
    await client.put(key('t/leased'), key('x'), lease);
    await client.leaseRevoke(lease);
    assert.equal((await client.range(key('t/leased'))).kvs.length, 0);
  });
});
