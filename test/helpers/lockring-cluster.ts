/**
 * Replicas of lockring in replicated mode, each the real CLI (`src/cli/main.ts serve`)
 * as a child process on its own free loopback port, advertising that URL. Every
 * replica is signalled by its own pid; `stopAll` (run it in an `after` hook)
 * kills whatever is left, also when a test failed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before } from 'node:test';
import { type EtcdCluster, freePort, startEtcdCluster } from './etcd-cluster.js';
import { entryArgs } from './entry.js';
import { repoRoot } from './repo-root.js';


export interface Replica {
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  exitCode(): number | null | undefined;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL by pid; resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface Answer {
  readonly status: number;
  readonly body: any;
}

const running = new Set<Replica>();

export interface ReplicaOptions {
  /** Listen here (a restarted replica keeps its URL); a free port when absent. */
  readonly port?: number;
  /** More environment (LOCKRING_LIMITS, say). */
  readonly env?: Record<string, string>;
}

export async function startReplica(etcd: string, cluster: string, sessionTtl = '1s', options: ReplicaOptions = {}): Promise<Replica> {
  const replica = spawnReplica(etcd, cluster, sessionTtl, options.port ?? (await freePort()), options.env);
  await listening(replica);
  return replica;
}

/** Starts a replica on `port` without waiting for it (a supervisor's restart, which may fail while etcd is down). */
export function spawnReplica(etcd: string, cluster: string, sessionTtl: string, port: number, env: Record<string, string> = {}): Replica {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...entryArgs('cli'), 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOCKRING_HOST: '127.0.0.1', LOCKRING_PORT: String(port), LOCKRING_ADVERTISE_URL: url, LOCKRING_DATA_DIR: 'off',
      LOCKRING_ETCD: etcd, LOCKRING_CLUSTER: cluster, LOCKRING_ETCD_SESSION_TTL: sessionTtl,
      LOCKRING_LOG_LEVEL: 'info', LOCKRING_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // stderr too: a process that dies before its logger is up says why only there.
  for (const stream of [child.stdout!, child.stderr!]) {
    let pending = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        lines.push(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
  }
  let exit: number | null | undefined;
  const gone = new Promise<void>((resolve) => child.once('exit', (code) => {
    exit = code;
    running.delete(replica);
    resolve();
  }));
  const replica: Replica = {
    url, child, pid: child.pid!, lines,
    exitCode: () => exit,
    signal: (signal) => {
      if (exit === undefined) process.kill(child.pid!, signal);
    },
    async kill() {
      if (exit === undefined) process.kill(child.pid!, 'SIGKILL');
      await gone;
    },
  };
  running.add(replica);
  return replica;
}

/** Resolves once the replica answers /healthz (standby or active); throws if it exits first. */
export async function listening(replica: Replica): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fetch(`${replica.url}/healthz`).then((r) => r.ok, () => false)) return;
    if (replica.exitCode() !== undefined || i > 1_200) {
      throw new Error(`replica on ${replica.url} did not start (exit ${String(replica.exitCode())}):\n${replica.lines.slice(-20).join('\n')}`);
    }
    await sleep(25);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((replica) => replica.kill()));
}

/** The replica whose /readyz says 200 (the active), polled until `withinMs`. */
export async function waitForActive(replicas: readonly Replica[], withinMs = 10_000): Promise<Replica> {
  const deadline = performance.now() + withinMs;
  while (performance.now() < deadline) {
    for (const replica of replicas) {
      if (replica.exitCode() !== undefined) continue;
      const status = await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(500) }).then((r) => r.status, () => 0);
      if (status === 200) return replica;
    }
    await sleep(25);
  }
  throw new Error(`no active replica within ${withinMs} ms`);
}

