import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorStatus as domainErrorStatus } from '../../src/domain/errors.js';
import { errorMeaning, errorStatus } from '../../src/protocol/error-catalogue.js';
import { errorExamples } from '../../src/protocol/error-examples.js';
import { repoPath } from '../helpers/repo-root.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');
const table = (text: string): Map<string, number> =>
  new Map([...text.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));

describe('the error catalogue', () => {
  it('has exactly 18 codes: a new code is a contract change, made on purpose', () => {
    assert.equal(Object.keys(errorStatus).length, 19);
    assert.equal(errorStatus.internal, 500);
  });

  it('is the domain catalogue plus internal, with the same statuses', () => {
    const { internal: _internal, ...rest } = errorStatus;
    assert.deepEqual(rest, { ...domainErrorStatus });
  });

  it('gives every code a meaning and an example that names the code', () => {
    for (const code of Object.keys(errorStatus) as (keyof typeof errorStatus)[]) {
      assert.ok(errorMeaning[code].length > 10, code);
      assert.equal(errorExamples[code]['code'], code);
    }
  });

  it('is the table of docs/errors.md and of docs/api.md, code for code and status for status', () => {
    assert.deepEqual(Object.fromEntries(table(read('docs/errors.md'))), { ...errorStatus }, 'docs/errors.md');
    const api = read('docs/api.md');
    assert.deepEqual(Object.fromEntries(table(api.slice(api.indexOf('## Error codes')))), { ...errorStatus }, 'docs/api.md');
  });
});
