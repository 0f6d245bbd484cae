import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type LogLevel, makeConfig } from '../../src/config.js';
import { createLogger, logDestination } from '../../src/ops/logger.js';
import { type Lockring, buildServer } from '../../src/server.js';

const servers: Lockring[] = [];
const keepAlive = setInterval(() => {}, 1_000);
after(async () => {
  clearInterval(keepAlive);
  for (const server of servers) await server.close();
});

async function serverLoggingAt(level: LogLevel): Promise<{ lockring: Lockring; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const lockring = await buildServer(makeConfig({ logLevel: level, dataDir: null }), { logger });
  await lockring.start();
  servers.push(lockring);
  return { lockring, lines };
}

const post = async (lockring: Lockring, url: string, payload: object) => (await lockring.app.inject({ method: 'POST', url, payload })).json();

describe('logging', () => {
  it('logs lease expirations and lock-delays at debug, with lease id and lock name', async () => {
    const { lockring, lines } = await serverLoggingAt('debug');
    const grant = await post(lockring, '/v1/locks/jobs%2Fnightly/acquire', { ttlMs: 100, lockDelayMs: 50 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const expired = lines.find((l) => l['msg'] === 'lease expired');
    assert.ok(expired, JSON.stringify(lines.map((l) => l['msg'])));
    assert.equal(expired['level'], 20);
    assert.equal(expired['leaseId'], grant.leaseId);
    assert.deepEqual(expired['locks'], [{ name: 'jobs/nightly', token: grant.token }]);
    const delay = lines.find((l) => l['msg'] === 'lock-delay started');
    assert.equal(delay?.['lock'], 'jobs/nightly');
    assert.equal(delay?.['delayMs'], 50);
    assert.ok(lines.some((l) => l['msg'] === 'lock-delay ended' && l['lock'] === 'jobs/nightly'));
  });

  it('writes nothing per lock operation at info', async () => {
    const { lockring, lines } = await serverLoggingAt('info');
    for (let i = 0; i < 20; i++) {
      const grant = await post(lockring, `/v1/locks/quiet-${i}/acquire`, { ttlMs: 100 });
      await post(lockring, `/v1/locks/quiet-${i}/release`, { token: grant.token });
      await post(lockring, `/v1/locks/quiet-${i}/release`, { token: grant.token });
    }
    await post(lockring, '/v1/locks/expiring/acquire', { ttlMs: 100 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(lines, []);
  });

  it('is JSON unless asked for pretty or on a terminal', async () => {
    assert.equal(await logDestination('json', true), undefined);
    assert.equal(await logDestination('auto', false), undefined);
    assert.notEqual(await logDestination('auto', true), undefined);
    assert.notEqual(await logDestination('pretty', false), undefined);
  });

  it('redacts an authorization header', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    logger.info({ req: { headers: { authorization: 'Bearer s3cret' } } }, 'request');
    assert.doesNotMatch(lines.join(''), /s3cret/);
  });
});
