import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { exitCodes } from './exit-codes.js';

export type ChildEnd =
  | { readonly kind: 'exited'; readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly kind: 'spawn_failed'; readonly error: NodeJS.ErrnoException };

/** The signals `lockring lock` passes on to its child. */
export const forwardedSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The command run under a lock: inherits stdio, gets extra environment, can be
 * terminated politely (SIGTERM) and then not (SIGKILL after a grace period).
 */
export class Child {
  readonly ended: Promise<ChildEnd>;
  private readonly process: ChildProcess;
  private killTimer: NodeJS.Timeout | null = null;
  private done = false;

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    this.process = spawn(command, args, { stdio: 'inherit', env });
    this.ended = new Promise<ChildEnd>((resolve) => {
      this.process.once('error', (error: NodeJS.ErrnoException) => {
        // 'error' after a successful spawn means a failed kill: the exit still comes.
        if (this.process.pid !== undefined) return;
        this.finish();
        resolve({ kind: 'spawn_failed', error });
      });
      this.process.once('exit', (code, signal) => {
        this.finish();
        resolve({ kind: 'exited', code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.done && this.process.pid !== undefined) this.process.kill(signal);
  }

  /** SIGTERM now, SIGKILL after `graceMs` if it is still running. */
  terminate(graceMs: number): void {
    this.signal('SIGTERM');
    if (this.killTimer === null && !this.done) {
      this.killTimer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    }
  }

  private finish(): void {
    this.done = true;
    if (this.killTimer !== null) clearTimeout(this.killTimer);
  }
}

/** The shell's convention: the exit code, or 128 + the number of the killing signal. */
export function exitCodeOf(end: ChildEnd): number {
  if (end.kind === 'spawn_failed') return end.error.code === 'ENOENT' ? exitCodes.commandNotFound : exitCodes.cannotExecute;
  if (end.code !== null) return end.code;
  return 128 + (end.signal !== null ? (constants.signals[end.signal] ?? 0) : 0);
}

/** 128 + the signal's number, for a signal that interrupted lockring itself. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
