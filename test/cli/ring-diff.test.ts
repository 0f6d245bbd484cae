import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestServer, api, cleanEnv, killAll, runCli, startServer } from './helpers.js';

let server: TestServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer();
  env = cleanEnv({ LOCKRING_URL: server.url });
  for (const node of ['alpha', 'beta']) await api(server.url, 'PUT', `/v1/rings/moves/nodes/${node}`, {});
  await api(server.url, 'PUT', '/v1/rings/moves/nodes/gamma', {});
});
after(() => killAll());

describe('lockring ring diff RING FROM TO', () => {
  it('prints the ranges that moved with old and new owners, and the same as JSON', async () => {
    const [text, json] = await Promise.all([runCli(['ring', 'diff', 'moves', '3', '4'], env), runCli(['ring', 'diff', 'moves', '3', '4', '--n', '2', '--json'], env)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^ring "moves": \d+ ranges moved from version 3 to 4, \d+\.\d\d% of the hash circle/);
    assert.match(text.stdout, /START\s+END\s+BEFORE\s+AFTER/);
    const rows = text.stdout.split('\n').filter((line) => /^\d+\s+\d+\s/.test(line));
    assert.ok(rows.length > 0 && rows.every((row) => row.trim().endsWith('gamma')), 'only gamma gained keys');
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(body.n, 2);
    const http = await api(server.url, 'GET', '/v1/rings/moves/diff?from=3&to=4&n=2&limit=10000');
    assert.deepEqual(body.ranges, http.body.ranges);
  });

  it('exits 1 on version_unavailable and 2 on bad usage', async () => {
    const [gone, usage, badVersion] = await Promise.all([
      runCli(['ring', 'diff', 'moves', '3', '99'], env),
      runCli(['ring', 'diff', 'moves', '3'], env),
      runCli(['ring', 'diff', 'moves', '0', '2'], env),
    ]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /version_unavailable/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing TO/);
    assert.equal(badVersion.code, 2);
  });
});
