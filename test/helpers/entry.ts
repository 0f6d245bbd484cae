/**
 * How a test starts lockring as a process: the arguments to node for the server entry
 * (`main`) or the CLI (`cli`).
 *
 * `scripts/run-tests.mjs` compiles src once per run into LOCKRING_TEST_BUILD and the
 * tests start that JavaScript: a server start through tsx costs about twice the CPU of a
 * compiled one (transpiling every module again), and the suite starts a few hundred
 * processes on two cores. A test file run on its own, without the runner, starts the
 * sources through tsx, so it can never run a stale build.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.js';

const sources = { main: 'src/main', cli: 'src/cli/main' } as const;

export type Entry = keyof typeof sources;

export function entryArgs(entry: Entry): string[] {
  const build = process.env['LOCKRING_TEST_BUILD'];
  const compiled = build === undefined ? undefined : join(build, `${sources[entry]}.js`);
  if (compiled !== undefined && existsSync(compiled)) return [compiled];
  return ['--import', 'tsx', join(repoRoot, `${sources[entry]}.ts`)];
}
