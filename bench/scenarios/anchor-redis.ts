/**
 * Anchor: Redis with appendfsync everysec, as users run it for locks. Driven by
 * redis-benchmark (C client, 50 connections, no pipelining) per command, and by
 * ioredis from Node with the lock cycle users write: INCR for the fencing token,
 * SET key token NX PX, then a Lua compare-and-delete, each awaited (no
 * pipelining), 50 connections with 1 or 16 loops each: the same concurrency as
 * the lockring WebSocket scenario it is compared with.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { redisBenchmark, redisInstall, startRedis, which } from '../lib/anchors.js';
import { timedLoops } from '../lib/loops.js';
import { measure } from '../lib/measure.js';
import { type Scenario, anchorKeys } from '../lib/scenario.js';

const compareAndDelete = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const connections = 50;

type LockRedis = Redis & { compareAndDelete(key: string, token: string): Promise<number> };

export const redisAnchor: Scenario = {
  id: 'redis',
  title: 'Anchor: Redis (appendfsync everysec) via redis-benchmark and ioredis',
  async run(ctx) {
    const serverBin = await which('redis-server');
    if (serverBin === null) {
      const reason = `redis-server not installed, Redis anchor skipped; install with: ${redisInstall}`;
      ctx.skip('redis anchor', reason);
      return;
    }
    const server = await startRedis(serverBin);
    ctx.raw('version', execFileSync(serverBin, ['--version']).toString().trim());
    try {
      const benchBin = await which('redis-benchmark');
      if (benchBin === null) {
        ctx.skip('redis-benchmark', `redis-benchmark not installed; install with: ${redisInstall}`);
      } else {
        const requests = ctx.count(300_000, 40_000);
        const commands: [string, string[]][] = [
          ['INCR (fencing token)', ['INCR', 'bench:fence']],
          ['SET NX PX (acquire)', ['SET', 'bench:lock:__rand_int__', 'token', 'NX', 'PX', '30000']],
          ['EVAL compare-and-delete (release)', ['EVAL', compareAndDelete, '1', 'bench:lock:__rand_int__', 'token']],
        ];
        for (const [label, command] of commands) {
          const result = await redisBenchmark(benchBin, server, connections, requests, command);
          ctx.raw(`redis-benchmark ${label}`, result);
          ctx.row({
            metric: `redis-benchmark ${label}, ${connections} conns`,
            value: result.rps,
            unit: 'ops/s',
            latency: { p50: result.p50, p99: result.p99 },
          });
        }
      }
      for (const inFlight of [1, 16]) {
        const clients = await Promise.all(
          Array.from({ length: connections }, async () => {
            const client = new Redis({ host: server.host, port: server.port, enableAutoPipelining: false, lazyConnect: true });
            client.defineCommand('compareAndDelete', { numberOfKeys: 1, lua: compareAndDelete });
            await client.connect();
            return client as LockRedis;
          }),
        );
        try {
          const cycle = async (client: LockRedis): Promise<number> => {
            const token = String(await client.incr('bench:fence'));
            const key = `bench:lock:${Math.random().toString(36).slice(2, 12)}`;
            const set = await client.set(key, token, 'PX', 30_000, 'NX');
            if (set !== 'OK') throw new Error('lock_held');
            const deleted = await client.compareAndDelete(key, token);
            if (deleted !== 1) throw new Error('not_holder');
            return 3;
          };
          await timedLoops({ connections: clients, inFlight, durationSec: ctx.seconds(1, 0.5), cycle });
          const measured = await measure(server.child, (start) => {
            start();
            return timedLoops({ connections: clients, inFlight, durationSec: ctx.seconds(10, 1.5), cycle });
          });
          const result = measured.result;
          ctx.raw(`ioredis ${connections}x${inFlight}`, { ...result, serverCpuPercent: measured.serverCpuPercent, runnerCpuPercent: measured.runnerCpuPercent });
          const label = `ioredis INCR+SET NX PX+Lua del, ${connections} conns x ${inFlight} in flight`;
          ctx.row({ metric: label, value: result.cyclesPerSec, unit: 'cycles/s', latency: result, errors: result.errors });
          ctx.setAnchor(inFlight === 1 ? anchorKeys.redisCycles1 : anchorKeys.redisCycles16, {
            value: result.cyclesPerSec,
            label: `redis ioredis ${connections}x${inFlight}`,
          });
        } finally {
          await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
        }
      }
    } finally {
      await server.stop();
    }
  },
};
