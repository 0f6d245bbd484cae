/**
 * The real lockring server (src/main.ts) as a child process over a data directory,
 * for fault tests: start it, SIGKILL it, SIGSTOP/SIGCONT it, start it again on the
 * same directory. Every child is signalled by its own pid, and `killAll` (run it in
 * an `after` hook) makes sure none outlives the test file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { entryArgs } from '../helpers/entry.js';
import { repoRoot } from '../helpers/repo-root.js';

const running = new Set<ChildProcess>();

export interface Reply {
  readonly status: number;
  readonly body: any;
}

/** What the `recovered data directory` log line says. */
export interface Recovered {
  readonly epoch: number;
  readonly records: number;
  readonly lastToken: number;
  readonly snapshotLoaded: boolean;
}

export interface ChildServer {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() just before the spawn: recovery (and every restored lease's TTL) starts after it. */
  readonly spawnedAt: number;
  /** JSON log lines from stdout so far. */
  readonly lines: string[];
  /** `http://127.0.0.1:<port>`, once it listens. */
  base(): string;
  /** Resolves once the server logs its address. */
  listening(timeoutMs?: number): Promise<string>;
  /** Resolves once /readyz answers 200 (recovery done). */
  ready(timeoutMs?: number): Promise<void>;
  recovered(): Recovered | undefined;
  exited(): boolean;
  /** The last few KiB of stderr. */
  stderr(): string;
  /** Sends `signal` to this child's pid. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL; resolves with performance.now() once the child is gone. */
  kill(): Promise<number>;
  /** SIGTERM (graceful stop, snapshot on close); SIGKILL if it takes over 10 s. Resolves with the exit code. */
  stop(): Promise<number | null>;
}

function parse(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Spawns the server on a free port of 127.0.0.1 over `dataDir`; does not wait for anything. */
export function spawnServer(dataDir: string, env: Record<string, string> = {}): ChildServer {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, entryArgs('main'), {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOCKRING_HOST: '127.0.0.1',
      LOCKRING_PORT: '0',
      LOCKRING_DATA_DIR: dataDir,
      LOCKRING_LOG_LEVEL: 'info',
      LOCKRING_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const pid = child.pid!;
  const lines: string[] = [];
  let stderr = '';
  let address: string | null = null;
  let gone = false;
  const exit = once(child, 'exit').then(() => {
    gone = true;
    running.delete(child);
    return performance.now();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  let pending = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      lines.push(line);
      const found = /lockring listening on (http:\/\/[^\s"]+)/.exec(String(parse(line)?.['msg'] ?? ''))?.[1];
      if (found !== undefined) address = found.replace('localhost', '127.0.0.1');
    }
  });

  const waitFor = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (gone) throw new Error(`lockring (pid ${pid}) exited before ${what}; stderr: ${stderr}`);
      if (performance.now() > deadline) throw new Error(`lockring (pid ${pid}): no ${what} within ${timeoutMs} ms; stderr: ${stderr}`);
      await sleep(10);
    }
  };

  const server: ChildServer = {
    child,
    pid,
    spawnedAt,
    lines,
    base() {
      if (address === null) throw new Error('the server is not listening yet');
      return address;
    },
    listening: (timeoutMs = 30_000) => waitFor('listening line', timeoutMs, () => address ?? undefined),
    async ready(timeoutMs = 30_000) {
      const base = await server.listening(timeoutMs);
      await waitFor('ready', timeoutMs, async () => {
        const status = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0);
        return status === 200 ? true : undefined;
      });
    },
    recovered() {
      for (const line of lines) {
        const entry = parse(line);
        if (entry?.['msg'] !== 'recovered data directory') continue;
        return {
          epoch: Number(entry['epoch']),
          records: Number(entry['records']),
          lastToken: Number(entry['lastToken']),
          snapshotLoaded: entry['snapshotLoaded'] === true,
        };
      }
      return undefined;
    },
    exited: () => gone,
    stderr: () => stderr,
    signal(signal) {
      if (!gone) child.kill(signal);
    },
    async kill() {
      if (!gone) child.kill('SIGKILL');
      return exit;
    },
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(force);
      }
      return child.exitCode;
    },
  };
  return server;
}

/** Spawns and waits until the server is recovered and ready. */
export async function startServer(dataDir: string, env: Record<string, string> = {}): Promise<ChildServer> {
  const server = spawnServer(dataDir, env);
  try {
    await server.ready();
  } catch (error) {
    await server.kill();
    throw error;
  }
  return server;
}

/** SIGKILLs (after SIGCONT, in case it was stopped) every child still running, each by its pid. */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined)));
}

/**
 * One JSON request. Throws when no reply comes (connection refused or reset, or
 * `timeoutMs` passed): the caller cannot tell whether the server acted on it.
 */
export async function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lockring-faults-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export { random } from '../helpers/random.js';

export const path = {
  lock: (name: string, action = ''): string => `/v1/locks/${encodeURIComponent(name)}${action === '' ? '' : `/${action}`}`,
  lease: (id: string, action = ''): string => `/v1/leases/${encodeURIComponent(id)}${action === '' ? '' : `/${action}`}`,
  ring: (ring: string): string => `/v1/rings/${encodeURIComponent(ring)}`,
  node: (ring: string, node: string): string => `/v1/rings/${encodeURIComponent(ring)}/nodes/${encodeURIComponent(node)}`,
};
