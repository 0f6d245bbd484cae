import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { consolePolicy } from '../../src/ui/console-routes.js';
import { type AuthServer, startAuthServer, tokens } from '../auth/helpers.js';

let server: AuthServer;
after(() => server?.close());

describe('the console files', () => {
  test('are served without a token, each with the CSP and its type; nothing else is', async () => {
    server = await startAuthServer();
    for (const [path, type] of [['/ui', 'text/html'], ['/ui/', 'text/html'], ['/ui/console.js', 'text/javascript'], ['/ui/console.css', 'text/css']]) {
      const reply = await server.http('GET', path!);
      assert.equal(reply.status, 200, path);
      assert.ok(reply.headers.get('content-type')!.startsWith(type!), `${path}: ${reply.headers.get('content-type')}`);
      assert.equal(reply.headers.get('content-security-policy'), consolePolicy);
      assert.equal(reply.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await server.http('GET', '/ui/..%2Fpackage.json')).status, 404, 'no way out of the asset list');
    assert.equal((await server.http('GET', '/ui/missing.js')).status, 404);
  });

  test('the page loads no inline script or style and nothing from another origin', async () => {
    const page = String((await server.http('GET', '/ui')).body);
    assert.doesNotMatch(page, /<script(?![^>]*\bsrc="\/ui\/)[^>]*>/);
    assert.doesNotMatch(page, /\sstyle=|<style|\son[a-z]+=/i);
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//);
  });

  test('the data behind it still needs a token', async () => {
    assert.equal((await server.http('GET', '/v1/rings/cache/shares')).status, 401);
    assert.equal((await server.http('GET', '/v1/rings/cache/shares', undefined, tokens.reader)).status, 404);
  });
});
