import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { makeLimits } from '../../src/limits.js';
import { openApiDocument } from '../../src/protocol/openapi-document.js';

describe('the OpenAPI document under Redocly', () => {
  it('has no error and no warning under the recommended rules (offline, no network)', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const source = JSON.stringify(openApiDocument(makeLimits()));
    const problems = await lintFromString({ source, absoluteRef: 'lockring-openapi.json', config });
    const shown = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? '?'}`);
    assert.deepEqual(shown, []);
  });
});

describe('the lint check itself', () => {
  it('reports an operation without a summary as an error, so a clean result means something', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const doc = openApiDocument(makeLimits()) as { paths: Record<string, Record<string, { summary?: string }>> };
    delete doc.paths['/v1/leases']!['post']!.summary;
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'broken.json', config });
    assert.ok(problems.some((p) => p.severity === 'error' && p.ruleId === 'operation-summary'));
  });
});
