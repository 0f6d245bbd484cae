/**
 * Runs lockring as a real process for CLI tests: the CLI from source through tsx,
 * servers on 127.0.0.1 with a free port, every child killed by pid at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before } from 'node:test';
import { entryArgs } from '../helpers/entry.js';
import { repoRoot } from '../helpers/repo-root.js';

export { repoRoot };

/** Environment without the caller's LOCKRING_* settings (tests name their own). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('LOCKRING_')) env[key] = value;
  return { ...env, ...extra };
}

export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<ChildProcess>();

/** Starts `lockring ARGS` (from source) without waiting for it. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), cwd: string = repoRoot, user?: RunAs): Running {
  return startProcess(process.execPath, [...entryArgs('cli'), ...args], env, cwd, user);
}

/** Another user to run as (a test running as root that needs permissions to apply). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string = repoRoot, user?: RunAs): Running {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], ...user });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = (async () => {
    // 'close' waits for stdio to end, so all output is in by then.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    started.delete(child);
    return { code, signal };
  })();
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Runs `lockring ARGS` to the end (with a deadline) and returns its output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv(), timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const running = startCli(args, env);
  const timer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs);
  const { code } = await running.exited;
  clearTimeout(timer);
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

/** Waits until `predicate` holds, polling; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface TestServer extends Running {
  readonly url: string;
}

/** `lockring serve` on 127.0.0.1, a free port, memory only; resolves once ready. */
export async function startServer(extraArgs: string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Promise<TestServer> {
  const running = startCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', 'off', '--log-format', 'json', '--log-level', 'info', ...extraArgs], env);
  let url: string | undefined;
  await waitFor(() => {
    url ??= /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(running.stdout())?.[1];
    return (url !== undefined && running.stdout().includes('"msg":"ready"')) || running.child.exitCode !== null;
  }, 20_000, 'the server to be ready');
  if (url === undefined) throw new Error(`server did not start: ${running.stderr()}${running.stdout()}`);
  return { ...running, url };
}

/** Kills every process a test started and has not seen exit (by pid). */
export function killAll(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

export async function api(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** The one server of a test file: started before its first test, every process killed after the last. */
export function serverPerFile(extraArgs: string[] = []): { server: TestServer; env: NodeJS.ProcessEnv } {
  const shared = {} as { server: TestServer; env: NodeJS.ProcessEnv };
  before(async () => {
    shared.server = await startServer(extraArgs);
    shared.env = cleanEnv({ LOCKRING_URL: shared.server.url });
  });
  after(() => killAll());
  return shared;
}
