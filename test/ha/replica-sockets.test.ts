/**
 * Leadership per WebSocket frame: a socket opened on the active outlives the
 * upgrade's check, so every frame asks again. An active paused (SIGSTOP) past its
 * session TTL while a standby takes over must, once resumed, answer no frame that
 * waited on its open sockets, and drop them, so that clients redial the new active
 * and resume their sessions there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { LockringClient } from '../../src/client/client.js';
import { noEtcd } from '../helpers/etcd-cluster.js';
import { call, etcdForSuite, startReplica, waitForActive, withReplicaLogs } from '../helpers/lockring-cluster.js';

interface Frames {
  readonly socket: WebSocket;
  readonly received: Record<string, unknown>[];
  readonly closed: Promise<number>;
  /** Sends a request frame and resolves with its reply. */
  request(frame: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function openFrames(url: string): Promise<Frames> {
  const socket = new WebSocket(`${url.replace('http', 'ws')}/v1/ws`);
  const received: Record<string, unknown>[] = [];
  const waiting = new Map<unknown, (reply: Record<string, unknown>) => void>();
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    received.push(frame);
    waiting.get(frame['id'])?.(frame);
  });
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket, received, closed,
    request(frame) {
      return new Promise((resolve) => {
        waiting.set(frame['id'], resolve);
        socket.send(JSON.stringify(frame));
      });
    },
  };
}

describe('WebSockets across a takeover', { skip: noEtcd, timeout: 90_000 }, () => {
  const cluster = etcdForSuite();

  test('a deposed active answers no frame on a socket opened before, drops it, and the session resumes on the new active', async () => {
    const replicas = await Promise.all([0, 1].map(() => startReplica(cluster().endpoints, 'sockets')));
    const active = await waitForActive(replicas);
    const standby = replicas.find((r) => r !== active)!;
    await withReplicaLogs(replicas, async () => {
      const frames = await openFrames(active.url);
      const opened = await frames.request({ id: 1, op: 'session.open', ttlMs: 10_000 });
      const session = opened['leaseId'] as string;
      const held = await frames.request({ id: 2, op: 'lock.acquire', name: 'ws-held', leaseId: session });
      const token = held['token'] as number;
      assert.ok(token > 0);
      const sdk = new LockringClient({ url: `${active.url},${standby.url}`, sessionTtlMs: 10_000, requestTimeoutMs: 15_000 });
      try {
        await sdk.connect();
        const sdkSession = sdk.sessionId;
        const reconnected = new Promise<{ resumed: boolean }>((resolve) => sdk.on('connected', resolve));
        const before = frames.received.length;

        active.signal('SIGSTOP');
        await waitForActive([standby], 15_000);
        // Frames that reach the paused process; it reads them first thing when it wakes.
        frames.socket.send(JSON.stringify({ id: 3, op: 'lock.acquire', name: 'ws-other', ttlMs: 10_000 }));
        frames.socket.send(JSON.stringify({ id: 4, op: 'lock.check', name: 'ws-held', token }));
        frames.socket.send(JSON.stringify({ id: 5, op: 'lease.keepalive', leaseId: session }));
        await sleep(200);
        active.signal('SIGCONT');
        const closedWith = await Promise.race([frames.closed, sleep(10_000, 'open')]);
        assert.notEqual(closedWith, 'open', 'the deposed active dropped the socket');
        assert.deepEqual(frames.received.slice(before), [], 'the deposed active answered a frame');
        for (let i = 0; i < 100 && active.exitCode() === undefined; i++) await sleep(30);
        assert.equal(active.exitCode(), 1, 'the deposed active exits');

        const other = await call(standby.url, 'POST', '/v1/locks/ws-other/acquire', { ttlMs: 1_000 });
        assert.equal(other.status, 200, 'the acquire the deposed active swallowed changed nothing');
        assert.ok(other.body.token > token);
        const resumedFrames = await openFrames(standby.url);
        const resumed = await resumedFrames.request({ id: 1, op: 'session.resume', leaseId: session });
        assert.equal(resumed['leaseId'], session, JSON.stringify(resumed));
        const check = await resumedFrames.request({ id: 2, op: 'lock.check', name: 'ws-held', token });
        assert.equal(check['held'], true, 'the hold on the session survived the takeover');
        resumedFrames.socket.close();

        const again = await Promise.race([reconnected, sleep(15_000, null)]);
        assert.ok(again !== null, 'the SDK reconnected');
        assert.equal(again.resumed, true, 'the SDK resumed its session on the new active');
        assert.equal(sdk.sessionId, sdkSession);
      } finally {
        await sdk.close();
      }
    });
  });
});
