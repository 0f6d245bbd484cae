import type { Logger } from 'pino';
import { exitCodes } from './exit-codes.js';

export interface StopHandle {
  /** Resolves with the exit code once a stop signal has been handled. */
  readonly exitCode: Promise<number>;
  dispose(): void;
}

const stopSignals = ['SIGTERM', 'SIGINT'] as const;

/**
 * SIGTERM/SIGINT run `stop` once: exit 0 when it finishes within `graceMs`, 1 when
 * it fails or takes longer. A second signal exits 1 at once (an operator who
 * presses Ctrl-C twice means it).
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger, graceMs: number): StopHandle {
  let resolveExit: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => (resolveExit = resolve));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting for the drain');
      resolveExit(exitCodes.failure);
      return;
    }
    stopping = true;
    logger.info({ signal, graceMs }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown did not finish within the grace period; exiting anyway');
      resolveExit(exitCodes.failure);
    }, graceMs);
    stop().then(
      () => {
        clearTimeout(timer);
        logger.info('stopped');
        resolveExit(exitCodes.ok);
      },
      (error: unknown) => {
        clearTimeout(timer);
        logger.error({ err: error }, 'shutdown failed');
        resolveExit(exitCodes.failure);
      },
    );
  };
  for (const signal of stopSignals) process.on(signal, onSignal);
  return {
    exitCode,
    dispose: () => {
      for (const signal of stopSignals) process.off(signal, onSignal);
    },
  };
}
