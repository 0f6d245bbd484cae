/**
 * c. WebSocket lock ops: 50 sockets, each running 1 or 16 loops (requests in
 * flight per socket); a loop acquires a random name with its own lease (ttlMs)
 * and releases it with its token: one cycle, two requests. Compared with the
 * same client against the bare fastify WebSocket route (the ceiling: parse a
 * frame, answer a frame), and with the Redis anchor at the same concurrency
 * (50 connections x 1 or 16 loops of INCR + SET NX PX + Lua compare-and-delete).
 * The 1.0x-Redis target is for durability on: scenario h; here the log is off.
 */
import { type LoopResult } from '../lib/loops.js';
import { type Measured, alternate, cpuNote, measure, perCpuSecond } from '../lib/measure.js';
import { type Scenario, type ScenarioContext, anchorKeys } from '../lib/scenario.js';
import { type ServerHandle, startBare, startLockring } from '../lib/servers.js';
import { wsLoad, wsLockCycle, wsUnavailable } from '../lib/ws-load.js';

export const wsClients = 50;

export const inFlightLevels = [1, 16] as const;

export function wsCycles(ctx: ScenarioContext, server: ServerHandle, inFlight: number): () => Promise<Measured<LoopResult>> {
  return () =>
    measure(server.child, (start) =>
      wsLoad({
        onMeasureStart: start,
        url: server.url,
        clients: wsClients,
        inFlight,
        durationSec: ctx.seconds(10, 1),
        warmupSec: ctx.seconds(2, 0.5),
        cycle: wsLockCycle(`bench-c-${inFlight}-`),
      }),
    );
}

export const redisKey = (inFlight: number): string => (inFlight === 1 ? anchorKeys.redisCycles1 : anchorKeys.redisCycles16);

export const wsLockOps: Scenario = {
  id: 'c',
  title: 'WebSocket acquire+release, 50 clients, 1 and 16 in flight',
  needs: ['redis', 'etcd'],
  async run(ctx) {
    const lockring = await startLockring({ tag: 'lockring-c' });
    const bare = await startBare();
    try {
      const unavailable = await wsUnavailable(lockring.url);
      if (unavailable !== null) {
        ctx.skip(`WS acquire+release, ${wsClients} clients x 1 and 16 in flight`, unavailable);
        return;
      }
      for (const inFlight of inFlightLevels) {
        const { best, all } = await alternate(
          ctx.count(2, 1),
          [
            { name: 'lockring', run: wsCycles(ctx, lockring, inFlight) },
            { name: 'bare', run: wsCycles(ctx, bare, inFlight) },
          ],
          (result) => result.cyclesPerSec,
        );
        ctx.raw(`${wsClients}x${inFlight}`, all);
        const ours = best.get('lockring')!;
        const ceiling = best.get('bare')!;
        const label = `WS acquire+release, ${wsClients} clients x ${inFlight} in flight`;
        ctx.row({
          metric: `${label} (log off)`,
          value: ours.result.cyclesPerSec,
          unit: 'cycles/s',
          latency: ours.result,
          errors: ours.result.errors,
          baseline: { value: ceiling.result.cyclesPerSec, label: 'bare fastify ws' },
          note: `${cpuNote('lockring', ours)}; ${cpuNote('bare', ceiling)}`,
        });
        ctx.row({
          metric: `${label}, per server CPU-second`,
          value: perCpuSecond(ours, ours.result.cycles),
          unit: 'cycles/s',
          baseline: { value: perCpuSecond(ceiling, ceiling.result.cycles), label: 'bare fastify ws' },
        });
        const redis = ctx.anchor(redisKey(inFlight));
        ctx.row({
          metric: `${label} (log off) vs Redis`,
          value: ours.result.cyclesPerSec,
          unit: 'cycles/s',
          baseline: redis,
          note: redis === null ? ctx.anchorMissing(redisKey(inFlight)) : 'info: the 1.0x target applies with durability on (scenario h)',
        });
        if (inFlight === 1) {
          const etcd = ctx.anchor(anchorKeys.etcdCycles);
          ctx.row({
            metric: `${label} (log off) vs etcd`,
            value: ours.result.cyclesPerSec,
            unit: 'cycles/s',
            baseline: etcd,
            ...(etcd === null ? { note: ctx.anchorMissing(anchorKeys.etcdCycles) } : {}),
          });
        }
      }
    } finally {
      await Promise.all([lockring.stop(), bare.stop()]);
    }
  },
};
