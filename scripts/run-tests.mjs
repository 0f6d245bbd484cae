#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node's built-in runner through tsx.
// Node 20's `node --test` takes paths, not globs, so the files are listed here.
//
// First it compiles src once into .test-build/ (the layout of dist/, so the code finds
// package.json and its assets the same way) and tells the tests where it is: the
// lockring processes they start run that JavaScript instead of transpiling the sources
// in every process, which roughly halves the CPU of a server start on a suite that
// starts a few hundred. The tests themselves still run from source through tsx.
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

function compile(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  cpSync('src/ui/assets', join(outDir, 'src/ui/assets'), { recursive: true });
}

const filter = process.argv.slice(2);
const files = findTests('test').filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
const build = resolve('.test-build');
compile(build);
// A test that never settles (a replica waiting forever for an election it cannot win once
// an assertion failed) fails after five minutes instead of holding the run to CI's cap;
// the longest test takes under a minute. A file whose tests are done but which keeps a
// handle open would hang, so the whole run has a cap of its own and fails when it passes
// it. (Not `--test-force-exit`: with more than one file at a time, Node's runner can lose
// the verdicts of a file's last tests under that flag and still report success.)
const runCapMs = 45 * 60_000;
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-timeout=300000', ...files],
  {
    stdio: 'inherit',
    timeout: runCapMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, LOCKRING_TEST_BUILD: build, LOCKRING_LOG_LEVEL: process.env.LOCKRING_LOG_LEVEL ?? 'silent' },
  },
);
if (result.signal !== null) {
  console.error(`run-tests: the run passed its cap of ${runCapMs / 60_000} minutes (a test file that never exits?) and was killed`);
  process.exit(1);
}
process.exit(result.status ?? 1);
