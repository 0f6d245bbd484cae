import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, expectError, expectStatus, settle, startApi } from '../helpers/http.js';

const metricNames = [
  'lockring_leases_active',
  'lockring_locks_held',
  'lockring_lock_waiters',
  'lockring_lock_acquire_total',
  'lockring_lock_wait_seconds',
  'lockring_lock_hold_seconds',
  'lockring_lease_expired_total',
  'lockring_fencing_token_last',
  'lockring_expiry_lateness_seconds',
  'lockring_ring_nodes',
  'lockring_ring_lookups_total',
  'lockring_ws_connections',
  'lockring_ws_slow_closed_total',
];
const histograms = ['lockring_lock_wait_seconds', 'lockring_lock_hold_seconds', 'lockring_expiry_lateness_seconds'];

/** The value of one sample line, e.g. `name{label="x"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line !== undefined, `series ${series} present`);
  return Number(line.slice(series.length + 1));
}

/** Every label value in the exposition, to show none is a lock name, key or lease id. */
function labelValues(text: string): string[] {
  const values: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    for (const match of line.matchAll(/[a-zA-Z_]+="((?:[^"\\]|\\.)*)"/g)) values.push(match[1]!);
  }
  return values;
}

describe('HTTP operations', () => {
  let api: Api;
  let leaseSeq = 0;
  before(async () => {
    api = await startApi({ newLeaseId: () => `lease-id-private-${++leaseSeq}` });
  });
  after(() => api.close());

  test('/healthz and /readyz answer 200 JSON', async () => {
    const health = expectStatus(await api.call('GET', '/healthz'), 200);
    assert.equal(health.status, 'ok');
    const ready = expectStatus(await api.call('GET', '/readyz'), 200);
    assert.equal(ready.status, 'ready');
  });

  test('/metrics lists every metric the contract names, in Prometheus text format', async () => {
    const reply = await api.call('GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain/);
    for (const name of metricNames) assert.match(reply.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    for (const name of histograms) assert.match(reply.text, new RegExp(`^# TYPE ${name} histogram$`, 'm'), name);
    for (const result of ['granted', 'conflict', 'timeout', 'rejected']) {
      assert.match(reply.text, new RegExp(`^lockring_lock_acquire_total\\{result="${result}"\\} `, 'm'), result);
    }
    assert.match(reply.text, /^process_cpu_user_seconds_total /m, 'Node.js process metrics');
    assert.match(reply.text, /^nodejs_heap_size_used_bytes /m);
  });

  test('metrics follow what happens, and no label carries a lock name, key or lease id', async () => {
    const before = (await api.call('GET', '/metrics')).text;
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const held = expectStatus(await api.call('POST', '/v1/locks/secret-lock-name/acquire', { leaseId: lease.id, owner: 'secret-owner' }), 200);
    expectError(await api.call('POST', '/v1/locks/secret-lock-name/acquire', { ttlMs: 1_000 }), 409, 'lock_held');
    expectError(await api.call('POST', '/v1/locks/other-secret/acquire', { leaseId: 'no-such-lease-secret' }), 404, 'lease_not_found');
    const waiting = api.call('POST', '/v1/locks/secret-lock-name/acquire', { ttlMs: 5_000, waitMs: 200 });
    for (let i = 0; i < 1_000 && api.lockring.machine.locks.waiterCount === 0; i++) await settle();
    const during = (await api.call('GET', '/metrics')).text;
    assert.equal(sample(during, 'lockring_lock_waiters'), 1);
    assert.equal(sample(during, 'lockring_locks_held'), 1);
    assert.equal(sample(during, 'lockring_fencing_token_last'), held.token);
    api.advance(200);
    expectError(await waiting, 409, 'lock_held');
    expectStatus(await api.call('PUT', '/v1/rings/metered/nodes/n1', { meta: { host: 'secret-host' } }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/metered/nodes/n2', {}), 201);
    expectStatus(await api.call('GET', '/v1/rings/metered/lookup?key=secret-key-one'), 200);
    expectStatus(await api.call('POST', '/v1/rings/metered/lookup', { keys: ['secret-key-two', 'secret-key-three'] }), 200);
    api.advance(800);
    const text = (await api.call('GET', '/metrics')).text;

    const delta = (series: string): number => sample(text, series) - sample(before, series);
    assert.equal(delta('lockring_lock_acquire_total{result="granted"}'), 1);
    assert.equal(delta('lockring_lock_acquire_total{result="conflict"}'), 1);
    assert.equal(delta('lockring_lock_acquire_total{result="timeout"}'), 1);
    assert.equal(delta('lockring_lock_acquire_total{result="rejected"}'), 1);
    assert.equal(delta('lockring_lease_expired_total'), 1);
    assert.equal(delta('lockring_ring_lookups_total'), 3);
    assert.equal(delta('lockring_lock_hold_seconds_count'), 1);
    assert.equal(delta('lockring_expiry_lateness_seconds_count'), 1);
    assert.equal(sample(text, 'lockring_ring_nodes{ring="metered"}'), 2);
    assert.equal(sample(text, 'lockring_locks_held'), 0);
    assert.equal(sample(text, 'lockring_leases_active'), 0);

    for (const secret of ['secret', 'lease-id-private', lease.id]) {
      assert.equal(text.includes(secret), false, `${secret} appears in /metrics`);
    }
    const labels = labelValues(text);
    assert.ok(labels.includes('metered'), 'the ring label is the only name that shows');
    for (const value of labels) assert.doesNotMatch(value, /secret|lease-id/);
  });

  test('/docs describes the HTTP routes as OpenAPI', async () => {
    const reply = await api.call('GET', '/docs/json');
    assert.equal(reply.status, 200, reply.text.slice(0, 200));
    const doc = reply.body;
    assert.match(String(doc.openapi), /^3\./);
    for (const path of [
      '/v1/leases',
      '/v1/leases/{id}',
      '/v1/leases/{id}/keepalive',
      '/v1/locks',
      '/v1/locks/{name}',
      '/v1/locks/{name}/acquire',
      '/v1/locks/{name}/release',
      '/v1/locks/{name}/check',
      '/v1/rings',
      '/v1/rings/{ring}',
      '/v1/rings/{ring}/nodes/{node}',
      '/v1/rings/{ring}/lookup',
    ]) {
      assert.ok(doc.paths[path] !== undefined, `${path} documented`);
    }
  });
});
