/**
 * The console in a real browser: Debian's chromium, headless, driven by
 * playwright-core. Screenshots of each state go to a temporary directory named in
 * the test output. Skipped, saying so, where chromium is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { consolePolicy } from '../../src/ui/console-routes.js';
import { type TestServer, startServer } from '../ws/helpers.js';

const executablePath = process.env['LOCKRING_CHROMIUM'] ?? '/usr/bin/chromium';
const absent = existsSync(executablePath) ? false : `chromium not found at ${executablePath} (apt-get install chromium, or set LOCKRING_CHROMIUM)`;
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
let shotsDir: string | undefined;
/** Where screenshots go: one temporary directory per run, named in the output. */
function shotsHere(): string {
  if (shotsDir === undefined) {
    shotsDir = mkdtempSync(join(tmpdir(), 'lockring-ui-shots-'));
    console.log(`console screenshots: ${shotsDir}`);
  }
  return shotsDir;
}
/** "Within a second" of the change, as a user would see it. */
const shownWithinMs = 1_000;

describe('the web console in chromium', { skip: absent }, () => {
  let server: TestServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(shotsHere(), `${name}.png`), fullPage: true });
  };

  before(async () => {
    server = await startServer();
    await server.http('PUT', '/v1/rings/cache', { vnodes: 64 });
    await server.http('PUT', '/v1/rings/cache/nodes/alpha', { weight: 1 });
    await server.http('PUT', '/v1/rings/cache/nodes/beta', { weight: 2 });
    profile = mkdtempSync(join(tmpdir(), 'lockring-ui-profile-'));
    context = await chromium.launchPersistentContext(profile, { executablePath, args, headless: true, viewport: { width: 1280, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A 404 is an answer the console expects (a lock that just went is lock_not_found).
      if (message.type() === 'error' && !/Failed to load resource: .* 404/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });

  after(async () => {
    await context?.close();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
    await server?.close();
  });

  test('the page comes from the server with its Content-Security-Policy, and goes live', async () => {
    const response = await page.goto(`${server.base}/ui`);
    assert.equal(response?.status(), 200);
    assert.equal(response?.headers()['content-security-policy'], consolePolicy);
    await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 5_000 });
    await page.locator('#ring-drawing path[data-node="beta"]').waitFor({ timeout: 5_000 });
    await shot('1-live');
  });

  test('a lock taken over HTTP appears with its token within a second, and goes when released', async () => {
    const held = await server.http('POST', '/v1/locks/deploy%2Fapi/acquire', { ttlMs: 60_000, owner: 'release-bot' });
    assert.equal(held.status, 200);
    const row = page.locator(`#locks tr[data-lock="deploy/api"][data-token="${held.body.token}"]`);
    await row.waitFor({ timeout: shownWithinMs });
    assert.match(await row.innerText(), /release-bot/);
    await shot('2-lock-held');
    await server.http('POST', '/v1/locks/deploy%2Fapi/release', { token: held.body.token });
    await page.locator('#locks tr[data-lock="deploy/api"]').waitFor({ state: 'detached', timeout: shownWithinMs });
    await shot('3-lock-released');
  });

  test('the prefix filter shows only the names under it', async () => {
    await server.http('POST', '/v1/locks/jobs%2Fa/acquire', { ttlMs: 60_000 });
    await server.http('POST', '/v1/locks/other/acquire', { ttlMs: 60_000 });
    await page.locator('#locks tr[data-lock="other"]').waitFor({ timeout: shownWithinMs });
    await page.fill('#prefix', 'jobs/');
    await page.locator('#locks tr[data-lock="other"]').waitFor({ state: 'detached', timeout: 3_000 });
    await page.locator('#locks tr[data-lock="jobs/a"]').waitFor({ timeout: 3_000 });
    await shot('4-filtered');
  });

  test('a member joining redraws the ring with its share', async () => {
    const before = Number(await page.locator('#ring-drawing').getAttribute('data-version'));
    await server.http('PUT', '/v1/rings/cache/nodes/gamma', { weight: 1 });
    const arc = page.locator('#ring-drawing path[data-node="gamma"]');
    await arc.waitFor({ timeout: shownWithinMs });
    assert.equal(Number(await page.locator('#ring-drawing').getAttribute('data-version')), before + 1);
    const shares = await page.locator('#ring-drawing path').evaluateAll((paths) => paths.map((p) => Number(p.getAttribute('data-share'))));
    assert.equal(shares.length, 3);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'the arcs cover the circle');
    await shot('5-ring-redrawn');
  });

  test('a key typed in the lookup box shows the owner GET /v1/rings/{ring}/lookup names', async () => {
    const expected = await server.http('GET', '/v1/rings/cache/lookup?key=user%3A42&n=2');
    await page.fill('#lookup-key', 'user:42');
    await page.fill('#lookup-n', '2');
    await page.click('#lookup-form button');
    const result = page.locator('#lookup-result[data-owner]');
    await result.waitFor({ timeout: shownWithinMs });
    assert.equal(await result.getAttribute('data-owner'), expected.body.nodes[0]);
    assert.equal(await result.getAttribute('data-nodes'), expected.body.nodes.join(','));
    await shot('6-lookup');
  });

  test('at phone width everything is still reachable, and nothing broke on the way', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('#figures figure[data-figure="holds"] .value').waitFor();
    assert.ok(await page.locator('#lookup-key').isVisible());
    await shot('7-phone');
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  });
});

describe('the web console with auth, in chromium', { skip: absent }, () => {
  test('asks for a token, keeps it for the tab, and shows only what it may read', async () => {
    const { startAuthServer, tokens } = await import('../auth/helpers.js');
    const server = await startAuthServer();
    const profile = mkdtempSync(join(tmpdir(), 'lockring-ui-profile-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath, args, headless: true });
    try {
      await server.http('POST', '/v1/locks/a%2Fjob/acquire', { ttlMs: 60_000 }, tokens.teamA);
      await server.http('POST', '/v1/locks/b%2Fjob/acquire', { ttlMs: 60_000 }, tokens.teamB);
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${server.base}/ui`);
      await page.locator('#token-form:not([hidden])').waitFor({ timeout: 5_000 });
      await page.locator('#status', { hasText: 'needs a bearer token' }).waitFor();
      await page.fill('#token', tokens.teamA);
      await page.click('#token-form button[type="submit"]');
      await page.locator('#locks tr[data-lock="a/job"]').waitFor({ timeout: 5_000 });
      assert.equal(await page.locator('#locks tr[data-lock="b/job"]').count(), 0, 'team-a cannot read b/');
      assert.equal(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem('lockring.token')), tokens.teamA);
      const later = await server.http('POST', '/v1/locks/a%2Flater/acquire', { ttlMs: 60_000 }, tokens.teamA);
      await page.locator(`#locks tr[data-lock="a/later"][data-token="${later.body.token}"]`).waitFor({ timeout: shownWithinMs });
      await page.screenshot({ path: join(shotsHere(), '8-auth.png'), fullPage: true });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await server.close();
    }
  });
});
