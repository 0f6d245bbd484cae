import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanEnv, killAll, runCli, startCli, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lockring-data-dir-'));
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

const serveArgs = (dataDir: string): string[] => ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--log-format', 'json'];

/** Exit 2, exactly one line on stderr naming the directory and `reason`, and no socket was ever opened. */
function assertRefused(result: { code: number | null; stdout: string; stderr: string }, dataDir: string, reason: RegExp): void {
  assert.equal(result.code, 2, result.stderr + result.stdout);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${result.stderr}`);
  assert.ok(lines[0]!.includes(dataDir), lines[0]);
  assert.match(lines[0]!, reason);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(result.stdout, /listening/, 'nothing was listening');
}

describe('lockring serve: data-directory problems are found before the socket opens', () => {
  it('a data directory that is a file is refused with one line and exit 2', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    assertRefused(await runCli(serveArgs(file)), file, /not a directory/);
  });

  it('a data directory below a file (ENOTDIR) is refused with one line and exit 2', async () => {
    const file = join(dir, 'parent-file');
    writeFileSync(file, '');
    const below = join(file, 'data');
    assertRefused(await runCli(serveArgs(below)), below, /not a directory \(ENOTDIR\)/);
  });

  it('a data directory this user may not write (EACCES) is refused with one line and exit 2, and is left as it was', async (t) => {
    // As root the server runs as nobody, who must be able to reach the checkout
    // (a clone inside a 0700 temporary directory is not).
    if (process.getuid?.() === 0 && !reachableByOthers(process.cwd())) {
      t.skip('the checkout is not readable by other users, so the server cannot run as nobody here');
      return;
    }
    const locked = join(dir, 'read-only');
    mkdirSync(locked);
    // root may write anywhere: run the server as nobody instead (tests run as root in CI).
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(locked, 0o500);
    const running = startCli(serveArgs(locked), cleanEnv(), undefined, asRoot ? { uid: 65534, gid: 65534 } : undefined);
    const { code } = await running.exited;
    assertRefused({ code, stdout: running.stdout(), stderr: running.stderr() }, locked, /permission denied \(EACCES\)/);
    chmodSync(locked, 0o700);
    assert.deepEqual(readdirSync(locked), [], 'no LOCK, epoch or log file was created');
  });

  it('a data directory that does not exist yet is created, and the server serves', async () => {
    const fresh = join(dir, 'new', 'nested');
    const running = startCli(serveArgs(fresh));
    try {
      await waitFor(() => running.stdout().includes('"msg":"ready"') || running.child.exitCode !== null, 20_000, 'the server');
      assert.match(running.stdout(), /"msg":"ready"/, running.stderr());
      assert.ok(readdirSync(fresh).includes('LOCK'));
      assert.ok(!readdirSync(fresh).some((name) => name.startsWith('.write-check')), 'the write probe is removed');
    } finally {
      running.child.kill('SIGTERM');
      await running.exited;
    }
  });
});

/** Every directory from / to `path` lets other users through (mode o+x). */
function reachableByOthers(path: string): boolean {
  for (let at = resolve(path); ; at = dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) return false;
    if (dirname(at) === at) return true;
  }
}
