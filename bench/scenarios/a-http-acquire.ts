/**
 * a. HTTP uncontended acquire+release on random names. Each autocannon connection
 * loops: acquire a fresh random name with its own lease (ttlMs), then release it
 * with the token it got. The same byte-identical traffic goes to a bare fastify
 * server that only parses the JSON body and answers a body of the same shape: the
 * ceiling for HTTP on this machine. Same connections, alternating rounds.
 */
import { httpLoad, type HttpLoadResult, lockCycleRequests } from '../lib/http-load.js';
import { type Measured, alternate, cpuNote, measure, perCpuSecond } from '../lib/measure.js';
import { type Scenario, type ScenarioContext, anchorKeys } from '../lib/scenario.js';
import { type ServerHandle, startBare, startLockring } from '../lib/servers.js';

export const connections = 50;

/** One measured run of the acquire+release sequence against `server`. */
export function httpCycles(ctx: ScenarioContext, server: ServerHandle, prefix: string): () => Promise<Measured<HttpLoadResult>> {
  return () =>
    measure(server.child, (start) =>
      httpLoad({
        url: server.url,
        connections,
        durationSec: ctx.seconds(10, 1),
        warmupSec: ctx.seconds(2, 0.5),
        requests: lockCycleRequests(prefix),
        onMeasureStart: start,
      }),
    );
}

export const httpAcquire: Scenario = {
  id: 'a',
  title: 'HTTP uncontended acquire+release vs bare fastify',
  needs: ['redis', 'etcd'],
  async run(ctx) {
    const bare = await startBare();
    const lockring = await startLockring({ tag: 'lockring-a' });
    try {
      const { best, all } = await alternate(
        ctx.count(2, 1),
        [
          { name: 'lockring', run: httpCycles(ctx, lockring, 'bench-a-') },
          { name: 'bare', run: httpCycles(ctx, bare, 'bench-a-') },
        ],
        (result) => result.reqPerSec,
      );
      ctx.raw('rounds', all);
      const ours = best.get('lockring')!;
      const ceiling = best.get('bare')!;
      ctx.row({
        metric: `HTTP acquire+release, ${connections} conns (requests)`,
        value: ours.result.reqPerSec,
        unit: 'req/s',
        latency: ours.result,
        errors: ours.result.errors,
        baseline: { value: ceiling.result.reqPerSec, label: 'bare fastify' },
        target: { on: 'ratio', op: '>=', value: 0.8 },
        note: `${cpuNote('lockring', ours)}; ${cpuNote('bare fastify', ceiling)}. Best of ${ctx.count(2, 1)} alternating round(s).`,
      });
      ctx.row({
        metric: `HTTP acquire+release per server CPU-second`,
        value: perCpuSecond(ours, ours.result.requests),
        unit: 'req/s',
        baseline: { value: perCpuSecond(ceiling, ceiling.result.requests), label: 'bare fastify' },
        note: 'requests served per second of server CPU (user+sys): roughly the ratio with both servers CPU-bound; less sensitive than the rate to CPU taken by other processes, not immune (contention also costs caches and batching)',
      });
      const cycles = ours.result.reqPerSec / 2;
      const redis = ctx.anchor(anchorKeys.redisCycles1);
      ctx.row({
        metric: `HTTP lock cycles (log off) vs Redis ioredis ${connections}x1`,
        value: cycles,
        unit: 'cycles/s',
        baseline: redis,
        ...(redis === null ? { note: ctx.anchorMissing(anchorKeys.redisCycles1) } : {}),
      });
      const etcd = ctx.anchor(anchorKeys.etcdCycles);
      ctx.row({
        metric: `HTTP lock cycles (log off) vs etcd3 ${connections} loops`,
        value: cycles,
        unit: 'cycles/s',
        baseline: etcd,
        ...(etcd === null ? { note: ctx.anchorMissing(anchorKeys.etcdCycles) } : {}),
      });
    } finally {
      await Promise.all([bare.stop(), lockring.stop()]);
    }
  },
};
