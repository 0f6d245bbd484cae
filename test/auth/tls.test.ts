/**
 * TLS and mutual TLS, with certificates the test makes itself (test/helpers/pki.ts):
 * a CA, a server certificate for 127.0.0.1, a client certificate from that CA and
 * one from a stranger CA. HTTPS and WSS both; bad TLS configuration exits 2.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ConfigError, loadConfig, makeConfig } from '../../src/config.js';
import { readTlsOptions } from '../../src/ops/network.js';
import { runCli } from '../cli/helpers.js';
import { within } from '../ws/helpers.js';
import { type Pki, makePki } from '../helpers/pki.js';
import { type AuthServer, startAuthServer, tokens } from './helpers.js';

interface TlsClient {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** GET over HTTPS; rejects on a TLS or socket error. */
function httpsGet(url: string, tls: TlsClient, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

let pki: Pki;
const servers: AuthServer[] = [];
before(() => {
  pki = makePki();
});
after(async () => {
  for (const server of servers) await server.close();
});

const read = (path: string): Buffer => readFileSync(path);

describe('TLS', () => {
  it('serves HTTPS and WSS with the configured certificate; bearer tokens still apply', async () => {
    const server = await startAuthServer({ scheme: 'https', settings: { tlsCert: pki.serverCert, tlsKey: pki.serverKey } });
    servers.push(server);
    const ca = read(pki.ca);
    assert.equal((await httpsGet(`${server.base}/healthz`, { ca })).status, 200);
    assert.equal((await httpsGet(`${server.base}/v1/rings`, { ca })).status, 401);
    assert.equal((await httpsGet(`${server.base}/v1/rings`, { ca }, tokens.reader)).status, 200);
    // A client that does not trust the CA refuses the server.
    await assert.rejects(httpsGet(`${server.base}/healthz`, { ca: read(join(pki.dir, 'stranger-ca.crt')) }));
    // Plain HTTP on the TLS port gets no HTTP answer.
    const plain = await fetch(`http://127.0.0.1:${server.port}/healthz`).then((r) => r.status, () => 0);
    assert.notEqual(plain, 200);

    const ws = new WebSocket(server.wsUrl, { ca, headers: { authorization: `Bearer ${tokens.teamA}` } });
    ws.on('error', () => {});
    await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'wss open');
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(data.toString())));
    ws.send(JSON.stringify({ id: 1, op: 'lock.check', name: 'a/x', token: 1 }));
    assert.deepEqual(JSON.parse(await within(reply, 5_000, 'a reply')), { id: 1, ok: true, name: 'a/x', token: 1, held: false });
    ws.close();
  });

  it('with --tls-ca a client must present a certificate signed by that CA (mutual TLS)', async () => {
    const server = await startAuthServer({ scheme: 'https', settings: { tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsCa: pki.ca } });
    servers.push(server);
    const ca = read(pki.ca);
    const client = { ca, cert: read(pki.clientCert), key: read(pki.clientKey) };
    assert.equal((await httpsGet(`${server.base}/v1/rings`, client, tokens.reader)).status, 200);
    await assert.rejects(httpsGet(`${server.base}/healthz`, { ca }), 'no client certificate');
    await assert.rejects(httpsGet(`${server.base}/healthz`, { ca, cert: read(pki.strangerCert), key: read(pki.strangerKey) }), 'a stranger CA');

    const refused = new WebSocket(server.wsUrl, { ca, headers: { authorization: `Bearer ${tokens.reader}` } });
    const outcome = await within(
      new Promise<string>((resolve) => {
        refused.once('open', () => resolve('open'));
        refused.once('error', () => resolve('error'));
      }),
      5_000,
      'the refused wss',
    );
    assert.equal(outcome, 'error');
    const ws = new WebSocket(server.wsUrl, { ...client, headers: { authorization: `Bearer ${tokens.reader}` } });
    ws.on('error', () => {});
    await within(new Promise((resolve) => ws.once('open', resolve)), 5_000, 'mutual-TLS wss open');
    ws.close();
  });
});

describe('TLS configuration is checked before the server listens', () => {
  it('certificate and key go together; a CA needs them; the files must be PEM and match', () => {
    assert.throws(() => makeConfig({ tlsCert: pki.serverCert }), ConfigError);
    assert.throws(() => makeConfig({ tlsKey: pki.serverKey }), ConfigError);
    assert.throws(() => makeConfig({ tlsCa: pki.ca }), /--tls-ca \(mutual TLS\) needs --tls-cert/);
    assert.throws(() => loadConfig({ env: {}, flags: { tlsCert: join(pki.dir, 'missing.crt') } }), /--tls-cert: cannot read/);
    assert.throws(() => readTlsOptions({ tlsCert: pki.serverCert, tlsKey: pki.clientKey, tlsCa: null }), /--tls-cert \/ --tls-key: .*/);
    assert.throws(() => readTlsOptions({ tlsCert: pki.serverKey.replace('.key', '.ext'), tlsKey: pki.serverKey, tlsCa: null }), /not a PEM file/);
    assert.throws(() => readTlsOptions({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsCa: join(pki.dir, 'client.ext') }), /--tls-ca: .*not a PEM file/);
    assert.ok(readTlsOptions({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsCa: pki.ca })?.requestCert);
  });

  it('lockring serve exits 2 on a key that does not match its certificate', async () => {
    const run = await runCli(['serve', '--port', '0', '--data-dir', 'off', '--tls-cert', pki.serverCert, '--tls-key', pki.clientKey]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /configuration error: --tls-cert \/ --tls-key/);
  });
});
