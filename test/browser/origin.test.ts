import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { makeConfig } from '../../src/config.js';
import { type Lockring, buildServer } from '../../src/server.js';

/**
 * A real browser against a real server: two page servers on 127.0.0.1 give two
 * origins (they differ by port); lockring allows one of them. What the pages can do
 * is checked on the server's side (does the lock exist?), not only by what the page saw.
 */
const chromiumPath = '/usr/bin/chromium';
const skip = existsSync(chromiumPath) ? false : `no browser at ${chromiumPath}: install it (apt-get install -y chromium) to run this test`;
const browserArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // DNS rebinding without DNS: this name resolves to loopback, as a rebinding attacker's would.
  '--host-resolver-rules=MAP rebind.test 127.0.0.1',
];

async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>page</title><p>a page</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** In the page: an HTTP acquire; 'blocked' when the browser would not let the page see an answer. */
function httpAcquire(page: Page, api: string, name: string): Promise<string> {
  return page.evaluate(async ([base, lock]) => {
    try {
      const reply = await fetch(`${base}/v1/locks/${encodeURIComponent(lock!)}/acquire`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ttlMs: 60000 }),
      });
      return `${reply.status} ${JSON.stringify(await reply.json())}`;
    } catch {
      return 'blocked';
    }
  }, [api, name] as const);
}

/** In the page: a request that needs no preflight (the browser sends it blind). */
function blindAcquire(page: Page, api: string, name: string): Promise<string> {
  return page.evaluate(async ([base, lock]) => {
    await fetch(`${base}/v1/locks/${encodeURIComponent(lock!)}/acquire`, { method: 'POST', mode: 'no-cors', body: '{"ttlMs":60000}' }).catch(() => null);
    return 'sent';
  }, [api, name] as const);
}

/** In the page: a WebSocket acquire; the reply frame, or how the socket ended. */
function wsAcquire(page: Page, wsUrl: string, name: string): Promise<string> {
  return page.evaluate(([url, lock]) => new Promise<string>((resolve) => {
    const socket = new WebSocket(url!);
    const timer = setTimeout(() => resolve('no answer'), 5000);
    socket.onopen = () => socket.send(JSON.stringify({ id: 1, op: 'lock.acquire', name: lock, ttlMs: 60000 }));
    socket.onmessage = (event) => { clearTimeout(timer); resolve(String(event.data)); socket.close(); };
    socket.onclose = () => { clearTimeout(timer); resolve('closed before opening'); };
  }), [wsUrl, name] as const);
}

describe('a headless Chromium against lockring', { skip, timeout: 120_000 }, () => {
  let lockring: Lockring;
  let api: string;
  let wsUrl: string;
  let foreign: { server: Server; origin: string };
  let dashboard: { server: Server; origin: string };
  let context: BrowserContext;
  let profile: string;
  /** What lockring answered, as `METHOD status origin-or-host`: shows who refused. */
  const seen: string[] = [];

  before(async () => {
    foreign = await pageServer();
    dashboard = await pageServer();
    lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, port: 0, allowedOrigins: [dashboard.origin] }));
    await lockring.start();
    lockring.app.addHook('onResponse', (request, reply, done) => {
      seen.push(`${request.method} ${reply.statusCode} ${request.headers.origin ?? request.headers.host}`);
      done();
    });
    await lockring.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (lockring.app.server.address() as AddressInfo).port;
    api = `http://127.0.0.1:${port}`;
    wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
    profile = mkdtempSync(join(tmpdir(), 'lockring-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, headless: true, args: browserArgs });
  });

  after(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await lockring?.close();
    foreign?.server.close();
    dashboard?.server.close();
  });

  const lockExists = async (name: string): Promise<boolean> =>
    (await lockring.app.inject({ method: 'GET', url: `/v1/locks/${encodeURIComponent(name)}` })).statusCode === 200;

  it('a page of another origin cannot take a lock over HTTP, not even with a request sent blind', async () => {
    const page = await context.newPage();
    await page.goto(foreign.origin);
    assert.equal(await httpAcquire(page, api, 'browser/http'), 'blocked');
    await blindAcquire(page, api, 'browser/blind');
    assert.equal(await lockExists('browser/http'), false);
    assert.equal(await lockExists('browser/blind'), false);
    // lockring itself refused both: the preflight and the blind request.
    assert.ok(seen.includes(`OPTIONS 403 ${foreign.origin}`), seen.join(', '));
    assert.ok(seen.includes(`POST 403 ${foreign.origin}`), seen.join(', '));
    await page.close();
  });

  it('a page of another origin cannot open a WebSocket', async () => {
    const page = await context.newPage();
    await page.goto(foreign.origin);
    assert.equal(await wsAcquire(page, wsUrl, 'browser/ws'), 'closed before opening');
    assert.equal(await lockExists('browser/ws'), false);
    assert.equal(lockring.app.wsHub.connections.size, 0);
    await page.close();
  });

  it('a DNS-rebinding page (its own name now pointing at loopback) cannot take a lock', async () => {
    const page = await context.newPage();
    const port = new URL(api).port;
    await page.goto(`http://rebind.test:${port}/healthz`);
    // To the browser this is the page's own origin: no CORS stands in the way.
    const http = await httpAcquire(page, `http://rebind.test:${port}`, 'rebind/http');
    assert.match(http, /^403 .*"header":"host"/);
    assert.equal(await wsAcquire(page, `ws://rebind.test:${port}/v1/ws`, 'rebind/ws'), 'closed before opening');
    assert.equal(await lockExists('rebind/http'), false);
    assert.equal(await lockExists('rebind/ws'), false);
    await page.close();
  });

  it('a page of a configured origin takes a lock over HTTP (CORS) and over WebSocket', async () => {
    const page = await context.newPage();
    await page.goto(dashboard.origin);
    const http = await httpAcquire(page, api, 'dash/http');
    assert.match(http, /^200 /);
    assert.equal(JSON.parse(http.slice(4)).name, 'dash/http');
    const refused = await httpAcquire(page, api, 'dash/http');
    assert.match(refused, /^409 .*lock_held/, 'the page can read the refusal too');
    const ws = JSON.parse(await wsAcquire(page, wsUrl, 'dash/ws'));
    assert.equal(ws.ok, true);
    assert.equal(typeof ws.token, 'number');
    assert.equal(await lockExists('dash/http'), true);
    await page.close();
  });

  it('the explorer at /docs renders its operations from local assets only', async () => {
    const page = await context.newPage();
    const outside: string[] = [];
    const consoleErrors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('request', (request) => {
      if (!request.url().startsWith(api) && !request.url().startsWith('data:')) outside.push(request.url());
    });
    await page.goto(`${api}/docs`);
    await page.waitForSelector('.opblock-summary', { timeout: 30_000 });
    const summaries = await page.locator('.opblock-summary-description').allTextContents();
    assert.ok(summaries.includes('Acquire a lock or semaphore permit'), summaries.join(' | '));
    assert.deepEqual(outside, []);
    assert.deepEqual(consoleErrors, [], 'no asset or policy error in the page');
    await page.close();
  });
});
