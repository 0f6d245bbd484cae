/**
 * SIGHUP reloads the auth file of the real server (a child process) without
 * dropping connections. The old token stops working, the new one works, an open
 * WebSocket survives and runs its next op with the new grants; a broken file keeps
 * the tokens that were loaded and logs why.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, it } from 'node:test';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';
import { TestSocket, eventually } from '../ws/helpers.js';
import { bearer, writeAuthFile } from './helpers.js';

const oldToken = 'team-a-old-token-000000000';
const newToken = 'team-a-new-token-111111111';
const opsToken = 'ops-token-2222222222222222';

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop();
});

const get = async (base: string, path: string, token: string): Promise<number> =>
  (await fetch(base + path, { headers: { authorization: `Bearer ${token}` } })).status;

it('SIGHUP swaps the tokens in; open sockets stay and use the new grants; a bad file changes nothing', async () => {
  const path = writeAuthFile({
    tokens: [
      { name: 'team-a', token: oldToken, grants: [{ role: 'lock', prefix: 'a/' }] },
      { name: 'ops', token: opsToken, grants: [{ role: 'ring-admin' }] },
    ],
  });
  server = await startServerProcess({ LOCKRING_AUTH_FILE: path });
  const { base } = server;
  assert.equal(await get(base, '/v1/locks?prefix=a%2F', oldToken), 200);
  assert.equal((await fetch(`${base}/v1/locks`)).status, 401);
  const socket = await TestSocket.open(`${base.replace('http', 'ws')}/v1/ws`, bearer(opsToken));
  assert.equal((await socket.request('ring.lookup', { ring: 'r', key: 'k' }))['error'].code, 'ring_not_found');

  writeFileSync(path, JSON.stringify({
    tokens: [
      { name: 'team-a', token: newToken, grants: [{ role: 'lock', prefix: 'a/' }] },
      { name: 'ops', token: opsToken, grants: [{ role: 'read', prefix: 'public/' }] },
    ],
  }));
  const lines = server.lines;
  server.child.kill('SIGHUP');
  await eventually(() => lines.some((line) => line.includes('"msg":"auth file reloaded"')), 'the reload to be logged', 10_000);
  assert.ok(lines.some((line) => line.includes('"msg":"auth file reloaded"') && line.includes('"tokens":2')));

  assert.equal(await get(base, '/v1/locks?prefix=a%2F', oldToken), 401);
  assert.equal(await get(base, '/v1/locks?prefix=a%2F', newToken), 200);
  // The socket is still open; its token kept its name but lost ring rights on "r".
  assert.equal((await socket.request('ring.lookup', { ring: 'r', key: 'k' }))['error'].code, 'forbidden');
  assert.equal((await socket.request('ring.lookup', { ring: 'public/r', key: 'k' }))['error'].code, 'ring_not_found');

  writeFileSync(path, '{"tokens": [ not json');
  server.child.kill('SIGHUP');
  await eventually(() => lines.some((line) => line.includes('auth file reload failed')), 'the failed reload to be logged', 10_000);
  assert.equal(await get(base, '/v1/locks?prefix=a%2F', newToken), 200, 'the previous tokens still work');
  assert.equal(server.child.exitCode, null, 'SIGHUP never stops the server');
  assert.equal((await socket.request('ring.lookup', { ring: 'public/r', key: 'k' }))['error'].code, 'ring_not_found');
  const text = lines.join('\n');
  for (const secret of [oldToken, newToken, opsToken]) assert.ok(!text.includes(secret), 'no token in the log');
  await socket.close();
});
