// A second process pointed at the same data directory refuses to
// start; a lock left behind by a kill -9 does not block the next start.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { scriptArgs } from '../helpers/repo-root.js';
import { DataDirLockedError } from '../../src/store/index.js';
import { open, removeDir, tempDir } from './helpers.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await removeDir(dir);
});
async function fresh(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

const fixture = scriptArgs(new URL('./fixtures/hold-open.js', import.meta.url));

/** Starts a child that opens `dir` and holds it; resolves with what it made durable. */
async function holdOpen(dir: string): Promise<{ child: ChildProcess; pid: number; tokens: number[] }> {
  const child = spawn(process.execPath, [...fixture, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  lines.close();
  const report = JSON.parse(first) as { pid: number; tokens: number[] };
  return { child, ...report };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('data directory lock', () => {
  test('a second open in the same process is refused while the first is open, allowed after close', async () => {
    const dir = await fresh();
    const first = await open(dir);
    await assert.rejects(open(dir), (error: unknown) => {
      assert.ok(error instanceof DataDirLockedError);
      assert.match(error.message, /in use: it is already open in this process/);
      return true;
    });
    await first.store.close();
    const second = await open(dir);
    await second.store.close();
  });

  test('another process holding the directory makes open fail; after its kill -9 the next open recovers its state', async () => {
    const dir = await fresh();
    const { child, pid, tokens } = await holdOpen(dir);
    await assert.rejects(open(dir), (error: unknown) => {
      assert.ok(error instanceof DataDirLockedError);
      assert.match(error.message, new RegExp(`locked by pid ${pid} on `));
      return true;
    });
    child.kill('SIGKILL');
    await exited(child);
    const lock = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid: number };
    assert.equal(lock.pid, pid, 'kill -9 leaves the lock file behind');

    const { store, machine } = await open(dir);
    for (let i = 0; i < tokens.length; i++) {
      assert.equal(machine.locks.check(`child-${i}`, tokens[i]!), true);
    }
    assert.equal(machine.rings.get('child-ring').members.get('n1')?.weight, 2);
    const next = machine.run((m) => m.locks.acquire({ name: 'after', ttlMs: 1_000 }));
    assert.ok('granted' in next && next.granted.token > Math.max(...tokens));
    await store.close();
  });

  test('a lock file whose process is gone is taken over', async () => {
    const dir = await fresh();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: deadPid, startTicks: 1, host: hostname(), since: 'then' }));
    const { store } = await open(dir);
    const lock = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid: number };
    assert.equal(lock.pid, process.pid);
    await store.close();
  });

  test('a live pid that started at another time (a reused pid) is stale', { skip: !existsSync('/proc/self/stat') }, async () => {
    const dir = await fresh();
    // Our parent is alive, but it did not start at tick 1.
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: process.ppid, startTicks: 1, host: hostname(), since: 'then' }));
    const { store } = await open(dir);
    await store.close();
  });

  test('a lock from another host, or a file that is not a lock, is refused with a clear message', async () => {
    const dir = await fresh();
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: 1, startTicks: null, host: 'elsewhere.example', since: 'then' }));
    await assert.rejects(open(dir), /locked by pid 1 on elsewhere\.example since then \(another host: remove .*LOCK only if that server is stopped\)/);
    await writeFile(join(dir, 'LOCK'), 'hello');
    await assert.rejects(open(dir), /is not a lockring lock file/);
  });
});
