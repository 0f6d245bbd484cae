import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { commandTable } from '../../src/cli/completion.js';
import { api, runCli, serverPerFile, startCli, waitFor } from './helpers.js';

const shared = serverPerFile();

const cli = (args: string[]) => runCli(args, shared.env);
const json = async (args: string[]): Promise<{ code: number | null; body: any }> => {
  const run = await cli([...args, '--json']);
  return { code: run.code, body: JSON.parse(run.stdout) };
};

describe('lockring lease', () => {
  it('grant prints the id; keepalive --once renews; list shows it with its lock; revoke ends it and its lock', async () => {
    const granted = await cli(['lease', 'grant', '--ttl', '30s']);
    assert.equal(granted.code, 0, granted.stderr);
    const leaseId = granted.stdout.trim();
    assert.equal((await api(shared.server.url, 'GET', `/v1/leases/${leaseId}`)).status, 200);
    const renewed = await json(['lease', 'keepalive', leaseId, '--once', '--ttl', '40s']);
    assert.deepEqual([renewed.code, renewed.body.leaseId, renewed.body.ttlMs], [0, leaseId, 40_000]);
    const lock = await api(shared.server.url, 'POST', '/v1/locks/leased/acquire', { leaseId });
    const listed = await json(['lease', 'list']);
    assert.deepEqual(listed.body.leases.find((l: { id: string }) => l.id === leaseId)?.locks, [{ name: 'leased', token: lock.body.token }]);
    const revoked = await json(['lease', 'revoke', leaseId]);
    assert.equal(revoked.code, 0);
    assert.deepEqual(revoked.body.released, [{ name: 'leased', token: lock.body.token }]);
    assert.equal((await api(shared.server.url, 'GET', '/v1/locks/leased')).status, 404);
  });

  it('keepalive renews until SIGTERM (exit 0), and exits 4 once the lease is gone', async () => {
    const leaseId = (await api(shared.server.url, 'POST', '/v1/leases', { ttlMs: 20_000 })).body.id as string;
    const running = startCli(['lease', 'keepalive', leaseId, '--ttl', '600ms', '--json'], shared.env);
    await waitFor(() => running.stdout().split('\n').filter((l) => l.startsWith('{')).length >= 3, 15_000, 'three renewals');
    running.child.kill('SIGTERM');
    assert.equal((await running.exited).code, 0, running.stderr());
    await api(shared.server.url, 'DELETE', `/v1/leases/${leaseId}`);
    const gone = await cli(['lease', 'keepalive', leaseId]);
    assert.equal(gone.code, 4);
    assert.match(gone.stdout + gone.stderr, /is gone/);
  });
});

