// The log's queue of records waiting for their fsync is bounded (walBacklogBytesMax).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { makeConfig } from '../../src/config.js';
import { memoryOnly } from '../../src/store/durability.js';
import { ManualClock } from '../../src/domain/clock.js';
import { buildServer } from '../../src/server.js';
import { open, removeDir, tempDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

test('the backlog counts appended bytes until they are durable', async () => {
  const dir = await tempDir();
  dirs.push(dir);
  const { store, machine } = await open(dir);
  assert.equal(store.backlogBytes(), 0);
  machine.run((m) => m.locks.acquire({ name: 'a', ttlMs: 1_000 }));
  assert.ok(store.backlogBytes() > 0, 'a grant and its lease wait for their fsync');
  await store.settled();
  assert.equal(store.backlogBytes(), 0);
  await store.close();
});

test('past walBacklogBytesMax, changes get 429 naming the limit and change nothing', async () => {
  let backlog = 0;
  const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, limits: { walBacklogBytesMax: 1_000 } }), {
    clock: new ManualClock(),
    openDurability: async () => ({ ...memoryOnly, epoch: 1, backlogBytes: () => backlog }),
  });
  await lockring.start();
  const acquire = () => lockring.app.inject({ method: 'POST', url: '/v1/locks/a/acquire', payload: { ttlMs: 1_000 } });
  backlog = 1_001;
  const refused = await acquire();
  assert.equal(refused.statusCode, 429);
  assert.equal(JSON.parse(refused.body).error.limit, 'walBacklogBytesMax');
  const grant = await lockring.app.inject({ method: 'POST', url: '/v1/leases', payload: { ttlMs: 1_000 } });
  assert.equal(grant.statusCode, 429);
  assert.equal(lockring.machine.leases.byId.size, 0);
  assert.equal(lockring.machine.lastToken, 0);
  backlog = 0;
  assert.equal((await acquire()).statusCode, 200);
  await lockring.close();
});
