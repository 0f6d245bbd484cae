import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { defaultLimits } from '../../src/limits.js';
import { httpRoutes } from '../../src/protocol/http-routes.js';
import { wsPushes } from '../../src/protocol/ws-frames.js';
import { type Lockring, buildServer } from '../../src/server.js';
import { opNames } from '../../src/ws/protocol.js';
import { repoPath } from '../helpers/repo-root.js';

const read = (path: string): string => readFileSync(repoPath(path), 'utf8');
const api = read('docs/api.md');

let lockring: Lockring;
before(async () => {
  lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null }));
  await lockring.start();
});
after(async () => lockring.close());

describe('docs/api.md covers the whole API', () => {
  it('names every HTTP route and every query parameter', () => {
    for (const route of httpRoutes(defaultLimits)) {
      const escaped = `${route.method} ${route.path}`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.match(api, new RegExp(`\`${escaped}[\`?]`), `${route.method} ${route.path}`);
      for (const parameter of route.parameters.filter((p) => p.in === 'query')) {
        assert.match(api, new RegExp(`^\\| \`${parameter.name}\` \\|`, 'm'), `${route.operationId}: query ${parameter.name}`);
      }
    }
  });

  it('names every WebSocket op in its table and every push', () => {
    for (const op of opNames) assert.match(api, new RegExp(`^\\| \`${op.replace('.', '\\.')}\` \\|`, 'm'), op);
    for (const event of Object.keys(wsPushes)) assert.ok(api.includes(`{"event": "${event}"`), event);
  });

  it('names every metric the server exports (or operations.md does)', async () => {
    const text = (await lockring.app.inject({ method: 'GET', url: '/metrics' })).body;
    const names = [...text.matchAll(/^# TYPE (lockring_\w+) /gm)].map((m) => m[1]!);
    assert.ok(names.length > 10);
    const operations = read('docs/operations.md');
    for (const name of names) assert.ok(api.includes(`\`${name}\``) || operations.includes(`\`${name}\``), name);
    for (const name of names.filter((n) => !api.includes(`\`${n}\``))) assert.ok(operations.includes(name), name);
  });

  it('shows each limit with its default value', () => {
    const rows = [...api.matchAll(/^\| `(\w+)` \| (\d+) \|/gm)].filter((m) => m[1]! in defaultLimits);
    assert.ok(rows.length >= 15);
    for (const [, name, value] of rows) assert.equal(Number(value), defaultLimits[name as keyof typeof defaultLimits], name);
  });

  it('gives placement vectors the server itself computes', async () => {
    await lockring.app.inject({ method: 'PUT', url: '/v1/rings/vectors', payload: { vnodes: 160 } });
    for (const [node, weight] of [['alpha', 1], ['beta', 1], ['gamma', 2]] as const) {
      await lockring.app.inject({ method: 'PUT', url: `/v1/rings/vectors/nodes/${node}`, payload: { weight } });
    }
    const vectors = [...api.matchAll(/^\| `([^`]+)` \| `(\w+)`, `(\w+)` \|$/gm)];
    assert.equal(vectors.length, 5);
    for (const [, key, first, second] of vectors) {
      const reply = await lockring.app.inject({ method: 'GET', url: `/v1/rings/vectors/lookup?key=${encodeURIComponent(key!)}&n=2` });
      assert.deepEqual(reply.json().nodes, [first, second], key);
    }
  });
});
