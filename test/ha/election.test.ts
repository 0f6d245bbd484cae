/**
 * The election against a real etcd: the lowest create revision owns it, a
 * standby learns the active's URL and wins when its predecessor goes, and
 * leadership is trusted only within the session TTL minus the drift margin.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { EtcdClient } from '../../src/store/etcd/etcd-client.js';
import type { EtcdError } from '../../src/store/etcd/etcd-error.js';
import { ClusterKeys } from '../../src/store/etcd/etcd-keys.js';
import { Election, type ElectionOptions } from '../../src/store/etcd/election.js';
import { type EtcdCluster, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';

describe('election over etcd', { skip: noEtcd }, () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  const elections: Election[] = [];
  before(async () => {
    cluster = await startEtcdCluster(3);
    client = new EtcdClient({ endpoints: cluster.endpoints.split(','), callTimeoutMs: 2_000 });
  });
  after(async () => {
    for (const election of elections) await election.resign();
    await cluster?.stop();
  });

  function candidate(name: string, cluster: string, extra: Partial<ElectionOptions> = {}): { election: Election; seen: (string | null)[]; lost: EtcdError[] } {
    const seen: (string | null)[] = [];
    const lost: EtcdError[] = [];
    const election = new Election({
      client, keys: new ClusterKeys(cluster), log: pino({ level: 'silent' }), advertiseUrl: `http://${name}`,
      sessionTtlMs: 1_000, driftMarginMs: 250, onActive: (url) => seen.push(url), onLost: (error) => lost.push(error), ...extra,
    });
    elections.push(election);
    return { election, seen, lost };
  }

  test('the first candidate owns the election; the next learns its URL and wins once it resigns', async () => {
    const a = candidate('a', 'e1');
    const won = await a.election.campaign();
    const b = candidate('b', 'e1');
    let bWon = false;
    const bCampaign = b.election.campaign().then((leadership) => {
      bWon = true;
      return leadership;
    });
    for (let i = 0; i < 100 && b.seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(b.seen, ['http://a']);
    assert.equal(bWon, false, 'two owners at once');
    await a.election.resign();
    const leadershipB = await bCampaign;
    assert.ok(leadershipB.createRevision > won.createRevision);
    assert.equal(b.seen.at(-1), 'http://b');
  });

  test('leadership is trusted until TTL minus drift after the last keepalive was sent, not later', async () => {
    let now = 1_000_000;
    const a = candidate('a', 'e2', { now: () => now });
    await a.election.campaign();
    a.election.stop();
    assert.equal(a.election.holdsSession(), true);
    now += 1_000 - 250 - 1;
    assert.equal(a.election.holdsSession(), true);
    now += 2;
    assert.equal(a.election.holdsSession(), false);
  });

  test('a session whose lease is revoked at etcd is reported lost by the next keepalive', async () => {
    const a = candidate('a', 'e3');
    await a.election.campaign();
    const keys = new ClusterKeys('e3');
    const mine = (await client.range(keys.electionPrefix, { rangeEnd: keys.electionEnd })).kvs[0]!;
    await client.leaseRevoke(mine.lease);
    for (let i = 0; i < 200 && a.lost.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(a.lost.length, 1);
    assert.equal(a.election.holdsSession(), false);
  });
});
