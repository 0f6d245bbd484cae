import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { api, cleanEnv, runCli, serverPerFile, startCli, startServer, waitFor } from './helpers.js';

const shared = serverPerFile();

/** A child that runs `setup`, prints its lock environment as one JSON line, then runs `then`. */
function reporter(then: string, setup = ''): string[] {
  const report = 'console.log(JSON.stringify({lock: process.env.LOCKRING_LOCK, token: process.env.LOCKRING_FENCING_TOKEN, ' +
    'leaseId: process.env.LOCKRING_LEASE_ID, url: process.env.LOCKRING_URL}));';
  return ['--', process.execPath, '-e', setup + report + then];
}

function reported(stdout: string): { lock: string; token: string; leaseId: string; url: string } {
  const line = stdout.split('\n').find((l) => l.startsWith('{"lock"'));
  assert.ok(line, `no report in ${JSON.stringify(stdout)}`);
  return JSON.parse(line);
}

const waiters = async (name: string): Promise<number> => (await api(shared.server.url, 'GET', `/v1/locks/${name}`)).body?.waiters ?? 0;

describe('lockring lock NAME -- CMD', () => {
  it('runs the command with the lock in its environment, releases, and exits with its code', async () => {
    const run = await runCli(['lock', 'jobs/report', '--ttl', '5s', ...reporter('process.exit(7)')], shared.env);
    assert.equal(run.code, 7, run.stderr);
    const seen = reported(run.stdout);
    assert.equal(seen.lock, 'jobs/report');
    assert.match(seen.token, /^\d+$/);
    assert.ok(seen.leaseId.length > 0);
    assert.equal(seen.url, shared.server.url);
    // Released: the name is gone and the token is no longer held.
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/jobs%2Freport')).status, 404);
    const check = await api(shared.server.url, 'POST', '/v1/locks/jobs%2Freport/check', { token: Number(seen.token) });
    assert.equal(check.body.held, false);
  });

  it('exits 3 without running the command when the lock is held', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/busy/acquire', { ttlMs: 30_000, owner: 'someone-else' });
    assert.equal(holder.status, 200);
    const run = await runCli(['lock', 'busy', '--', process.execPath, '-e', 'console.log("RAN")'], shared.env);
    assert.equal(run.code, 3);
    assert.doesNotMatch(run.stdout, /RAN/);
    assert.match(run.stderr, /lock "busy" is held by someone-else \(token \d+\); not running/);
    await api(shared.server.url, 'POST', '/v1/locks/busy/release', { token: holder.body.token });
  });

  it('--wait queues behind the holder, then runs', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/queue/acquire', { ttlMs: 30_000 });
    const waiting = startCli(['lock', 'queue', '--wait', '20s', ...reporter('')], shared.env);
    await waitFor(async () => (await waiters('queue')) === 1, 15_000, 'the CLI to queue');
    await api(shared.server.url, 'POST', '/v1/locks/queue/release', { token: holder.body.token });
    const { code } = await waiting.exited;
    assert.equal(code, 0, waiting.stderr());
    assert.ok(Number(reported(waiting.stdout()).token) > holder.body.token);
  });

  it('--wait longer than --ttl: a late grant is kept alive, and the command runs to its end', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/late/acquire', { ttlMs: 30_000 });
    // The command outlives several keepalive rounds of its 1 s lease.
    const waiting = startCli(['lock', 'late', '--ttl', '1s', '--wait', '20s', ...reporter('setTimeout(() => process.exit(5), 2000);')], shared.env);
    await waitFor(async () => (await waiters('late')) === 1, 15_000, 'the CLI to queue');
    await new Promise((resolve) => setTimeout(resolve, 1_300)); // wait past the CLI's TTL
    await api(shared.server.url, 'POST', '/v1/locks/late/release', { token: holder.body.token });
    const { code } = await waiting.exited;
    assert.equal(code, 5, waiting.stderr());
    assert.doesNotMatch(waiting.stderr(), /lost lock/);
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/late')).status, 404, 'released');
  });

  it('a signal while waiting abandons the wait (the server drops the waiter) and exits 128 + N', async () => {
    const holder = await api(shared.server.url, 'POST', '/v1/locks/impatient/acquire', { ttlMs: 30_000 });
    const waiting = startCli(['lock', 'impatient', '--wait', '20s', '--', process.execPath, '-e', 'console.log("RAN")'], shared.env);
    await waitFor(async () => (await waiters('impatient')) === 1, 15_000, 'the CLI to queue');
    waiting.child.kill('SIGINT');
    const { code } = await waiting.exited;
    assert.equal(code, 130);
    assert.doesNotMatch(waiting.stdout(), /RAN/);
    assert.match(waiting.stderr(), /interrupted by SIGINT while waiting for lock "impatient"/);
    await waitFor(async () => (await waiters('impatient')) === 0, 5_000, 'the waiter to leave the queue');
    await api(shared.server.url, 'POST', '/v1/locks/impatient/release', { token: holder.body.token });
  });

  it('a lost lease (revoked mid-run) gets the command SIGTERM, then SIGKILL after --grace, and exits 4', async () => {
    // The child ignores SIGTERM, so only the SIGKILL after the grace period ends it.
    const stubborn = 'process.on("SIGTERM", () => console.log("GOT SIGTERM")); setInterval(() => {}, 1000);';
    const running = startCli(['lock', 'revoked', '--ttl', '3s', '--grace', '300ms', ...reporter('', stubborn)], shared.env);
    await waitFor(() => running.stdout().includes('{"lock"'), 15_000, 'the command to start');
    const { leaseId } = reported(running.stdout());
    const revoke = await api(shared.server.url, 'DELETE', `/v1/leases/${leaseId}`);
    assert.equal(revoke.status, 200);
    const started = Date.now();
    const { code } = await running.exited;
    assert.equal(code, 4);
    assert.ok(Date.now() - started < 3_000, 'noticed at the next keepalive (TTL/3), not at the TTL');
    assert.match(running.stdout(), /GOT SIGTERM/);
    assert.match(running.stderr(), /lost lock "revoked" \(token \d+\): the server no longer has lease .* terminating/);
    assert.match(running.stderr(), /was killed by SIGKILL after the lock was lost; exiting with 4/);
  });

  it('a server that stops answering: the lease is lost at the local deadline and the command is stopped', async () => {
    const doomed = await startServer();
    const running = startCli(['lock', 'unreachable', '--ttl', '1s', ...reporter('setInterval(() => {}, 1000);')], cleanEnv({ LOCKRING_URL: doomed.url }));
    await waitFor(() => running.stdout().includes('{"lock"'), 15_000, 'the command to start');
    doomed.child.kill('SIGKILL');
    const { code } = await running.exited;
    assert.equal(code, 4);
    assert.match(running.stderr(), /no keepalive was confirmed within the lease TTL \(1s\)/);
    assert.match(running.stderr(), /was killed by SIGTERM after the lock was lost/);
  });

  it('passes SIGTERM, SIGINT and SIGHUP on to the command and exits with its code', async () => {
    for (const [signal, exitCode] of [['SIGTERM', 41], ['SIGINT', 42], ['SIGHUP', 43]] as const) {
      const child = `process.on(${JSON.stringify(signal)}, () => { console.log("child got ${signal}"); process.exit(${exitCode}); }); setInterval(() => {}, 1000);`;
      const running = startCli(['lock', `signals-${signal}`, ...reporter('', child)], shared.env);
      await waitFor(() => running.stdout().includes('{"lock"'), 15_000, 'the command to start');
      running.child.kill(signal);
      const { code } = await running.exited;
      assert.equal(code, exitCode, running.stderr());
      assert.match(running.stdout(), new RegExp(`child got ${signal}`));
      assert.equal((await api(shared.server.url, 'GET', `/v1/locks/signals-${signal}`)).status, 404, 'released');
    }
  });

  it('reports a command killed by a signal as 128 + N, and a missing command as 127', async () => {
    const killed = await runCli(['lock', 'suicide', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")'], shared.env);
    assert.equal(killed.code, 137);
    const missing = await runCli(['lock', 'missing', '--', 'lockring-no-such-command'], shared.env);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /cannot run "lockring-no-such-command": ENOENT/);
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/missing')).status, 404, 'released');
  });

  it('--mode read runs beside another reader, with LOCKRING_LOCK_MODE; a writer is refused meanwhile', async () => {
    const reader = await api(shared.server.url, 'POST', '/v1/locks/catalog/acquire', { ttlMs: 30_000, mode: 'read', owner: 'other' });
    assert.equal(reader.status, 200);
    const modeOf = 'console.log("MODE=" + process.env.LOCKRING_LOCK_MODE)';
    const [read, write] = await Promise.all([
      runCli(['lock', 'catalog', '--mode', 'read', '--', process.execPath, '-e', modeOf], shared.env),
      runCli(['lock', 'catalog', '--', process.execPath, '-e', modeOf], shared.env),
    ]);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /MODE=read/);
    assert.equal(write.code, 3, write.stderr);
    assert.doesNotMatch(write.stdout, /MODE=/);
    const bad = await runCli(['lock', 'catalog', '--mode', 'shared', '--', 'true'], shared.env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--mode: expected read or write/);
    await api(shared.server.url, 'POST', '/v1/locks/catalog/release', { token: reader.body.token });
  });

  it('--max-hold stops the command when the hold reaches it, keepalives or not, and exits 4', async () => {
    const run = await runCli(['lock', 'bounded', '--ttl', '2s', '--max-hold', '600ms', '--grace', '200ms', '--', process.execPath, '-e', 'setTimeout(() => {}, 20000)'], shared.env);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /the hold reached --max-hold 600ms/);
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/bounded')).status, 404);
  });

  it('asked to yield, CMD gets SIGTERM at once; exiting within the grace releases the lock and keeps its exit code', async () => {
    const child = "process.on('SIGTERM', () => { console.log('TERM'); process.exit(5); }); console.log('ready'); setTimeout(() => {}, 20000)";
    const holder = startCli(['lock', 'yielding', '--ttl', '5s', '--', process.execPath, '-e', child], shared.env);
    await waitFor(() => holder.stdout().includes('ready'), 15_000, 'the command to start');
    const asked = await api(shared.server.url, 'POST', '/v1/locks/yielding/acquire', { ttlMs: 5_000, waitMs: 15_000, priority: 5, yieldGraceMs: 10_000 });
    assert.equal(asked.status, 200, 'granted at the release, well before the grace ran out');
    const { code } = await holder.exited;
    assert.equal(code, 5, holder.stderr());
    assert.match(holder.stdout(), /TERM/);
    assert.match(holder.stderr(), /was asked to yield by a higher-priority waiter/);
    await api(shared.server.url, 'POST', '/v1/locks/yielding/release', { token: asked.body.token });
  });

  it('--priority and --yield-grace-ms out of range are bad usage', async () => {
    const [priority, grace] = await Promise.all([
      runCli(['lock', 'x', '--priority', '1001', '--', 'true'], shared.env),
      runCli(['lock', 'x', '--priority', '1', '--yield-grace-ms', 'soon', '--', 'true'], shared.env),
    ]);
    assert.equal(priority.code, 2);
    assert.match(priority.stderr, /--priority: must be from 0 to 1000/);
    assert.equal(grace.code, 2);
    assert.match(grace.stderr, /--yield-grace-ms: expected an integer/);
  });

  it('rejects bad usage with exit 2', async () => {
    const [noCommand, badTtl, noName] = await Promise.all([
      runCli(['lock', 'x'], shared.env),
      runCli(['lock', 'x', '--ttl', '10', '--', 'true'], shared.env),
      runCli(['lock', '--', 'true'], shared.env),
    ]);
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /missing the command to run after "--"/);
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.stderr, /--ttl: expected a duration with a unit/);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /missing NAME/);
  });
});
