import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { serverDeps } from '../../src/cli/server-deps.js';
import { makeConfig } from '../../src/config.js';
import { createLogger } from '../../src/ops/logger.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { repoPath } from '../helpers/repo-root.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');
const dashboard = JSON.parse(read('ops/grafana/lockring.json'));
type Target = { expr: string; datasource: { uid: string } };
type Panel = { title: string; datasource: { uid: string }; targets: Target[] };
const panels: Panel[] = dashboard.panels;
const queries = panels.flatMap((p) => p.targets.map((t) => t.expr));

// Words of a PromQL expression that are not metric names.
const promqlWords = new Set([
  'sum', 'max', 'min', 'avg', 'count', 'by', 'without', 'rate', 'irate', 'increase', 'histogram_quantile', 'le', 'job',
  'result', 'limit', 'label_values',
]);

/** The metric names a query reads: histogram series back to their family. */
function metricsOf(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '');
  const words = withoutLabels.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return words.filter((w) => !promqlWords.has(w)).map((w) => w.replace(/_(bucket|sum|count)$/, ''));
}

let lockring: Lockring;
let exported: Set<string>;
before(async () => {
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
  await lockring.start();
  const text = (await lockring.app.inject({ method: 'GET', url: '/metrics' })).body;
  exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
});
after(async () => lockring.close());

describe('the Grafana dashboard', () => {
  it('queries only metrics the server exports (read from a live /metrics)', () => {
    assert.ok(queries.length >= 15);
    const unknown = queries.flatMap((q) => metricsOf(q).filter((m) => !exported.has(m)).map((m) => `${m} in ${q}`));
    assert.deepEqual(unknown, []);
    const variable = dashboard.templating.list[0].query as string;
    for (const name of metricsOf(variable)) assert.ok(exported.has(name), variable);
  });

  it('the check catches a misspelt metric', () => {
    assert.deepEqual(metricsOf('sum(rate(lockring_lock_acquires_total{job=~"$job"}[1m]))').filter((m) => !exported.has(m)), ['lockring_lock_acquires_total']);
  });

  it('shows locks, waiters, acquire results, wait and hold quantiles, expiry lateness, sockets, fsync and backlog', () => {
    const text = queries.join('\n');
    for (const name of [
      'lockring_locks_held', 'lockring_lock_waiters', 'lockring_lock_acquire_total', 'lockring_lock_wait_seconds_bucket',
      'lockring_lock_hold_seconds_bucket', 'lockring_expiry_lateness_seconds_bucket', 'lockring_ws_connections',
      'lockring_wal_fsync_seconds_bucket', 'lockring_wal_backlog_bytes',
    ]) assert.ok(text.includes(name), name);
  });

  it('is provisioned by docker compose with the datasource its panels name', () => {
    const compose = parse(read('docker-compose.yml'));
    const volumes: string[] = compose.services.grafana.volumes;
    for (const volume of volumes.filter((v) => v.startsWith('./'))) assert.ok(existsSync(repoPath(volume.split(':')[0]!)), volume);
    assert.ok(volumes.some((v) => v.startsWith('./ops/grafana/lockring.json:/var/lib/grafana/dashboards/')));
    const provider = parse(read('ops/grafana/provisioning/dashboards/lockring.yml'));
    assert.equal(provider.providers[0].options.path, '/var/lib/grafana/dashboards');
    const source = parse(read('ops/grafana/provisioning/datasources/prometheus.yml')).datasources[0];
    assert.equal(source.url, `http://prometheus:9090`);
    assert.ok(compose.services.prometheus);
    for (const panel of panels) {
      assert.equal(panel.datasource.uid, source.uid, panel.title);
      for (const target of panel.targets) assert.equal(target.datasource.uid, source.uid, panel.title);
    }
  });
});

describe('lockring_wal_backlog_bytes', () => {
  it('reads the store\'s backlog at scrape time', async () => {
    const scrape = async (): Promise<string> => (await lockring.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(await scrape(), /^lockring_wal_backlog_bytes 0$/m);
    let backlog = 4096;
    lockring.metrics.walBacklogSource = () => backlog;
    assert.match(await scrape(), /^lockring_wal_backlog_bytes 4096$/m);
    backlog = 0;
    assert.match(await scrape(), /^lockring_wal_backlog_bytes 0$/m);
  });
});

describe('lockring_wal_backlog_bytes with a data directory', () => {
  it('reads 0 from the real store once an answered change is durable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lockring-backlog-'));
    try {
      const config = makeConfig({ logLevel: 'silent', dataDir });
      const durable = await buildServer(config, serverDeps(config, createLogger('silent')));
      await durable.start();
      const reply = await durable.app.inject({ method: 'POST', url: '/v1/leases', payload: { ttlMs: 10_000 } });
      assert.equal(reply.statusCode, 201);
      const text = (await durable.app.inject({ method: 'GET', url: '/metrics' })).body;
      // Answered once durable: nothing of it is waiting any more.
      assert.match(text, /^lockring_wal_backlog_bytes 0$/m);
      await durable.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
