import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api, runCli, serverPerFile, startCli, waitFor } from './helpers.js';

const shared = serverPerFile();

const tokensReport = ['--', process.execPath, '-e', 'console.log("TOKENS " + process.env.LOCKRING_FENCING_TOKENS + " " + process.env.LOCKRING_LOCK)'];

function reportedTokens(stdout: string): { tokens: Record<string, number>; lock: string } {
  const line = stdout.split('\n').find((l) => l.startsWith('TOKENS '));
  assert.ok(line, `no report in ${JSON.stringify(stdout)}`);
  const [, json, lock] = line.split(' ');
  return { tokens: JSON.parse(json!), lock: lock! };
}

describe('lockring lock NAME NAME... -- CMD', () => {
  it('holds every name at once while the command runs, with a token per name, and releases them all', async () => {
    const run = await runCli(['lock', 'many/a', 'many/b', '--ttl', '5s', ...tokensReport], shared.env);
    assert.equal(run.code, 0, run.stderr);
    const { tokens, lock } = reportedTokens(run.stdout);
    assert.deepEqual(Object.keys(tokens), ['many/a', 'many/b']);
    assert.ok(tokens['many/a']! < tokens['many/b']!);
    assert.equal(lock, 'many/a', 'LOCKRING_LOCK is the first name');
    for (const name of ['many%2Fa', 'many%2Fb']) assert.equal((await api(shared.server.url, 'GET', `/v1/locks/${name}`)).status, 404);
  });

  it('exits 3 without running the command, and takes none, when one name is held', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/busy2%2Fb/acquire', { ttlMs: 30_000 });
    const run = await runCli(['lock', 'busy2/a', 'busy2/b', '--', process.execPath, '-e', 'console.log("RAN")'], shared.env);
    assert.equal(run.code, 3);
    assert.doesNotMatch(run.stdout, /RAN/);
    assert.match(run.stderr, /lock "busy2\/b" is held/);
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/busy2%2Fa')).status, 404);
    await api(shared.server.url, 'POST', '/v1/locks/busy2%2Fb/release', { token: holder.body.token });
  });

  it('--wait queues on every name at once, then runs once all are free', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/q2%2Fb/acquire', { ttlMs: 30_000 });
    const waiting = startCli(['lock', 'q2/a', 'q2/b', '--wait', '20s', ...tokensReport], shared.env);
    const waiters = async (name: string): Promise<number> => (await api(shared.server.url, 'GET', `/v1/locks/${name}`)).body?.waiters ?? 0;
    await waitFor(async () => (await waiters('q2%2Fa')) === 1 && (await waiters('q2%2Fb')) === 1, 15_000, 'the CLI to queue on both');
    await api(shared.server.url, 'POST', '/v1/locks/q2%2Fb/release', { token: holder.body.token });
    const { code } = await waiting.exited;
    assert.equal(code, 0, waiting.stderr());
    assert.ok(reportedTokens(waiting.stdout()).tokens['q2/b']! > holder.body.token);
  });

  it('a name given twice is bad usage (exit 2)', async () => {
    const run = await runCli(['lock', 'twice', 'twice', '--', process.execPath, '-e', ''], shared.env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /named twice/);
  });
});
