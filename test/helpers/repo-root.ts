/**
 * Where the checkout is, for tests that read its files (docs, Dockerfile, fixtures) or
 * start processes in it. A test runs from `test/` through tsx or, as the suite's runner
 * does, compiled into `.test-build/test/`: the checkout is the nearest directory above
 * this module with a package.json, whichever of the two it is.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path in the checkout, from its root. */
export function repoPath(path: string): string {
  return join(repoRoot, path);
}

/**
 * Node arguments that run a test script (a fixture a test starts as a process), given
 * its module URL with the `.js` name imports use: the compiled file when the test runs
 * compiled, else the source through tsx.
 */
export function scriptArgs(moduleUrl: URL): string[] {
  const compiled = fileURLToPath(moduleUrl);
  if (existsSync(compiled)) return [compiled];
  return ['--import', 'tsx', compiled.replace(/\.js$/, '.ts')];
}
