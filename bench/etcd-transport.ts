/**
 * `npx tsx bench/etcd-transport.ts [txns] [bytes] [rounds]`: what one replicated-log
 * append costs etcd and this process over etcd's gRPC API (lockring's EtcdClient)
 * and over etcd's JSON gateway (`POST /v3/kv/txn` with base64 keys and values, the
 * transport lockring used before), on a fresh 3-member etcd with fsync on.
 *
 * Each txn has the shape of an append: two compares (a key's version and a value) and
 * two puts (a log key of `bytes` and the head). The two transports alternate for
 * `rounds` rounds of `txns` sequential txns each; per txn it prints etcd's CPU (all
 * three members, from /proc), this process's CPU and the wall time, median and worst
 * of the rounds.
 */
import { startEtcdCluster, noEtcd } from '../test/helpers/etcd-cluster.js';
import { EtcdClient } from '../src/store/etcd/etcd-client.js';
import { processCpuMs } from './lib/processes.js';
import { quantile } from './lib/stats.js';

const txns = Number(process.argv[2] ?? 100);
const bytes = Number(process.argv[3] ?? 42_000);
const rounds = Number(process.argv[4] ?? 3);
if (noEtcd !== false) throw new Error(noEtcd);

interface PerTxn {
  readonly etcdCpuMs: number;
  readonly clientCpuMs: number;
  readonly wallMs: number;
}

const selfCpuMs = (): number => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

async function measure(etcdCpuMs: () => number, append: (i: number) => Promise<void>): Promise<PerTxn> {
  const etcd0 = etcdCpuMs();
  const self0 = selfCpuMs();
  const wall0 = performance.now();
  for (let i = 0; i < txns; i++) await append(i);
  return { etcdCpuMs: (etcdCpuMs() - etcd0) / txns, clientCpuMs: (selfCpuMs() - self0) / txns, wallMs: (performance.now() - wall0) / txns };
}

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

async function gatewayTxn(endpoint: string, prefix: string, version: number, i: number, value: Buffer): Promise<void> {
  const body = {
    compare: [{ key: b64(`${prefix}/head`), result: 'EQUAL', target: 'VERSION', version: String(version) }],
    success: [
      { request_put: { key: b64(`${prefix}/log/${i}`), value: value.toString('base64') } },
      { request_put: { key: b64(`${prefix}/head`), value: b64(String(i)) } },
    ],
  };
  const response = await fetch(`${endpoint}/v3/kv/txn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await response.json()) as { succeeded?: boolean };
  if (answer.succeeded !== true) throw new Error('gateway txn refused');
}

const cluster = await startEtcdCluster(3, { fsync: true });
const pids = cluster.members.map((member) => member.child!.pid!);
const etcdCpuMs = (): number => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
const value = Buffer.alloc(bytes, 7);
const results: Record<'grpc' | 'gateway', PerTxn[]> = { grpc: [], gateway: [] };
const client = new EtcdClient({ endpoints: cluster.endpoints.split(','), callTimeoutMs: 10_000 });
try {
  for (let round = 0; round < rounds; round++) {
    const grpcPrefix = `grpc-${round}`;
    results.grpc.push(await measure(etcdCpuMs, async (i) => {
      const answer = await client.txn(
        [{ key: Buffer.from(`${grpcPrefix}/head`), target: 'VERSION', version: i }],
        [{ put: { key: Buffer.from(`${grpcPrefix}/log/${i}`), value } }, { put: { key: Buffer.from(`${grpcPrefix}/head`), value: Buffer.from(String(i)) } }],
      );
      if (!answer.succeeded) throw new Error('grpc txn refused');
    }));
    const gatewayPrefix = `gateway-${round}`;
    results.gateway.push(await measure(etcdCpuMs, (i) => gatewayTxn(client.endpoint, gatewayPrefix, i, i, value)));
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  client.close();
  await cluster.stop();
}
const summary = (list: PerTxn[], pick: (m: PerTxn) => number): string => {
  const sorted = list.map(pick).sort((a, b) => a - b);
  return `${quantile(sorted, 0.5).toFixed(2)} (worst ${sorted.at(-1)!.toFixed(2)})`;
};
console.log(`${txns} txns of ${bytes} B per round, ${rounds} rounds; ms per txn, median (worst) of the rounds:`);
for (const [name, list] of Object.entries(results)) {
  console.log(`  ${name.padEnd(8)} etcd CPU ${summary(list, (m) => m.etcdCpuMs)}   client CPU ${summary(list, (m) => m.clientCpuMs)}   wall ${summary(list, (m) => m.wallMs)}`);
}
console.log(JSON.stringify({ txns, bytes, rounds, results }));
