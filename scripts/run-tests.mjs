#!/usr/bin/env node
// Runs every test/**/*.test.ts file with node's built-in runner.
//
// First it type-checks the whole project (src, test, bench) and compiles it once into
// .test-build/, in one tsc pass: a type error fails the run there. The layout is dist/'s
// (.test-build/src/... one level below the checkout), so the server finds package.json
// and its assets the same way. The tests then run as that JavaScript, not through tsx:
// tsx's loader costs about 2 s of CPU in every test process (123 of them) even on
// modules it need not transpile, and the lockring processes the tests start run the
// compiled src too (LOCKRING_TEST_BUILD) instead of transpiling it again in each of the
// few hundred. A test file run on its own (`node --import tsx --test test/x.test.ts`)
// still runs from source.
//
// Node 20's `node --test` takes paths, not globs, so the files are listed here. Arguments
// filter them: a test runs when its path contains one of them.
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  const args = [tsc, '-p', 'tsconfig.json', '--outDir', outDir, '--rootDir', '.', '--declaration', 'false'];
  const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  cpSync('src/ui/assets', join(outDir, 'src/ui/assets'), { recursive: true });
  // src/sdk.ts re-exports the client package by its name, which tsc leaves as written
  // (tsconfig's `paths` serve type-checking only): the compiled code finds it here, as
  // the compiled src/client, the way tsx's path mapping finds the source.
  const client = join(outDir, 'node_modules/@lockring/client');
  mkdirSync(client, { recursive: true });
  writeFileSync(join(client, 'package.json'), JSON.stringify({ name: '@lockring/client', type: 'module', main: 'index.js' }));
  writeFileSync(join(client, 'index.js'), "export * from '../../../src/client/index.js';\n");
}

const filter = process.argv.slice(2);
const sources = findTests('test').filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
const build = resolve('.test-build');
compile(build);
const files = sources.map((f) => join(build, f.replace(/\.ts$/, '.js')));
// A test that never settles (a replica waiting forever for an election it cannot win once
// an assertion failed) fails after five minutes instead of holding the run to CI's cap;
// the longest test takes under a minute. A file whose tests are done but which keeps a
// handle open would hang, so the whole run has a cap of its own and fails when it passes
// it. (Not `--test-force-exit`: with more than one file at a time, Node's runner can lose
// the verdicts of a file's last tests under that flag and still report success.)
const runCapMs = 45 * 60_000;
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-reporter=spec', '--test-timeout=300000', ...files],
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
