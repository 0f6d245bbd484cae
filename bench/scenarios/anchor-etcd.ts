/**
 * Anchor: etcd, single node, its WAL fsynced on every write, locking through the
 * etcd3 npm client as users do: `client.lock(name).acquire()` (lease grant plus a
 * create-if-absent transaction) then `release()` (lease revoke), 50 loops on
 * random names, each awaited.
 */
import { execFileSync } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { etcdInstall, startEtcd, which } from '../lib/anchors.js';
import { timedLoops } from '../lib/loops.js';
import { measure } from '../lib/measure.js';
import { type Scenario, anchorKeys } from '../lib/scenario.js';

const loops = 50;

export const etcdAnchor: Scenario = {
  id: 'etcd',
  title: 'Anchor: etcd (single node) lock+unlock via etcd3',
  async run(ctx) {
    const binary = await which('etcd');
    if (binary === null) {
      const reason = `etcd not installed, etcd anchor skipped; install with: ${etcdInstall}`;
      ctx.skip('etcd anchor', reason);
      return;
    }
    ctx.raw('version', execFileSync(binary, ['--version']).toString().split('\n')[0]);
    const server = await startEtcd(binary);
    const client = new Etcd3({ hosts: `http://${server.host}:${server.port}` });
    try {
      const cycle = async (): Promise<number> => {
        const lock = client.lock(`bench/lock/${Math.random().toString(36).slice(2, 12)}`).ttl(30);
        await lock.acquire();
        await lock.release();
        return 2;
      };
      // One loop per connection-equivalent: etcd3 multiplexes on one gRPC channel, as users run it.
      const connections = Array.from({ length: loops }, (_, i) => i);
      await timedLoops({ connections, inFlight: 1, durationSec: ctx.seconds(1, 0.5), cycle });
      const measured = await measure(server.child, (start) => {
        start();
        return timedLoops({ connections, inFlight: 1, durationSec: ctx.seconds(10, 1.5), cycle });
      });
      const result = measured.result;
      ctx.raw(`etcd3 ${loops} loops`, { ...result, serverCpuPercent: measured.serverCpuPercent, runnerCpuPercent: measured.runnerCpuPercent });
      ctx.row({
        metric: `etcd3 lock+unlock, ${loops} loops`,
        value: result.cyclesPerSec,
        unit: 'cycles/s',
        latency: result,
        errors: result.errors,
      });
      ctx.setAnchor(anchorKeys.etcdCycles, { value: result.cyclesPerSec, label: `etcd3 ${loops} loops` });
    } finally {
      client.close();
      await server.stop();
    }
  },
};
