/**
 * Real etcd members (/usr/bin/etcd) on free loopback ports, each in a fresh temp
 * directory, for the replicated mode's tests. Every member is a child process
 * stopped by its own pid; `stop()` (run it in an `after` hook) kills them all and
 * removes their directories, also when a test failed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const etcdBinary = '/usr/bin/etcd';

/** Why the replicated tests skip, or false when etcd is installed. */
export const noEtcd: string | false = existsSync(etcdBinary) ? false : `${etcdBinary} is not installed (apt-get install etcd-server): replicated-mode tests skipped`;

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  child: ChildProcess | null;
  readonly dir: string;
  readonly peerUrl: string;
}

export interface EtcdCluster {
  readonly members: EtcdMember[];
  /** Comma-separated client URLs. */
  readonly endpoints: string;
  kill(member: EtcdMember): Promise<void>;
  /** Starts a member again on its own data directory and ports (killing it first if it runs); does not wait. */
  restart(member: EtcdMember): Promise<void>;
  /** Resolves once every member answers /health with a leader. */
  healthy(withinMs?: number): Promise<void>;
  /** Sends `signal` to the member's pid (SIGSTOP, SIGCONT). */
  signal(member: EtcdMember, signal: NodeJS.Signals): void;
  /** The member raft has as its leader now, asked of `asked` (default: the first live member). */
  leader(asked?: EtcdMember): Promise<EtcdMember>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, withinMs: number, member?: EtcdMember): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    const child = member?.child;
    // Exited (its port was taken, say): no use waiting for it.
    if (child != null && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`etcd at ${url} exited while starting`);
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not up yet
    }
    await sleep(50);
  }
  throw new Error(`etcd at ${url} did not become healthy within ${withinMs} ms`);
}

/** A member's own id and the leader it knows, from the maintenance status call. */
async function memberStatus(url: string): Promise<{ id: string; leader: string }> {
  const response = await fetch(`${url}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1_000) });
  const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
  return { id: String(body.header?.member_id), leader: String(body.leader) };
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * Starts `size` members (fsync off unless asked) with short raft timings (heartbeat 50 ms, election 500 ms),
 * so leases as short as 1 s are allowed and an etcd leader loss heals fast.
 */
export async function startEtcdCluster(size = 3, options: { readonly fsync?: boolean } = {}): Promise<EtcdCluster> {
  // A free port can be taken between our probe and etcd's bind (tests run side by
  // side), and a loaded machine can start etcd slowly: a cluster that does not come
  // up is stopped and started again on new ports, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdClusterOnce(size, options);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

async function startEtcdClusterOnce(size: number, options: { readonly fsync?: boolean }): Promise<EtcdCluster> {
  const root = await mkdtemp(join(tmpdir(), 'lockring-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const [client, peer] = [await freePort(), await freePort()];
    members.push({ name: `m${i}`, clientUrl: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}`, dir: join(root, `m${i}`), child: null });
  }
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  // On a data directory that already holds a member, etcd ignores the initial-cluster flags: the same spawn restarts it.
  const launch = (member: EtcdMember): void => {
    member.child = spawn(etcdBinary, [
      '--name', member.name, '--data-dir', member.dir,
      '--listen-client-urls', member.clientUrl, '--advertise-client-urls', member.clientUrl,
      '--listen-peer-urls', member.peerUrl, '--initial-advertise-peer-urls', member.peerUrl,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', root,
      '--heartbeat-interval', '50', '--election-timeout', '500', '--log-level', 'error',
      // Tests do not need their etcd to survive a power cut; benchmarks keep fsync.
      ...(options.fsync === true ? [] : ['--unsafe-no-fsync']),
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
  };
  for (const member of members) launch(member);
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl).join(','),
    async kill(member) {
      if (member.child !== null) await killed(member.child);
    },
    async restart(member) {
      if (member.child !== null) await killed(member.child);
      launch(member);
    },
    async healthy(withinMs = 15_000) {
      await Promise.all(members.map((m) => waitHealthy(m.clientUrl, withinMs)));
    },
    signal(member, signal) {
      const child = member.child;
      if (child !== null && child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
    },
    async leader(asked) {
      const target = asked ?? members.find((m) => m.child !== null && m.child.exitCode === null && m.child.signalCode === null)!;
      const ids = new Map<string, EtcdMember>();
      for (const member of members) {
        const status = await memberStatus(member.clientUrl).catch(() => null);
        if (status !== null) ids.set(status.id, member);
      }
      const status = await memberStatus(target.clientUrl);
      const leader = ids.get(status.leader);
      if (leader === undefined) throw new Error(`etcd at ${target.clientUrl} names leader ${status.leader}, not a member we can reach`);
      return leader;
    },
    async stop() {
      await Promise.all(members.map((m) => (m.child === null ? undefined : killed(m.child))));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m) => waitHealthy(m.clientUrl, 20_000, m)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}
