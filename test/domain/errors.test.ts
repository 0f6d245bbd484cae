import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { LockringError } from '../../src/domain/errors.js';
// The catalogue clients see: the domain's codes plus `internal`.
import { errorStatus } from '../../src/protocol/error-catalogue.js';
import { repoPath } from '../helpers/repo-root.js';

// The user docs and the catalogue must never drift apart.
const docs = readFileSync(repoPath('docs/errors.md'), 'utf8');
const documented = new Map<string, number>();
for (const match of docs.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) documented.set(match[1]!, Number(match[2]));

test('every catalogued error code is documented with its status', () => {
  for (const [code, status] of Object.entries(errorStatus)) {
    assert.equal(documented.get(code), status, `docs/errors.md: ${code}`);
  }
});

test('docs/errors.md documents no code the catalogue lacks', () => {
  for (const code of documented.keys()) assert.ok(code in errorStatus, `unknown code ${code} in docs`);
});

test('an error renders as code, message and details', () => {
  const error = new LockringError('not_holder', 'nope', { reason: 'expired' });
  assert.equal(error.status, 409);
  assert.deepEqual(error.toBody(), { code: 'not_holder', message: 'nope', reason: 'expired' });
});