export async function call(url: string, method: string, path: string, body?: unknown, timeoutMs = 3_000): Promise<Answer> {
  const response = await fetch(`${url}${path}`, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/**
 * A client of several replicas that follows the active: on `503 not_ready` it goes
 * to the `active` the standby names, on a connection failure to the next URL.
 * Every call is bounded by `deadlineMs`; `attempts` counts how often it retried.
 * `onAttempt` is told before each send (histories need the send times).
 */
export class FollowingCaller {
  private current = 0;
  attempts = 0;

  constructor(private readonly urls: string[]) {}

  /** The replica the next call goes to first (the active, as far as this caller knows). */
  get currentUrl(): string {
    return this.urls[this.current]!;
  }

  async call(method: string, path: string, body?: unknown, deadlineMs = 10_000, onAttempt?: () => void): Promise<Answer> {
    const deadline = performance.now() + deadlineMs;
    for (;;) {
      const url = this.urls[this.current]!;
      onAttempt?.();
      try {
        const answer = await call(url, method, path, body, Math.floor(Math.max(100, Math.min(2_000, deadline - performance.now()))));
        if (answer.status !== 503) return answer;
        const active = answer.body?.error?.active;
        const next = typeof active === 'string' ? this.urls.indexOf(active) : -1;
        this.current = next >= 0 ? next : (this.current + 1) % this.urls.length;
      } catch {
        this.current = (this.current + 1) % this.urls.length;
      }
      this.attempts += 1;
      if (performance.now() > deadline) throw new Error(`${method} ${path}: no active answered within ${deadlineMs} ms`);
      await sleep(20);
    }
  }
}

/**
 * For a describe block: a 3-member etcd started before its tests, and every
 * replica and member stopped after them (also on failure). Returns the cluster's
 * getter (valid inside tests).
 */
export function etcdForSuite(): () => EtcdCluster {
  let etcd: EtcdCluster | undefined;
  before(async () => {
    etcd = await startEtcdCluster(3);
  });
  after(async () => {
    await stopAll();
    await etcd?.stop();
  });
  return () => etcd!;
}

/** Runs `body`; when it fails, the replicas' last log lines go to stderr with the error. */
export async function withReplicaLogs<T>(replicas: readonly Replica[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    for (const replica of replicas) {
      process.stderr.write(`--- ${replica.url} (pid ${replica.pid}, exit ${String(replica.exitCode())})\n${replica.lines.slice(-40).join('\n')}\n`);
    }
    throw error;
  }
}

/** Replicas kept running on fixed ports, as a supervisor with `Restart=always` would. */
export interface SupervisedReplicas {
  /** The process on each port now (replaced when one exits). */
  readonly slots: Replica[];
  readonly urls: string[];
  /** How many times a replica was started again. */
  restarts(): number;
  /** Stops restarting (the processes keep running until stopAll). */
  stop(): Promise<void>;
}

/**
 * Starts `count` replicas and starts each again on its port, at most once a second
 * and `restartsMax` times in all, whenever it exits (stepped down, or could not
 * start while etcd was gone).
 */
export async function superviseReplicas(etcd: string, cluster: string, sessionTtl: string, count: number, restartsMax = 60): Promise<SupervisedReplicas> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const slots: Replica[] = [];
  for (const port of ports) slots.push(await startReplica(etcd, cluster, sessionTtl, { port }));
  let supervising = true;
  let restarts = 0;
  const lastStart = ports.map(() => performance.now());
  const loop = (async () => {
    while (supervising) {
      for (let i = 0; i < slots.length; i++) {
        if (slots[i]!.exitCode() === undefined || performance.now() - lastStart[i]! < 1_000 || restarts >= restartsMax) continue;
        lastStart[i] = performance.now();
        restarts += 1;
        slots[i] = spawnReplica(etcd, cluster, sessionTtl, ports[i]!);
      }
      await sleep(100);
    }
  })();
  return {
    slots,
    urls: ports.map((port) => `http://127.0.0.1:${port}`),
    restarts: () => restarts,
    async stop() {
      supervising = false;
      await loop;
    },
  };
}
