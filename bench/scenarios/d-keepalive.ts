/**
 * d. Lease keepalive rate. HTTP: 1,000 leases granted up front, autocannon sends
 * `POST /v1/leases/{id}/keepalive` with `{}` round-robin over them, 50 connections.
 * WebSocket: 50 sockets, each loop grants its own lease once and then keeps it
 * alive (`lease.keepalive`) as fast as replies come. Both against the bare fastify
 * ceiling with the same traffic.
 */
import { httpLoad, keepaliveRequests } from '../lib/http-load.js';
import { type Measured, alternate, cpuNote, measure } from '../lib/measure.js';
import type { LoopResult } from '../lib/loops.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';
import { type ServerHandle, jsonRequest, startBare, startLockring } from '../lib/servers.js';
import { type WsClient, wsLoad, wsUnavailable } from '../lib/ws-load.js';

const connections = 50;
const leaseCount = 1_000;
const ttlMs = 60_000;

async function grantLeases(server: ServerHandle): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < leaseCount; i += 50) {
    const batch = await Promise.all(Array.from({ length: 50 }, () => jsonRequest('POST', `${server.url}/v1/leases`, { ttlMs })));
    for (const { status, body } of batch) {
      if (status !== 201) throw new Error(`lease grant answered ${status}: ${JSON.stringify(body)}`);
      ids.push((body as { id: string }).id);
    }
  }
  return ids;
}

function wsKeepalive(): (client: WsClient, loop: number) => Promise<number> {
  const leases = new Map<number, string>();
  return async (client, loop) => {
    let leaseId = leases.get(loop);
    if (leaseId === undefined) {
      leaseId = (await client.call('lease.grant', { ttlMs }))['leaseId'] as string;
      leases.set(loop, leaseId);
    }
    await client.call('lease.keepalive', { leaseId });
    return 1;
  };
}

function wsRun(ctx: ScenarioContext, server: ServerHandle): () => Promise<Measured<LoopResult>> {
  return () =>
    measure(server.child, (start) =>
      wsLoad({ onMeasureStart: start, url: server.url, clients: connections, inFlight: 1, durationSec: ctx.seconds(10, 1), warmupSec: ctx.seconds(2, 0.5), cycle: wsKeepalive() }),
    );
}

export const keepalive: Scenario = {
  id: 'd',
  title: 'Lease keepalive rate, HTTP and WebSocket',
  async run(ctx) {
    const lockring = await startLockring({ tag: 'lockring-d' });
    const bare = await startBare();
    try {
      const ids = await grantLeases(lockring);
      const http = (server: ServerHandle) => () =>
        measure(server.child, (start) =>
          httpLoad({ onMeasureStart: start, url: server.url, connections, durationSec: ctx.seconds(10, 1), warmupSec: ctx.seconds(2, 0.5), requests: keepaliveRequests(ids) }),
        );
      const { best, all } = await alternate(
        ctx.count(2, 1),
        [
          { name: 'lockring', run: http(lockring) },
          { name: 'bare', run: http(bare) },
        ],
        (result) => result.reqPerSec,
      );
      ctx.raw('http', all);
      const ours = best.get('lockring')!;
      const ceiling = best.get('bare')!;
      ctx.row({
        metric: `HTTP keepalive, ${connections} conns over ${leaseCount} leases`,
        value: ours.result.reqPerSec,
        unit: 'req/s',
        latency: ours.result,
        errors: ours.result.errors,
        baseline: { value: ceiling.result.reqPerSec, label: 'bare fastify' },
        note: `${cpuNote('lockring', ours)}; ${cpuNote('bare', ceiling)}`,
      });

      const unavailable = await wsUnavailable(lockring.url);
      if (unavailable !== null) {
        ctx.skip(`WS keepalive, ${connections} clients`, unavailable);
        return;
      }
      const ws = await alternate(
        ctx.count(2, 1),
        [
          { name: 'lockring', run: wsRun(ctx, lockring) },
          { name: 'bare', run: wsRun(ctx, bare) },
        ],
        (result) => result.opsPerSec,
      );
      ctx.raw('ws', ws.all);
      const wsOurs = ws.best.get('lockring')!;
      const wsCeiling = ws.best.get('bare')!;
      ctx.row({
        metric: `WS keepalive, ${connections} clients x 1 in flight`,
        value: wsOurs.result.opsPerSec,
        unit: 'ops/s',
        latency: wsOurs.result,
        errors: wsOurs.result.errors,
        baseline: { value: wsCeiling.result.opsPerSec, label: 'bare fastify ws' },
        note: `${cpuNote('lockring', wsOurs)}; ${cpuNote('bare', wsCeiling)}`,
      });
    } finally {
      await Promise.all([lockring.stop(), bare.stop()]);
    }
  },
};
