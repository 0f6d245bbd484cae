/**
 * The seam between the state machine and disk. The store subscribes to the
 * machine's events and appends the state-changing ones to its log; a transport
 * answers a client only once `settled()` says everything logged so far is durable.
 */
export interface Durability {
  /**
   * Resolves once every record appended so far is on disk (group commit), or
   * returns undefined when nothing is pending, so the in-memory path never awaits.
   */
  settled(): Promise<void> | undefined;
  /** Bytes of log records appended but not yet durable (0 in memory). */
  backlogBytes(): number;
  /** Flushes and closes the log (graceful shutdown). */
  close(): Promise<void>;
}

/** `--data-dir` off: pure memory, no safety across restarts. */
export const memoryOnly: Durability = {
  settled: () => undefined,
  backlogBytes: () => 0,
  close: async () => {},
};
