/**
 * The SDK's `tls` option and the CLI's --cacert/--cert/--key (and LOCKRING_CACERT,
 * LOCKRING_CERT, LOCKRING_KEY) against a server that requires client certificates.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LockringClient, LockringClientError } from '../../src/client/index.js';
import { type AuthServer, startAuthServer, tokens } from '../auth/helpers.js';
import { cleanEnv, killAll, runCli } from '../cli/helpers.js';
import { type Pki, makePki } from '../helpers/pki.js';

let pki: Pki;
let server: AuthServer;
before(async () => {
  pki = makePki();
  server = await startAuthServer({ scheme: 'https', settings: { tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsCa: pki.ca } });
});
after(async () => {
  killAll();
  await server.close();
});

describe('client TLS options against a mutual-TLS server', () => {
  it('the SDK with ca, cert and key takes a lock over WSS and reads it back over HTTPS', async () => {
    const tls = { ca: readFileSync(pki.ca), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
    const client = new LockringClient({ url: server.base, authToken: tokens.teamA, tls, sessionTtlMs: 0 });
    const http = new LockringClient({ url: server.base, authToken: tokens.teamA, tls, websocket: false });
    try {
      await client.connect(5_000);
      assert.equal(client.connected, true, 'the WebSocket is up over TLS');
      const lock = await client.acquire('a/tls', { ttlMs: 5_000 });
      const view = await http.getLock('a/tls');
      assert.deepEqual(view.holders.map((h) => h.token), [lock.token]);
      await lock.release();
    } finally {
      await client.close();
      await http.close();
    }
  });

  it('the SDK without a client certificate, or trusting another CA, cannot get an answer', async () => {
    const noCert = new LockringClient({ url: server.base, authToken: tokens.teamA, tls: { ca: readFileSync(pki.ca) }, websocket: false });
    const wrongCa = new LockringClient({ url: server.base, tls: { ca: readFileSync(pki.strangerCert) }, websocket: false });
    try {
      for (const client of [noCert, wrongCa]) {
        await assert.rejects(client.health(), (error: unknown) => error instanceof LockringClientError && error.transport);
      }
    } finally {
      await noCert.close();
      await wrongCa.close();
    }
  });

  it('the CLI takes --cacert/--cert/--key, or the same from LOCKRING_CACERT/_CERT/_KEY', async () => {
    const auth = { LOCKRING_AUTH_TOKEN: tokens.teamA, LOCKRING_URL: server.base };
    const flags = ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
    const locked = await runCli(['lock', 'a/cli-tls', ...flags, '--', process.execPath, '-e', 'console.log(process.env.LOCKRING_FENCING_TOKEN)'], cleanEnv(auth));
    assert.equal(locked.code, 0, locked.stderr);
    assert.match(locked.stdout, /^\d+\n$/);

    const fromEnv = cleanEnv({ ...auth, LOCKRING_CACERT: pki.ca, LOCKRING_CERT: pki.clientCert, LOCKRING_KEY: pki.clientKey });
    const health = await runCli(['health', '--json'], fromEnv);
    assert.equal(health.code, 0, health.stderr);
    assert.equal(JSON.parse(health.stdout).ready, true);

    const without = await runCli(['health', '--cacert', pki.ca], cleanEnv(auth));
    assert.equal(without.code, 1, 'no client certificate: the server refuses the handshake');
    const halfPair = await runCli(['health', '--cacert', pki.ca, '--cert', pki.clientCert], cleanEnv(auth));
    assert.equal(halfPair.code, 2);
    assert.match(halfPair.stderr, /--cert and --key go together/);
  });
});
