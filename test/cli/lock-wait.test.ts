import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api, cleanEnv, runCli, serverPerFile, startCli, startServer, waitFor } from './helpers.js';

const shared = serverPerFile();

const waiters = async (url: string, name: string): Promise<number> => (await api(url, 'GET', `/v1/locks/${name}`)).body?.waiters ?? 0;
const printToken = ['--', process.execPath, '-e', 'console.log(process.env.LOCKRING_FENCING_TOKEN)'];

describe('lockring lock --wait: one place in the queue', () => {
  it('waiters queue over the WebSocket and are granted in arrival order', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/fifo/acquire', { ttlMs: 60_000 });
    const first = startCli(['lock', 'fifo', '--wait', '30s', ...printToken], shared.env);
    await waitFor(async () => (await waiters(shared.server.url, 'fifo')) === 1, 15_000, 'the first waiter');
    const second = startCli(['lock', 'fifo', '--wait', '30s', ...printToken], shared.env);
    await waitFor(async () => (await waiters(shared.server.url, 'fifo')) === 2, 15_000, 'the second waiter');
    const metrics = await fetch(`${shared.server.url}/metrics`).then((r) => r.text());
    assert.match(metrics, /^lockring_ws_connections 2$/m, 'both wait on a WebSocket');
    await api(shared.server.url, 'POST', '/v1/locks/fifo/release', { token: holder.body.token });
    const [a, b] = await Promise.all([first.exited, second.exited]);
    assert.equal(a.code, 0, first.stderr());
    assert.equal(b.code, 0, second.stderr());
    assert.ok(Number(first.stdout()) < Number(second.stdout()), 'the first to queue is the first granted');
    // Each says its place on stderr as the queue moves: the second moved up once.
    assert.match(first.stderr(), /^lockring: waiting for lock "fifo": position 1 of 1$/m);
    assert.match(second.stderr(), /waiting for lock "fifo": position 2 of 2\n(?:.*\n)*lockring: waiting for lock "fifo": position 1 of 1\n/);
  });

  it('several names: the multi-lock says its place in each queue while it waits', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/multi-b/acquire', { ttlMs: 60_000 });
    const run = startCli(['lock', 'multi-a', 'multi-b', '--wait', '30s', ...printToken], shared.env);
    await waitFor(async () => (await waiters(shared.server.url, 'multi-b')) === 1, 15_000, 'the multi-lock to queue');
    await waitFor(async () => /"multi-b": position 1 of 1/.test(run.stderr()), 15_000, 'the position lines');
    await api(shared.server.url, 'POST', '/v1/locks/multi-b/release', { token: holder.body.token });
    const ended = await run.exited;
    assert.equal(ended.code, 0, run.stderr());
    assert.match(run.stderr(), /^lockring: waiting for lock "multi-a": position 1 of 1$/m);
    assert.match(run.stderr(), /^lockring: waiting for lock "multi-b": position 1 of 1$/m);
  });

  it('a --wait longer than the server keeps a waiter (waitMsMax) is bad usage, exit 2, and queues nothing', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/too-long/acquire', { ttlMs: 60_000 });
    const run = await runCli(['lock', 'too-long', '--wait', '6m', ...printToken], shared.env);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--wait 6m is longer than this server keeps a waiter/);
    assert.equal(run.stdout, '', 'the command did not run');
    assert.equal(await waiters(shared.server.url, 'too-long'), 0);
    const json = await runCli(['lock', 'too-long', '--wait', '6m', '--json', ...printToken], shared.env);
    assert.equal(json.code, 2);
    assert.equal(JSON.parse(json.stdout).error.field, 'waitMs');
    await api(shared.server.url, 'POST', '/v1/locks/too-long/release', { token: holder.body.token });
  });

  it('on a server whose waitMsMax allows it, a --wait above 60 s is one waiting acquire', async () => {
    const roomy = await startServer(['--limit', 'waitMsMax=10m']);
    try {
      const holder = await api(roomy.url, 'POST', '/v1/locks/long/acquire', { ttlMs: 60_000 });
      const waiting = startCli(['lock', 'long', '--wait', '6m', ...printToken], cleanEnv({ LOCKRING_URL: roomy.url }));
      await waitFor(async () => (await waiters(roomy.url, 'long')) === 1, 15_000, 'the waiter');
      await api(roomy.url, 'POST', '/v1/locks/long/release', { token: holder.body.token });
      const { code } = await waiting.exited;
      assert.equal(code, 0, waiting.stderr());
      assert.ok(Number(waiting.stdout()) > holder.body.token);
    } finally {
      roomy.child.kill('SIGTERM');
      await roomy.exited;
    }
  });
});
