import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exitCodes } from '../../src/cli/exit-codes.js';
import { settings } from '../../src/config.js';
import { defaultLimits } from '../../src/limits.js';
import { repoPath } from '../helpers/repo-root.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');

describe('user documentation matches the code', () => {
  it('README keeps its first two command lines', () => {
    const lines = read('README.md').split('\n');
    assert.equal(lines[3], 'npm ci && npm start        # serves on 127.0.0.1:7420, data in ./data');
    assert.equal(lines[4], 'npm ci && npm test         # type check, lint and the whole test suite');
  });

  it('every setting is documented by flag and environment variable', () => {
    for (const doc of ['README.md', 'docs/operations.md', 'docs/cli.md']) {
      const text = read(doc);
      for (const setting of settings) {
        assert.ok(text.includes(`--${setting.flag}`), `${doc} lacks --${setting.flag}`);
        assert.ok(text.includes(setting.env), `${doc} lacks ${setting.env}`);
      }
      for (const extra of ['--config', 'LOCKRING_CONFIG', '--limit', 'LOCKRING_LIMITS']) assert.ok(text.includes(extra), `${doc} lacks ${extra}`);
    }
    const operations = read('docs/operations.md');
    for (const setting of settings) assert.ok(operations.includes(`\`${setting.key}\``), `operations.md lacks key ${setting.key}`);
  });

  it('every limit is in the operations limits table with its default', () => {
    const operations = read('docs/operations.md');
    for (const [name, value] of Object.entries(defaultLimits)) {
      const row = operations.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      assert.ok(row, `docs/operations.md has no row for limit ${name}`);
      const shown = row.split('|')[2]!.trim();
      const bytes = /^(\d+) (KiB|MiB)$/.exec(shown);
      const number = bytes ? Number(bytes[1]) * (bytes[2] === 'KiB' ? 1024 : 1024 ** 2) : Number(shown.split(' ')[0]!.replace(/,/g, ''));
      assert.equal(number, value, `limit ${name}: docs say ${shown}`);
    }
  });

  it('every exit code is documented', () => {
    const cli = read('docs/cli.md');
    const operations = read('docs/operations.md');
    // A table row whose first cell names the code.
    const row = (code: number): RegExp => new RegExp(`^\\| [^|]*\\b${code}\\b[^|]*\\|`, 'm');
    for (const code of Object.values(exitCodes)) {
      assert.match(operations, row(code), `operations.md: exit ${code}`);
      if (code !== exitCodes.ok) assert.match(cli, row(code), `cli.md: exit ${code}`);
    }
  });

  it('the alert rules parse, and the documented table lists exactly them', () => {
    const rules = parse(read('prometheus-alerts.yml'));
    const names = rules.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules.map((r) => r.alert)).sort();
    const documented = [...read('docs/operations.md').matchAll(/^\| `(Lockring\w+)` \|/gm)].map((m) => m[1]).sort();
    assert.deepEqual(documented, names);
  });
});
