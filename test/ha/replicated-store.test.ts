/**
 * The replicated store in-process against a real etcd: two replicas with their
 * own state machines. Election, fenced appends, standby follow, takeover (state,
 * full TTLs, token floor), a deposed active's append, snapshots and compaction.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { ManualClock } from '../../src/domain/clock.js';
import { StateMachine } from '../../src/domain/state-machine.js';
import { makeLimits } from '../../src/limits.js';
import { EtcdClient } from '../../src/store/etcd/etcd-client.js';
import type { EtcdError } from '../../src/store/etcd/etcd-error.js';
import { ClusterKeys } from '../../src/store/etcd/etcd-keys.js';
import { loadSnapshot } from '../../src/store/etcd/etcd-snapshot.js';
import { RecoveryImage } from '../../src/store/recovery-image.js';
import { type ReplicatedOptions, type ReplicatedStore, openReplicatedStore } from '../../src/store/etcd/replicated-store.js';
import { type EtcdCluster, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';
import { realHashing } from '../helpers/machine.js';
import { random } from '../helpers/random.js';
import { digest, step } from '../store/helpers.js';
import { lockDelay } from '../../src/domain/lock-extra.js';

interface Replica {
  readonly machine: StateMachine;
  readonly clock: ManualClock;
  readonly opened: Promise<ReplicatedStore>;
  readonly fatal: EtcdError[];
  active: string | null;
}

const silent = pino({ level: 'silent' });

describe('replicated store against a real etcd', { skip: noEtcd }, () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  const stores: ReplicatedStore[] = [];
  before(async () => {
    cluster = await startEtcdCluster(3);
    client = new EtcdClient({ endpoints: cluster.endpoints.split(','), callTimeoutMs: 2_000 });
  });
  after(async () => {
    for (const store of stores) await store.close().catch(() => {});
    await cluster?.stop();
  });

  function replica(name: string, clusterName: string, extra: Partial<ReplicatedOptions> = {}): Replica {
    const clock = new ManualClock();
    const prefix = randomBytes(4).toString('hex');
    let next = 0;
    const machine = new StateMachine({ clock, limits: makeLimits(), hashing: realHashing, newLeaseId: () => `${prefix}-${++next}` });
    const fatal: EtcdError[] = [];
    const self: Replica = {
      machine, clock, fatal, active: null,
      opened: openReplicatedStore({
        endpoints: cluster.endpoints.split(','), cluster: clusterName, advertiseUrl: `http://${name}`, sessionTtlMs: 1_000,
        machine, limits: makeLimits(), log: silent,
        onActive: (url) => (self.active = url),
        onFatal: (error) => fatal.push(error),
        ...extra,
      }).then((store) => {
        stores.push(store);
        return store;
      }),
    };
    return self;
  }

  async function eventually(what: string, probe: () => boolean, withinMs = 8_000): Promise<void> {
    const deadline = performance.now() + withinMs;
    while (!probe()) {
      if (performance.now() > deadline) assert.fail(`${what} did not happen within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('a standby takes over with every acknowledged change, full TTLs and tokens above the old ones', async () => {
    const a = replica('a', 'takeover');
    const storeA = await a.opened;
    const b = replica('b', 'takeover');
    await eventually('b learns the active', () => b.active === 'http://a');
    const lease = a.machine.run((m) => m.leases.grant(30_000, 'plain', undefined));
    const grant = a.machine.run((m) => m.locks.acquire({ name: 'job', leaseId: lease.id }));
    assert.ok('granted' in grant);
    a.machine.run((m) => m.rings.putMember('r', 'n1', { weight: 2 }));
    const released = a.machine.run((m) => m.locks.acquire({ name: 'gone', ttlMs: 5_000 }));
    assert.ok('granted' in released);
    a.machine.run((m) => m.locks.release('gone', released.granted.token));
    await storeA.settled();
    const lastA = a.machine.lastToken;
    a.clock.advance(25_000);
    await storeA.close();
    const storeB = await b.opened;
    const restored = b.machine.leases.byId.get(lease.id);
    assert.ok(restored, 'the lease survived the takeover');
    assert.equal(b.machine.leases.expiresAt(restored) !== null && b.machine.leases.expiresAt(restored)! - b.clock.wallMs() >= 30_000, true, 'full TTL from the takeover');
    assert.equal(b.machine.locks.holderOf('job', grant.granted.token) !== undefined, true);
    assert.equal(b.machine.locks.byName.get('gone'), undefined, 'the release was not lost');
    assert.equal(b.machine.rings.get('r').members.get('n1')?.weight, 2);
    const next = b.machine.run((m) => m.locks.acquire({ name: 'after', ttlMs: 5_000 }));
    assert.ok('granted' in next && next.granted.token > lastA, 'tokens never go back across a takeover');
    assert.ok(storeB.epoch > storeA.epoch);
  });

  test('a deposed active cannot append: its txn fails the fence and it stops', async () => {
    const a = replica('a', 'deposed');
    const storeA = await a.opened;
    const b = replica('b', 'deposed');
    await eventually('b learns the active', () => b.active === 'http://a');
    // As if a's session had expired at etcd while a was paused: its candidate key goes.
    await client.txn([], [{ deleteRange: { key: storeA.leadership.key } }]);
    await b.opened;
    a.machine.run((m) => m.leases.grant(10_000, 'plain', undefined));
    await assert.rejects(Promise.resolve(storeA.settled()));
    await eventually('a stops', () => a.fatal.length > 0, 2_000);
    const keys = new ClusterKeys('deposed');
    const head = (await client.range(keys.head)).kvs[0];
    assert.equal(head?.value.toString(), '0', 'nothing of the deposed active reached the log');
  });

  test('a snapshot replaces the log it covers; a new standby loads it and a watching one reloads after compaction', async () => {
    const a = replica('a', 'snap', { snapshotEveryRecords: 1_000_000 });
    const storeA = await a.opened;
    const b = replica('b', 'snap');
    await eventually('b learns the active', () => b.active === 'http://a');
    const leases: string[] = [];
    for (let i = 0; i < 50; i++) {
      const lease = a.machine.run((m) => m.leases.grant(20_000, 'plain', undefined));
      a.machine.run((m) => m.locks.acquire({ name: `lock-${i}`, leaseId: lease.id }));
      leases.push(lease.id);
    }
    await storeA.snapshot();
    const keys = new ClusterKeys('snap');
    const logLeft = await client.range(keys.logPrefix, { rangeEnd: keys.logEnd });
    assert.equal(logLeft.kvs.length, 0, 'the log before the snapshot is deleted');
    a.machine.run((m) => m.leases.revoke(leases[0]!));
    await storeA.settled();
    const c = replica('c', 'snap');
    await eventually('c learns the active', () => c.active === 'http://a');
    await storeA.close();
    const storeB = await b.opened;
    assert.equal(b.machine.locks.byName.size, 49);
    assert.equal(b.machine.leases.byId.has(leases[0]!), false);
    await storeB.close();
    await c.opened;
    assert.equal(c.machine.locks.byName.size, 49);
  });

  for (const seed of [21, 22, 23]) {
    test(`a snapshot written while the state changes gives the next actives exactly the state (seed ${seed})`, async () => {
      const name = `snap-fuzzy-${seed}`;
      // Small chunks, so the snapshot spans many and its checksum is carried across them.
      const limits = { ...makeLimits(), etcdSnapshotChunkBytesMax: 1_024 };
      const a = replica('a', name, { snapshotEveryRecords: 1_000_000, snapshotSliceItems: 2, limits });
      const storeA = await a.opened;
      // b watches the log through the snapshot (and reloads when it is compacted); c starts after it.
      const b = replica('b', name);
      await eventually('b learns the active', () => b.active === 'http://a');
      const rand = random(seed);
      for (let i = 0; i < 200; i++) step(a, rand);
      await storeA.settled();
      // The walk writes two records per turn; every turn in between changes things.
      let done = false;
      const snapshot = storeA.snapshot().finally(() => {
        done = true;
      });
      // Bounded: a snapshot that never ends fails the test instead of looping.
      for (let turn = 0; !done && turn < 100_000; turn++) {
        for (let i = 0; i < 3; i++) step(a, rand);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await snapshot;
      for (let i = 0; i < 30; i++) step(a, rand);
      await storeA.settled();
      // The installed snapshot is fuzzy: it reflects records after the one it starts from.
      const image = new RecoveryImage();
      const loaded = await loadSnapshot(client, new ClusterKeys(name), image);
      assert.ok(loaded !== null && loaded.seq > 0, 'the snapshot was installed');
      assert.ok(loaded.chunks > 1, `the snapshot spans chunks (${loaded.chunks})`);
      assert.ok(image.snapshot!.endSeq > image.snapshot!.startSeq, `records were appended during the walk (${image.snapshot!.startSeq}..${image.snapshot!.endSeq})`);
      const expected = digest(a.machine);
      const c = replica('c', name);
      await eventually('c learns the active', () => c.active === 'http://a');
      // The token counter jumps to its floor at a takeover; everything else is as it was.
      const sameState = (machine: StateMachine, who: string): void => {
        const { lastToken, ...state } = digest(machine);
        const { lastToken: lastTokenA, ...stateA } = expected;
        assert.deepEqual(state, stateA, who);
        assert.ok(lastToken >= lastTokenA, `${who}: tokens never go back across a takeover`);
      };
      await storeA.close();
      const next = await Promise.race([b.opened.then(() => b), c.opened.then(() => c)]);
      sameState(next.machine, next === b ? 'b, which watched through the snapshot' : 'c, which loaded it');
      await (await next.opened).close();
      const last = next === b ? c : b;
      await last.opened;
      sameState(last.machine, last === b ? 'b, which watched through the snapshot' : 'c, which loaded it');
    });
  }

  test('a snapshot in etcd keeps what the local one keeps: the algorithm and history of a ring, a running lock-delay', async () => {
    const a = replica('a', 'snap-shape', { snapshotEveryRecords: 1_000_000 });
    const storeA = await a.opened;
    a.machine.run((m) => m.rings.put('cache', { algorithm: 'ketama' }));
    a.machine.run((m) => m.rings.putMember('cache', 'n1', { weight: 1 }));
    const before = a.machine.rings.get('cache').version;
    a.machine.run((m) => m.rings.putMember('cache', 'n2', { weight: 1 }));
    const held = a.machine.run((m) => m.locks.acquire({ name: 'delayed', ttlMs: 1_000, lockDelayMs: 60_000 }));
    assert.ok('granted' in held);
    a.clock.advance(1_001);
    a.machine.tick();
    assert.ok(lockDelay(a.machine.locks.byName.get('delayed')!) !== null, 'the expiry started the lock-delay');
    await storeA.snapshot();
    const b = replica('b', 'snap-shape');
    await eventually('b learns the active', () => b.active === 'http://a');
    await storeA.close();
    await b.opened;
    const ring = b.machine.rings.get('cache');
    assert.equal(ring.algorithm, 'ketama', 'the ring keeps its algorithm');
    const diff = b.machine.run((m) => m.rings.diff('cache', { from: before, to: ring.version, n: 1, start: 0, limit: 1_000 }));
    assert.ok(diff.ranges.length > 0, 'the history before the snapshot can still be diffed');
    assert.throws(() => b.machine.run((m) => m.locks.acquire({ name: 'delayed', ttlMs: 1_000 })), { code: 'lock_held' }, 'the lock-delay still runs');
  });
});