describe('lockring locks waiters', () => {
  it('prints the queue as a table in grant order, pages with --limit and --after, follows next with --all, --json as the server says', async () => {
    const url = shared.server.url;
    const name = 'queue/cli';
    const holder = await api(url, 'POST', `/v1/locks/${encodeURIComponent(name)}/acquire`, { ttlMs: 60_000 });
    const queuedWaiters = async (): Promise<number> => (await api(url, 'GET', `/v1/locks/${encodeURIComponent(name)}`)).body.waiters;
    const waiting: Promise<unknown>[] = [];
    for (const [owner, mode] of [['w1', 'write'], ['w2', 'read'], ['w3', 'write']] as const) {
      waiting.push(api(url, 'POST', `/v1/locks/${encodeURIComponent(name)}/acquire`, { ttlMs: 60_000, waitMs: 60_000, owner, mode }));
      await waitFor(async () => (await queuedWaiters()) === waiting.length, 15_000, `waiter ${owner}`);
    }
    const text = await cli(['locks', 'waiters', name]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^POSITION\s+OWNER\s+MODE\s+WAITED\s+TIMES OUT IN$/);
    assert.deepEqual(lines.slice(1, 4).map((line) => line.split(/\s+/).slice(0, 3)), [['1', 'w1', 'write'], ['2', 'w2', 'read'], ['3', 'w3', 'write']]);
    assert.match(lines[1]!, /\s(\d+ms|[\d.]+s)\s+(\d+ms|[\d.]+s|\d+m[\d.]*s?)$/);
    assert.equal(lines[4], '(3 waiting)');

    const page = await json(['locks', 'waiters', name, '--limit', '2']);
    assert.equal(page.code, 0);
    assert.deepEqual([page.body.name, page.body.total, page.body.next], [name, 3, 2]);
    assert.deepEqual(page.body.waiters.map((w: { owner: string }) => w.owner), ['w1', 'w2']);
    const rest = await json(['locks', 'waiters', name, '--after', String(page.body.next)]);
    assert.deepEqual(rest.body.waiters.map((w: { position: number; owner: string }) => [w.position, w.owner]), [[3, 'w3']]);
    const all = await json(['locks', 'waiters', name, '--limit', '1', '--all']);
    assert.deepEqual(all.body.waiters.map((w: { owner: string }) => w.owner), ['w1', 'w2', 'w3']);
    assert.equal(all.body.next, undefined);
    const more = await cli(['locks', 'waiters', name, '--limit', '1']);
    assert.match(more.stdout, /\(3 waiting; more: --after 1, or --all\)/);

    const missing = await json(['locks', 'waiters', 'queue/nobody']);
    assert.deepEqual([missing.code, missing.body.error.code], [1, 'lock_not_found']);
    const bad = await cli(['locks', 'waiters', name, '--limit', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit: must be from 1 to 1000/);
    assert.equal((await cli(['locks', 'waiters'])).code, 2);

    // Granting each in turn empties the queue; a held name nobody waits for says so.
    let token = holder.body.token as number;
    for (const grant of waiting) {
      await api(url, 'POST', `/v1/locks/${encodeURIComponent(name)}/release`, { token });
      token = ((await grant) as { body: { token: number } }).body.token;
    }
    assert.equal((await cli(['locks', 'waiters', name])).stdout, `nobody waits for "${name}"\n`);
    await api(url, 'POST', `/v1/locks/${encodeURIComponent(name)}/release`, { token });
  });
});

describe('lockring locks list, release, check', () => {
  it('lists a page, pages on with --after, reads all with --all', async () => {
    const tokens: number[] = [];
    for (const name of ['list/a', 'list/b', 'list/c']) tokens.push((await api(shared.server.url, 'POST', `/v1/locks/${encodeURIComponent(name)}/acquire`, { ttlMs: 30_000 })).body.token);
    const page = await json(['locks', 'list', '--prefix', 'list/', '--limit', '2']);
    assert.deepEqual(page.body.locks.map((l: { name: string }) => l.name), ['list/a', 'list/b']);
    assert.equal(page.body.next, 'list/b');
    const rest = await json(['locks', 'list', '--prefix', 'list/', '--after', page.body.next]);
    assert.deepEqual(rest.body.locks.map((l: { name: string }) => l.name), ['list/c']);
    const all = await json(['locks', 'list', '--prefix', 'list/', '--limit', '1', '--all']);
    assert.deepEqual(all.body.locks.map((l: { holders: { token: number }[] }) => l.holders[0]!.token), tokens);
    assert.equal(all.body.next, undefined);
    const text = await cli(['locks', 'list', '--prefix', 'list/']);
    assert.match(text.stdout, /^NAME\s+LIMIT\s+HOLDERS\s+WAITERS\s+TOKENS\nlist\/a\s+1\s+1\s+0\s+\d+/);
  });

  it('check exits 0 while the token holds, 3 after release; a second release is not_holder (exit 1, JSON error)', async () => {
    const token = String((await api(shared.server.url, 'POST', '/v1/locks/tok/acquire', { ttlMs: 30_000 })).body.token);
    assert.equal((await cli(['check', 'tok', token])).code, 0);
    const released = await json(['release', 'tok', token]);
    assert.deepEqual([released.code, released.body.released], [0, true]);
    const checked = await json(['check', 'tok', token]);
    assert.deepEqual([checked.code, checked.body.held], [3, false]);
    const again = await json(['release', 'tok', token]);
    assert.equal(again.code, 1);
    assert.deepEqual([again.body.error.code, again.body.error.reason], ['not_holder', 'released']);
    const bad = await cli(['release', 'tok', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /TOKEN: expected a fencing token/);
  });

  it('check --mode counts only a hold in that mode', async () => {
    const token = String((await api(shared.server.url, 'POST', '/v1/locks/rtok/acquire', { ttlMs: 30_000, mode: 'read' })).body.token);
    assert.equal((await cli(['check', 'rtok', token, '--mode', 'read'])).code, 0);
    const asWrite = await cli(['check', 'rtok', token, '--mode', 'write']);
    assert.equal(asWrite.code, 3);
    assert.match(asWrite.stdout, /does not hold lock "rtok" in write mode/);
    assert.equal((await cli(['check', 'rtok', token, '--mode', 'both'])).code, 2);
    await api(shared.server.url, 'POST', '/v1/locks/rtok/release', { token: Number(token) });
  });
});

describe('lockring watch, health, completion, JSON errors', () => {
  it('watch streams lock and ring events as JSON lines until SIGTERM', async () => {
    const watching = startCli(['watch', '--prefix', 'seen/', '--ring', 'watched', '--json'], shared.env);
    await waitFor(() => watching.stderr().includes('watching 2 targets'), 15_000, 'the watches');
    const lock = await api(shared.server.url, 'POST', '/v1/locks/seen%2Fx/acquire', { ttlMs: 30_000 });
    await api(shared.server.url, 'POST', '/v1/locks/seen%2Fx/release', { token: lock.body.token });
    await api(shared.server.url, 'PUT', '/v1/rings/watched/nodes/alpha', {});
    const events = () => watching.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    await waitFor(() => events().length >= 3, 15_000, 'three events');
    watching.child.kill('SIGTERM');
    assert.equal((await watching.exited).code, 0);
    const lockEvents = events().filter((e) => e.event === 'lock');
    assert.deepEqual(lockEvents.map((e) => [e.type, e.name, e.token]), [['acquired', 'seen/x', lock.body.token], ['released', 'seen/x', lock.body.token]]);
    const ringEvents = events().filter((e) => e.event === 'ring');
    assert.ok(ringEvents.every((e) => e.type === 'changed' && e.ring === 'watched'));
    assert.deepEqual(ringEvents.at(-1).nodes, [{ id: 'alpha', weight: 1 }]);
    const nothing = await cli(['watch']);
    assert.equal(nothing.code, 2);
  });

  it('health: exit 0 and ready; unreachable: exit 1 with a JSON error under --json', async () => {
    const up = await json(['health']);
    assert.deepEqual([up.code, up.body.healthy, up.body.ready], [0, true, true]);
    const down = await runCli(['health', '--json', '--url', 'http://127.0.0.1:1', '--timeout', '2s'], shared.env);
    assert.equal(down.code, 1);
    assert.equal(JSON.parse(down.stdout).error.code, 'disconnected');
    const usage = await runCli(['health', '--json', '--timeout', 'soon'], shared.env);
    assert.equal(usage.code, 2);
    assert.equal(JSON.parse(usage.stdout).error.code, 'usage');
  });

  it('completion scripts name every command; the bash one parses', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const run = await cli(['completion', shell]);
      assert.equal(run.code, 0);
      for (const command of Object.keys(commandTable)) assert.ok(run.stdout.includes(command), `${shell} completes ${command}`);
      assert.ok(run.stdout.includes('cacert') && run.stdout.includes('keepalive'));
    }
    const bash = await cli(['completion', 'bash']);
    const parsed = spawnSync('bash', ['-n'], { input: bash.stdout });
    assert.equal(parsed.status, 0, parsed.stderr.toString());
    const completed = spawnSync('bash', ['-c', `${bash.stdout}\nCOMP_WORDS=(lockring lease k); COMP_CWORD=2; _lockring; echo "\${COMPREPLY[@]}"`]);
    assert.equal(completed.stdout.toString().trim(), 'keepalive');
    assert.equal((await cli(['completion', 'tcsh'])).code, 2);
  });
});
