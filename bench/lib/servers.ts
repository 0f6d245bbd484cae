/**
 * Starts the servers under test as child processes on loopback with a free port:
 * lockring itself (dist/ as built by the run, or src/main.ts through tsx with --source), the bare fastify
 * baseline, and helper entries (instrumented lockring, in-process workers).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Child, repoRoot, spawnChild } from './processes.js';
import { sleep } from './stats.js';

export interface RuntimeSettings {
  /** Run lockring from dist/ (npm run build) instead of src/ through tsx. */
  dist: boolean;
  /** Directory for `node --cpu-prof` profiles of the server children (lockring and bare fastify), or null. */
  profileDir: string | null;
  /** Another lockring entry (a .ts run through tsx, or a .js), e.g. a patched tree to compare; null: src/main.ts. */
  entry: string | null;
}

export const runtime: RuntimeSettings = { dist: false, profileDir: null, entry: null };

/**
 * Builds what the servers run: dist/ as `npm run build` makes it, and the instrumented
 * server of scenario f beside it (dist/bench/lib). Run through tsx, every function that
 * makes a closure also calls esbuild's `__name` helper (a property definition per
 * closure made), which the shipped build does not: measured that way, lockring served
 * 11-29% fewer WebSocket and HTTP lock cycles per CPU-second than what users run.
 */
export function buildDist(): void {
  process.stderr.write('building dist/ (npm run build) for the servers; --source runs src/ through tsx instead\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.bench.json'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export interface ServerHandle {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly child: Child;
  stop(): Promise<void>;
}

const startTimeoutMs = 30_000;

/** `node` arguments to run a TypeScript entry of this repo. */
export function tsEntry(path: string, nodeFlags: readonly string[] = []): string[] {
  return [...nodeFlags, '--import', 'tsx', resolve(repoRoot, path)];
}

/** One directory per profiled child: node writes a profile per thread (main, module loader). */
function profileFlags(tag: string): string[] {
  if (runtime.profileDir === null) return [];
  const dir = join(runtime.profileDir, `${tag}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

export interface LockringOptions {
  /** LOCKRING_DATA_DIR: a directory, or null for `off` (pure memory). */
  readonly dataDir?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  /** A different entry (the instrumented server); defaults to src/main.ts. */
  readonly entry?: string;
  readonly nodeFlags?: readonly string[];
  readonly stdin?: boolean;
  /** Label for profiles and messages. */
  readonly tag?: string;
  /** False: no whole-process profile under --profile (the child profiles a stretch itself). */
  readonly profile?: boolean;
}

export async function startLockring(options: LockringOptions = {}): Promise<ServerHandle> {
  const tag = options.tag ?? 'lockring';
  const flags = [...(options.nodeFlags ?? []), ...(options.profile === false ? [] : profileFlags(tag))];
  const main = runtime.entry ?? (runtime.dist ? 'dist/src/main.js' : 'src/main.ts');
  const entry = options.entry ?? main;
  const args = entry.endsWith('.js') ? [...flags, resolve(repoRoot, entry)] : tsEntry(entry, flags);
  const child = spawnChild(tag, process.execPath, args, {
    stdin: options.stdin ?? false,
    env: {
      LOCKRING_HOST: '127.0.0.1',
      LOCKRING_PORT: '0',
      LOCKRING_DATA_DIR: options.dataDir ?? 'off',
      LOCKRING_LOG_LEVEL: 'info',
      ...options.env,
    },
  });
  try {
    const match = await child.waitForLine(/lockring listening on (http:\/\/[0-9.]+:(\d+))/, startTimeoutMs);
    const url = match[1]!;
    await waitReady(url);
    // A profiled child writes its profile on the way out: give it time to drain and exit.
    const graceMs = runtime.profileDir === null ? 5_000 : 20_000;
    return { name: tag, url, port: Number(match[2]), child, stop: () => child.stop(graceMs) };
  } catch (error) {
    await child.stop(1_000);
    throw error;
  }
}

export async function startBare(): Promise<ServerHandle> {
  const child = spawnChild('bare-fastify', process.execPath, tsEntry('bench/lib/bare-server.ts', profileFlags('bare-fastify')));
  try {
    const match = await child.waitForLine(/bare fastify listening on (http:\/\/[0-9.]+:(\d+))/, startTimeoutMs);
    return { name: 'bare fastify', url: match[1]!, port: Number(match[2]), child, stop: () => child.stop() };
  } catch (error) {
    await child.stop(1_000);
    throw error;
  }
}

/** Polls /readyz until the server has recovered and serves /v1. */
async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/readyz did not answer 200 within ${startTimeoutMs} ms`);
    await sleep(50);
  }
}

/** Small JSON request helper for setup steps (not for load). */
export async function jsonRequest(method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (metrics)
  }
  return { status: response.status, body: parsed };
}

/**
 * Runs a TypeScript entry as a child process that prints one JSON line starting
 * with `@result ` when done, and returns it parsed. Used for in-process measurements
 * (ring, memory) that must not share a heap or a JIT with the runner.
 */
export async function runJsonChild<T>(
  tag: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  options: { nodeFlags?: readonly string[]; timeoutMs?: number } = {},
): Promise<T> {
  const child = spawnChild(tag, process.execPath, tsEntry(entry, options.nodeFlags ?? []), { env });
  try {
    const match = await child.waitForLine(/^@result (.*)$/, options.timeoutMs ?? 300_000);
    return JSON.parse(match[1]!) as T;
  } finally {
    await child.stop(2_000);
  }
}

/** The child side of runJsonChild. */
export function reportResult(value: unknown): void {
  process.stdout.write(`@result ${JSON.stringify(value)}\n`);
}
