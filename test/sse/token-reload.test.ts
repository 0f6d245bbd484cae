import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { buildServer } from '../../src/server.js';
import { authFileJson, tokens, writeAuthFile } from '../auth/helpers.js';
import { ManualTimers, SseClient } from './helpers.js';

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

describe('event streams follow the auth file as it is now', () => {
  test('a token removed by a reload sees no more events and its stream ends at the next heartbeat', async () => {
    const path = writeAuthFile();
    const timers = new ManualTimers();
    const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, port: 0, authFile: path }), { timers });
    await lockring.app.listen({ host: '127.0.0.1', port: 0 });
    await lockring.start();
    closers.push(() => lockring.close());
    const base = `http://127.0.0.1:${(lockring.app.server.address() as { port: number }).port}`;
    const stream = await SseClient.open(base, '/v1/watch?topic=lock&prefix=b%2F', { authorization: `Bearer ${tokens.teamB}` });
    closers.push(() => stream.close());
    await stream.next((event) => event.event === 'watching');

    const withoutB = { tokens: authFileJson.tokens.filter((entry) => entry.name !== 'team-b') };
    writeFileSync(path, JSON.stringify(withoutB), { mode: 0o600 });
    assert.equal(lockring.reloadAuth(), true);
    await lockring.service.acquire({ name: 'b/after', ttlMs: 10_000 });
    await new Promise((resolve) => setImmediate(resolve));
    timers.fire();
    await stream.body();
    assert.equal(stream.log.filter((event) => event.event === 'lock').length, 0, 'nothing after the token went');
    assert.equal(lockring.app.eventStreams.open.size, 0);
  });
});
