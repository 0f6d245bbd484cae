import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/repo-root.js';

const root = repoRoot;
const protocolDir = join(root, 'src/protocol');

/** Every module a file pulls in at run time (type-only imports are erased). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms), ...text.matchAll(/^export [^;]*? from '([^']+)';/gms)].map((m) => m[1]!);
}

/** The run-time closure of a file: bare packages and the repository files reached. */
function closure(start: string): { packages: Set<string>; files: Set<string> } {
  const packages = new Set<string>();
  const files = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of imports(file)) {
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
  };
  visit(start);
  return { packages, files };
}

describe('the protocol module', () => {
  it('loads without fastify or any transport, so the SDK can import it', () => {
    for (const entry of readdirSync(protocolDir).filter((f) => f.endsWith('.ts'))) {
      const { packages, files } = closure(join(protocolDir, entry));
      assert.deepEqual([...packages].filter((p) => p !== 'typebox' && !p.startsWith('node:')), [], `${entry} pulls in packages`);
      const transports = [...files].map((f) => relative(root, f)).filter((f) => /^src\/(http|ws|ops|store|cli)\//.test(f));
      assert.deepEqual(transports, [], `${entry} reaches a transport`);
    }
  });

  it('the check sees what a transport pulls in (control)', () => {
    assert.ok(closure(join(root, 'src/ops/openapi.ts')).packages.has('@fastify/swagger'));
    assert.ok(closure(join(root, 'src/server.ts')).packages.has('fastify'));
  });
});
