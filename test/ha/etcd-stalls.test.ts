/**
 * Failure modes of the etcd client that are silent: a member that stops answering
 * without closing anything (behind a proxy that stalls). A stalled log watch is
 * caught up by the head polls; keepalives that stall on one member move on to
 * the others; keepalives lost on every member make the replica give up before
 * etcd can expire its session; a fenced append is counted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ManualClock } from '../../src/domain/clock.js';
import { StateMachine } from '../../src/domain/state-machine.js';
import { makeLimits } from '../../src/limits.js';
import { EtcdClient } from '../../src/store/etcd/etcd-client.js';
import type { EtcdError } from '../../src/store/etcd/etcd-error.js';
import { ClusterKeys } from '../../src/store/etcd/etcd-keys.js';
import { Election } from '../../src/store/etcd/election.js';
import { type ReplicatedStore, openReplicatedStore } from '../../src/store/etcd/replicated-store.js';
import { type AppendFailureReason, type ReplicationObserver, silentObserver } from '../../src/store/etcd/replication-observer.js';
import { type EtcdCluster, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';
import { realHashing } from '../helpers/machine.js';
import { type StallProxy, stallProxy } from '../helpers/stall-proxy.js';

const silent = pino({ level: 'silent' });

interface Seen {
  readonly lags: number[];
  readonly failures: AppendFailureReason[];
}

function recording(): { observer: ReplicationObserver; seen: Seen } {
  const seen: Seen = { lags: [], failures: [] };
  return {
    seen,
    observer: { ...silentObserver, followerLag: (records) => seen.lags.push(records), appendFailed: (reason) => seen.failures.push(reason) },
  };
}

async function eventually(what: string, probe: () => boolean, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!probe()) {
    if (performance.now() > deadline) assert.fail(`${what} did not happen within ${withinMs} ms`);
    await sleep(20);
  }
}

describe('etcd that stalls', { skip: noEtcd, timeout: 90_000 }, () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  const proxies: StallProxy[] = [];
  const stores: ReplicatedStore[] = [];
  before(async () => {
    cluster = await startEtcdCluster(3);
    client = new EtcdClient({ endpoints: cluster.endpoints.split(','), callTimeoutMs: 2_000 });
  });
  after(async () => {
    for (const store of stores) await store.close().catch(() => {});
    for (const proxy of proxies) await proxy.close();
    await cluster?.stop();
  });

  function replica(name: string, clusterName: string, endpoints: string[], observer: ReplicationObserver, onActive: (url: string | null) => void = () => {}) {
    const prefix = randomBytes(4).toString('hex');
    let next = 0;
    const machine = new StateMachine({ clock: new ManualClock(), limits: makeLimits(), hashing: realHashing, newLeaseId: () => `${prefix}-${++next}` });
    const fatal: EtcdError[] = [];
    const opened = openReplicatedStore({
      endpoints, cluster: clusterName, advertiseUrl: `http://${name}`, sessionTtlMs: 3_000, machine, limits: makeLimits(), log: silent,
      onActive, onFatal: (error) => fatal.push(error), observer,
    }).then((store) => {
      stores.push(store);
      return store;
    });
    return { machine, fatal, opened };
  }

  test('a member that stalls under a standby: its session lives on the others, its log watch is caught up by head polls', async () => {
    const proxy = await stallProxy(cluster.members[0]!.clientUrl);
    proxies.push(proxy);
    const direct = cluster.endpoints.split(',');
    const a = replica('a', 'stall', direct, silentObserver);
    const storeA = await a.opened;
    let bKnows: string | null = null;
    const { observer, seen } = recording();
    // The stalling member first: b's watches and calls start there.
    const b = replica('b', 'stall', [proxy.url, ...direct.slice(1)], observer, (url) => (bKnows = url));
    await eventually('b learns the active', () => bKnows === 'http://a', 10_000);
    proxy.stall();
    const leases: string[] = [];
    for (let i = 0; i < 20; i++) {
      const lease = a.machine.run((m) => m.leases.grant(60_000, 'plain', undefined));
      a.machine.run((m) => m.locks.acquire({ name: `stalled-${i}`, leaseId: lease.id }));
      leases.push(lease.id);
    }
    await storeA.settled();
    const head = storeA.appendedPosition();
    await eventually('b sees that it is behind', () => seen.lags.some((lag) => lag > 0), 10_000);
    const behindAt = seen.lags.findIndex((lag) => lag > 0);
    await eventually('b catches up without its watch', () => seen.lags.slice(behindAt).includes(0), 10_000);
    assert.deepEqual(b.fatal, [], 'the session outlived the stalled member');
    await storeA.close();
    await b.opened;
    assert.equal(b.machine.locks.byName.size, 20);
    for (const id of leases) assert.ok(b.machine.leases.byId.has(id));
    assert.ok(head >= 40);
  });

  test('keepalives lost on every member: the replica gives its leadership up while etcd still holds its session', async () => {
    const proxy = await stallProxy(cluster.members[1]!.clientUrl);
    proxies.push(proxy);
    const only = new EtcdClient({ endpoints: [proxy.url], callTimeoutMs: 1_000 });
    const keys = new ClusterKeys('lost-keepalive');
    let lostAt = 0;
    let keyAtLoss: Promise<number> | null = null;
    const election = new Election({
      client: only, keys, log: silent, advertiseUrl: 'http://lonely', sessionTtlMs: 2_000, driftMarginMs: 250,
      onActive: () => {},
      onLost: () => {
        lostAt = performance.now();
        keyAtLoss = client.range(keys.electionPrefix, { rangeEnd: keys.electionEnd }).then((answer) => answer.kvs.length);
      },
    });
    await election.campaign();
    const stalledAt = performance.now();
    proxy.stall();
    await eventually('the replica gives up', () => lostAt > 0, 5_000);
    assert.equal(election.holdsSession(), false);
    assert.ok(lostAt - stalledAt < 2_000, `gave up ${Math.round(lostAt - stalledAt)} ms after the stall, not within the TTL`);
    assert.equal(await keyAtLoss!, 1, 'etcd still held the session when the replica gave up: no one else could have won yet');
    election.stop();
  });

  test('an append refused by the fence is counted as fenced', async () => {
    const direct = cluster.endpoints.split(',');
    const { observer, seen } = recording();
    const a = replica('a', 'fenced-count', direct, observer);
    const storeA = await a.opened;
    // As if a's session had expired at etcd: its candidate key goes.
    await client.txn([], [{ deleteRange: { key: storeA.leadership.key } }]);
    a.machine.run((m) => m.leases.grant(10_000, 'plain', undefined));
    await assert.rejects(Promise.resolve(storeA.settled()));
    assert.deepEqual(seen.failures, ['fenced']);
    assert.equal(a.fatal.length, 1);
  });
});
