import assert from 'node:assert/strict';
import { type Socket, connect, createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { api, cleanEnv, killAll, startCli, startServer, waitFor } from './helpers.js';

after(() => killAll());

const logLines = (stdout: string): { msg: string; [key: string]: unknown }[] =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

/**
 * A request whose body never finishes: the server is busy with it, so a drain
 * cannot complete. A second, complete request answered afterwards shows the server
 * has read the first one's headers (its bytes arrived earlier on the same loop).
 */
async function halfSentRequest(url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('POST /v1/leases HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"tt');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await api(url, 'GET', '/healthz')).status, 200);
  return socket;
}

describe('lockring serve: startup and graceful shutdown', () => {
  it('prints the configuration once; SIGTERM answers a queued acquire (503 not_ready) and exits 0', async () => {
    const server = await startServer(['--shutdown-grace', '5s']);
    const configLines = logLines(server.stdout()).filter((l) => l.msg === 'configuration');
    assert.equal(configLines.length, 1);
    assert.equal((configLines[0]!['config'] as { port: number }).port, 0);
    assert.equal((await api(server.url, 'GET', '/readyz')).status, 200);

    const holder = await api(server.url, 'POST', '/v1/locks/drain/acquire', { ttlMs: 60_000 });
    assert.equal(holder.status, 200);
    // A keep-alive client waiting up to 60 s: shutdown must answer it, not wait it out.
    const waiter = api(server.url, 'POST', '/v1/locks/drain/acquire', { ttlMs: 60_000, waitMs: 60_000 });
    await waitFor(async () => (await api(server.url, 'GET', '/v1/locks/drain')).body.waiters === 1, 10_000, 'the waiter to queue');

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const answer = await waiter;
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body, { error: { code: 'not_ready', message: 'server is shutting down' } });
    const { code } = await server.exited;
    assert.equal(code, 0, server.stderr());
    assert.ok(Date.now() - signalledAt < 5_000, 'well within the grace period');
    const messages = logLines(server.stdout()).map((l) => l.msg);
    assert.ok(messages.includes('shutting down'));
    assert.equal(messages.at(-1), 'stopped', `the last line is flushed before exit: ${messages.join(' | ')}`);
  });

  it('stops on SIGTERM even when nobody reads its stdout any more (EPIPE)', async () => {
    // Regression: pino's asynchronous stdout stream retried EPIPE forever at exit.
    const server = await startServer();
    server.child.stdout!.destroy();
    await api(server.url, 'GET', '/healthz');
    server.child.kill('SIGTERM');
    const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
    const { code, signal } = await server.exited;
    clearTimeout(timer);
    assert.equal(signal, null, 'exited by itself');
    assert.equal(code, 0);
  });

  it('SIGINT stops it too, with exit 0', async () => {
    const server = await startServer();
    server.child.kill('SIGINT');
    assert.equal((await server.exited).code, 0);
  });

  it('a drain that cannot finish (a half-sent request) ends after --shutdown-grace with exit 1', async () => {
    const server = await startServer(['--shutdown-grace', '300ms']);
    const socket = await halfSentRequest(server.url);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const { code } = await server.exited;
    socket.destroy();
    assert.equal(code, 1);
    assert.ok(Date.now() - signalledAt < 3_000);
    assert.ok(logLines(server.stdout()).some((l) => /did not finish within the grace period/.test(l.msg)));
  });

  it('a second signal exits 1 at once', async () => {
    const server = await startServer(['--shutdown-grace', '20s']);
    const socket = await halfSentRequest(server.url);
    server.child.kill('SIGTERM');
    await waitFor(() => server.stdout().includes('"msg":"shutting down"'), 5_000, 'the drain to start');
    server.child.kill('SIGINT');
    const { code } = await server.exited;
    socket.destroy();
    assert.equal(code, 1);
  });

  it('exits 1 when it cannot listen (port taken)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const running = startCli(['serve', '--port', String(port), '--data-dir', 'off', '--log-format', 'json'], cleanEnv());
    const { code } = await running.exited;
    blocker.close();
    assert.equal(code, 1);
    assert.match(running.stdout(), /"msg":"cannot listen"/);
    assert.match(running.stdout(), /EADDRINUSE/);
  });
});
