/**
 * Child processes of the benchmark: every server the bench starts is registered
 * here and stopped by its own pid (SIGTERM, then SIGKILL after a grace period),
 * also when the runner itself is interrupted. Nothing is ever killed by name.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** Resolves with the first stdout/stderr line that matches, or rejects on exit/timeout. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Everything the child wrote so far (bounded), for error messages. */
  output(): string;
  /** CPU time (user + system) the child used so far, in ms; from /proc. */
  cpuMs(): number;
  /** Stops the child by pid: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

const live = new Set<Child>();
const outputMaxChars = 64 * 1024;

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Pipe for stdin (for children that take commands); ignored otherwise. */
  readonly stdin?: boolean;
}

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const proc = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = proc.pid;
  let text = '';
  let partial = '';
  const watchers: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (chunk: Buffer): void => {
    const data = chunk.toString('utf8');
    text = (text + data).slice(-outputMaxChars);
    partial += data;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      for (let i = watchers.length - 1; i >= 0; i--) {
        const match = line.match(watchers[i]!.pattern);
        if (match !== null) {
          watchers[i]!.resolve(match);
          watchers.splice(i, 1);
        }
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = {
    name,
    pid,
    process: proc,
    output: () => text,
    exited,
    cpuMs: () => processCpuMs(pid),
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${name} did not print ${String(pattern)} within ${timeoutMs} ms:\n${text.slice(-2000)}`));
        }, timeoutMs);
        watchers.push({
          pattern,
          resolve: (match) => {
            clearTimeout(timer);
            resolve(match);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${String(code)}) before printing ${String(pattern)}:\n${text.slice(-2000)}`));
        });
      });
    },
    async stop(graceMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        live.delete(child);
        return;
      }
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
      live.delete(child);
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** Throws, with the end of its output, when a server died while it was being measured. */
export function assertAlive(child: Child): void {
  const { exitCode, signalCode } = child.process;
  if (exitCode === null && signalCode === null) return;
  const tail = child.output().trim().split('\n').slice(-5).join(' | ').slice(-600);
  throw new Error(`${child.name} (pid ${child.pid}) exited during the measurement (${signalCode ?? `code ${exitCode}`}): ${tail}`);
}

/** Stops every child still running, each by its own pid. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop(2_000).catch(() => {})));
}

/** Last resort on exit: SIGKILL by pid whatever is left (synchronous). */
export function killAllNow(): void {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** Linux reports process CPU time in clock ticks: USER_HZ, 100 on every mainstream build. */
const clockTicksPerSecond = 100;

/** User + system CPU ms of a process, read from /proc/PID/stat; NaN when unavailable. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces: fields start after the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicksPerSecond;
  } catch {
    return NaN;
  }
}
