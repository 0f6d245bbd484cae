/**
 * Exit codes of every lockring command, documented in docs/cli.md and
 * docs/operations.md. `lockring lock` otherwise exits with its child's code, or
 * 128 + the signal number when the child was killed by a signal (as a shell does).
 */
export const exitCodes = {
  /** Success; `serve`: stopped cleanly after SIGTERM/SIGINT. */
  ok: 0,
  /** Runtime failure: server unreachable or said no, listen failed, shutdown timed out. */
  failure: 1,
  /** Bad usage or configuration (unknown flag or key, bad value, unsafe bind). */
  usage: 2,
  /** `lock`: the lock was held by others for the whole `--wait`. */
  lockNotAcquired: 3,
  /** `check`: the token does not hold the lock. */
  tokenNotHeld: 3,
  /** `lock`, `lease keepalive`: the lease was lost while the command ran; the command was terminated. */
  leaseLost: 4,
  /** `lock`: the command could not be run (not executable). */
  cannotExecute: 126,
  /** `lock`: the command was not found. */
  commandNotFound: 127,
} as const;

/** How long leaving waits for stdout/stderr to drain (a closed pipe never drains). */
const flushWaitMs = 1_000;

/** Leaves once stdout and stderr are flushed: pipes are asynchronous in Node. */
export function exitAfterFlush(code: number): void {
  process.exitCode = code;
  const exit = (): never => process.exit(code);
  setTimeout(exit, flushWaitMs).unref();
  try {
    process.stdout.write('', () => process.stderr.write('', exit));
  } catch {
    exit();
  }
}
