/**
 * The acceptance suite (test/acceptance/server.test.ts), run unchanged against a
 * server in replicated mode on a real 3-member etcd: the contract is the same.
 */
import { after, test } from 'node:test';
import { type EtcdCluster, noEtcd, startEtcdCluster } from '../helpers/etcd-cluster.js';

if (noEtcd !== false) {
  test('acceptance suite in replicated mode', { skip: noEtcd }, () => {});
} else {
  const cluster: EtcdCluster = await startEtcdCluster(3);
  process.env['LOCKRING_TEST_ETCD'] = cluster.endpoints;
  after(() => cluster.stop());
  await import('../acceptance/server.test.js');
}
