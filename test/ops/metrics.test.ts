import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { after, before, describe, it } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { repoPath } from '../helpers/repo-root.js';

/** Every metric the API reference promises, plus the operations metrics. */
const contractMetrics = [
  'lockring_leases_active', 'lockring_locks_held', 'lockring_lock_waiters', 'lockring_lock_acquire_total',
  'lockring_lock_wait_seconds', 'lockring_lock_hold_seconds', 'lockring_lease_expired_total',
  'lockring_fencing_token_last', 'lockring_expiry_lateness_seconds', 'lockring_ring_nodes',
  'lockring_ring_lookups_total', 'lockring_ws_connections', 'lockring_ws_slow_closed_total',
];
const issueMetrics = [
  'lockring_http_request_duration_seconds', 'lockring_wal_fsync_seconds', 'lockring_wal_batch_records',
  'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total',
  'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes',
];
/** The only labels lockring's own metrics may carry; each has a bounded set of values. */
const boundedLabels = new Set(['result', 'ring', 'route', 'method', 'status', 'direction', 'limit', 'reason', 'scope', 'le', 'role']);

interface Exposition {
  readonly help: Map<string, string>;
  readonly samples: { name: string; labels: Record<string, string>; value: number }[];
}

function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const samples: Exposition['samples'] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const name = line.split(' ')[2]!;
      help.set(name, line.slice(`# HELP ${name} `.length));
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    assert.ok(match, `unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of match[2]?.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { help, samples };
}

const family = (sample: string): string => sample.replace(/_(bucket|sum|count)$/, '');

let lockring: Lockring;
const leaseIds: string[] = [];

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const response = await lockring.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: response.statusCode, body: response.body === '' ? null : response.json() };
}

/** Traffic over `count` fresh lock names, keys and leases, each carrying "secret". */
async function traffic(round: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const name = `secret-lock-${round}-${i}`;
    const grant = await call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 60_000, owner: `secret-owner-${i}` });
    assert.equal(grant.status, 200);
    leaseIds.push(grant.body.leaseId);
    assert.equal((await call('POST', `/v1/locks/${name}/acquire`, { ttlMs: 60_000 })).status, 409);
    await call('POST', `/v1/locks/${name}/release`, { token: grant.body.token });
    await call('POST', `/v1/locks/${name}/release`, { token: grant.body.token });
    await call('GET', `/v1/rings/shards/lookup?key=secret-key-${round}-${i}&n=2`);
    await call('GET', `/v1/no-such-route/secret-${round}-${i}`);
    const lease = await call('POST', '/v1/leases', { ttlMs: 100 });
    leaseIds.push(lease.body.id);
    await call('POST', `/v1/leases/${lease.body.id}/keepalive`, {});
  }
  await call('POST', '/v1/rings/shards/lookup', { keys: Array.from({ length: count }, (_, i) => `secret-batch-${round}-${i}`), n: 1 });
  // A waiter that times out, and leases that expire.
  const held = await call('POST', `/v1/locks/secret-wait-${round}/acquire`, { ttlMs: 60_000 });
  assert.equal((await call('POST', `/v1/locks/secret-wait-${round}/acquire`, { ttlMs: 60_000, waitMs: 20 })).status, 409);
  await call('POST', `/v1/locks/secret-wait-${round}/release`, { token: held.body.token });
  await new Promise((resolve) => setTimeout(resolve, 250));
}

async function scrape(): Promise<Exposition> {
  const response = await lockring.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /text\/plain/);
  return parseExposition(response.body);
}

// The expiry loop's timer is unref'd (it must not keep a stopping server alive); with
// inject() and no listening socket, this keeps the test process up while waiters wait.
let keepAlive: NodeJS.Timeout;

before(async () => {
  keepAlive = setInterval(() => {}, 1_000);
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
  await lockring.start();
  for (const node of ['a', 'b', 'c']) await call('PUT', `/v1/rings/shards/nodes/${node}`, { weight: 1 });
});
after(async () => {
  clearInterval(keepAlive);
  await lockring.close();
});

describe('GET /metrics', () => {
  it('exports every documented metric, each with help text', async () => {
    await traffic(0, 5);
    const { help, samples } = await scrape();
    const families = new Set(samples.map((s) => family(s.name)));
    for (const name of [...contractMetrics, ...issueMetrics]) {
      assert.ok(families.has(name) || help.has(name), `metric ${name} missing`);
      assert.ok((help.get(name) ?? '').trim().length > 3, `metric ${name} has no help text`);
    }
    for (const name of help.keys()) assert.ok(help.get(name)!.trim().length > 3, `metric ${name} has no help text`);
    const acquire = samples.filter((s) => s.name === 'lockring_lock_acquire_total');
    assert.deepEqual(acquire.map((s) => s.labels['result']).sort(), ['conflict', 'granted', 'rejected', 'timeout']);
    assert.ok(acquire.find((s) => s.labels['result'] === 'timeout')!.value >= 1);
    assert.ok(samples.find((s) => s.name === 'lockring_lease_expired_total')!.value >= 5);
    assert.equal(samples.find((s) => s.name === 'lockring_ring_nodes' && s.labels['ring'] === 'shards')?.value, 3);
    assert.ok(samples.find((s) => s.name === 'lockring_fencing_token_last')!.value >= 5);
  });

  it('never labels with a lock name, key, owner or lease id; series do not grow with names', async () => {
    const before = (await scrape()).samples.filter((s) => s.name.startsWith('lockring_'));
    await traffic(1, 150);
    const { samples } = await scrape();
    const own = samples.filter((s) => s.name.startsWith('lockring_'));
    const ids = new Set(leaseIds);
    for (const sample of samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        assert.doesNotMatch(value, /secret/, `${sample.name}{${label}="${value}"} carries a request value`);
        assert.ok(!ids.has(value), `${sample.name}{${label}} carries a lease id`);
      }
    }
    for (const sample of own) {
      for (const label of Object.keys(sample.labels)) assert.ok(boundedLabels.has(label), `${sample.name} has label ${label}`);
      const route = sample.labels['route'];
      if (route !== undefined) assert.ok(route === 'unmatched' || route.startsWith('/'), route);
    }
    // A status code a route had not answered yet (a 409 when a slow machine lets a
    // hold outlive its release) is a bounded label value, not a name: series are
    // counted without it.
    const series = (list: typeof own): Set<string> =>
      new Set(list.map((s) => `${s.name}{${Object.entries(s.labels).filter(([label]) => label !== 'status').map(([l, v]) => `${l}=${v}`).join(',')}}`));
    const added = [...series(own)].filter((key) => !series(before).has(key));
    assert.deepEqual(added, [], '150 more names added no series');
  });

  it('the shipped alert rules use only metrics lockring exports', async () => {
    const { help } = await scrape();
    const rules = parse(readFileSync(repoPath('prometheus-alerts.yml'), 'utf8'));
    for (const rule of rules.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules)) {
      for (const [name] of rule.expr.matchAll(/\b(lockring|nodejs|process)_[a-z0-9_]+/g)) {
        assert.ok(help.has(family(name)), `${rule.alert} uses ${name}, which is not exported`);
      }
    }
  });

  it('docs/operations.md lists every metric lockring exports', async () => {
    const doc = readFileSync(repoPath('docs/operations.md'), 'utf8');
    const { help } = await scrape();
    for (const name of help.keys()) {
      if (name.startsWith('lockring_')) assert.ok(doc.includes(`\`${name}\``), `docs/operations.md does not list ${name}`);
    }
    for (const name of issueMetrics) assert.ok(doc.includes(name), `docs/operations.md does not mention ${name}`);
  });
});
