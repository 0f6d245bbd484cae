import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type TestServer, api, cleanEnv, killAll, repoRoot, runCli, startProcess, startServer } from './helpers.js';

let server: TestServer;
let env: NodeJS.ProcessEnv;

before(async () => {
  server = await startServer();
  env = cleanEnv({ LOCKRING_URL: server.url });
  for (const [node, weight] of [['alpha', 1], ['beta', 1], ['gamma', 2]] as const) {
    await api(server.url, 'PUT', `/v1/rings/users/nodes/${node}`, { weight, meta: node === 'gamma' ? { zone: 'b' } : undefined });
  }
});
after(() => killAll());

describe('lockring status NAME', () => {
  it('shows holders and waiters, human-readable and --json', async () => {
    const held = await api(server.url, 'POST', '/v1/locks/reports%2Fdaily/acquire', { ttlMs: 30_000, owner: 'cron@host1' });
    const [human, json] = await Promise.all([
      runCli(['status', 'reports/daily'], env),
      runCli(['status', 'reports/daily', '--json'], env),
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /lock "reports\/daily": held, 0 waiting/);
    assert.match(human.stdout, new RegExp(`${held.body.token}\\s+cron@host1\\s+${held.body.leaseId}`));
    assert.equal(json.code, 0);
    const view = JSON.parse(json.stdout);
    assert.equal(view.name, 'reports/daily');
    assert.equal(view.holders[0].token, held.body.token);
  });

  it('shows a name nobody holds as free, exit 0', async () => {
    const [human, json] = await Promise.all([runCli(['status', 'nobody'], env), runCli(['status', 'nobody', '--json'], env)]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /lock "nobody" is free/);
    assert.deepEqual(JSON.parse(json.stdout), { name: 'nobody', holders: [], waiters: 0 });
  });

  it('exits 1 with a clear message when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runCli(['status', 'x', '--url', `http://127.0.0.1:${port}`], env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, new RegExp(`cannot reach lockring at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
  });
});

describe('lockring ring lookup / nodes', () => {
  it('looks a key up, owner first (placement vectors from the contract)', async () => {
    const [human, json] = await Promise.all([
      runCli(['ring', 'lookup', 'users', 'user:1', '--n', '2'], env),
      runCli(['ring', 'lookup', 'users', 'ключ', '--n', '2', '--json'], env),
    ]);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout, 'gamma\nalpha\n');
    assert.deepEqual(JSON.parse(json.stdout).nodes, ['beta', 'alpha']);
  });

  it('lists the members', async () => {
    const run = await runCli(['ring', 'nodes', 'users'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ring "users": version 4, vnodes 160, 3 nodes, fingerprint [0-9a-f]+/);
    assert.match(run.stdout, /gamma\s+2\s+-\s+\{"zone":"b"\}/);
    const json = await runCli(['ring', 'nodes', 'users', '--json'], env);
    assert.deepEqual(JSON.parse(json.stdout).nodes.map((n: { id: string }) => n.id), ['alpha', 'beta', 'gamma']);
  });

  it('exits 1 on an error from the server and 2 on bad usage', async () => {
    const [missing, usage, sub] = await Promise.all([
      runCli(['ring', 'nodes', 'nope'], env),
      runCli(['ring', 'lookup', 'users'], env),
      runCli(['ring', 'drop', 'users'], env),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ring_not_found/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing KEY/);
    assert.equal(sub.code, 2);
  });
});

describe('help and the bin shim', () => {
  it('explains every command with examples', async () => {
    const commands = [['--help'], ['serve', '--help'], ['lock', '--help'], ['status', '--help'], ['ring', 'lookup', '--help'], ['ring', 'nodes', '--help']];
    const runs = await Promise.all(commands.map((command) => runCli(command, env)));
    runs.forEach((run, i) => {
      assert.equal(run.code, 0, commands[i]!.join(' '));
      assert.match(run.stdout, /Examples?:/, commands[i]!.join(' '));
    });
    const serve = runs[1]!;
    for (const flag of ['--host', '--port', '--data-dir', '--log-level', '--log-format', '--shutdown-grace', '--auth-file', '--insecure-no-auth-on-public-address', '--limit', '--config']) {
      assert.ok(serve.stdout.includes(flag), flag);
    }
  });

  it('bin/lockring.js runs the CLI (from source when there is no build)', async () => {
    const running = startProcess(process.execPath, ['bin/lockring.js', '--version'], cleanEnv({ LOCKRING_FROM_SOURCE: '1' }), repoRoot);
    const { code } = await running.exited;
    assert.equal(code, 0, running.stderr());
    assert.match(running.stdout(), /^\d+\.\d+\.\d+\n$/);
  });
});
