/**
 * Starts the real lockring entry point (src/main.ts) as a child process on a free
 * port of 127.0.0.1, in memory, and talks to it over real sockets with fetch.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { entryArgs } from './entry.js';
import { repoRoot } from './repo-root.js';


export interface ServerProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** Every stdout line so far (JSON log lines). */
  readonly lines: string[];
  /** Sends a JSON request; answers status and parsed body. */
  call(method: string, path: string, body?: unknown, init?: RequestInit): Promise<{ status: number; body: any }>;
  /** Stops the child by its own pid and waits for it to exit. */
  stop(): Promise<void>;
}

/** The address from the `lockring listening on <address>` log line, if this is it. */
function listeningAddress(line: string): string | undefined {
  let message = line;
  try {
    message = String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
  } catch {
    // Not JSON: match the raw line.
  }
  return /lockring listening on (http:\/\/[^\s"]+)/.exec(message)?.[1];
}

function replicatedEnv(): Record<string, string> {
  const etcd = process.env['LOCKRING_TEST_ETCD'];
  if (etcd === undefined) return {};
  return { LOCKRING_ETCD: etcd, LOCKRING_CLUSTER: `acceptance-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, LOCKRING_ETCD_SESSION_TTL: '1s' };
}

export async function startServerProcess(env: Record<string, string> = {}, startupMs = 15_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, entryArgs('main'), {
    cwd: repoRoot,
    env: {
      ...process.env,
      LOCKRING_HOST: '127.0.0.1',
      LOCKRING_PORT: '0',
      LOCKRING_DATA_DIR: 'off',
      LOCKRING_LOG_LEVEL: 'info',
      // Set by test/ha/acceptance-replicated.test.ts: the same suite, in replicated mode.
      ...replicatedEnv(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const address = await new Promise<string>((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lockring did not log its address within ${startupMs} ms; stderr: ${stderr}`));
    }, startupMs);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        lines.push(line);
        const found = listeningAddress(line);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lockring exited with ${String(code)} before listening; stderr: ${stderr}`));
    });
  });
  const base = address.replace('localhost', '127.0.0.1');

  const call: ServerProcess['call'] = async (method, path, body, init = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      ...init,
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };

  // The server listens before it is ready (recovery); wait for /readyz.
  for (let i = 0; ; i++) {
    const ready = await fetch(`${base}/readyz`).then((r) => r.status, () => 0);
    if (ready === 200) break;
    if (i >= 200) throw new Error('lockring never became ready');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  return {
    child,
    base,
    lines,
    call,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(force);
    },
  };
}
