#!/usr/bin/env node
// The `lockring` command: runs the compiled CLI (dist/, made by `npm run build`)
// when it exists, otherwise the TypeScript source through tsx (a dev dependency),
// so `npx lockring` works in a fresh clone after `npm ci` without a build.
// LOCKRING_FROM_SOURCE=1 forces the source (when dist/ may be stale).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
if (process.env.LOCKRING_FROM_SOURCE !== '1' && existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('lockring: not built (no dist/) and tsx is not installed: run `npm ci` or `npm run build`\n');
    process.exit(1);
  }
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
