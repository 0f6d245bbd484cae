/**
 * The seam between the state machine and what makes its changes durable. A store
 * turns the machine's events into log records, each at a position that only rises;
 * the commit pipeline (src/service/commit-pipeline.ts) holds every output back until
 * the store is durable through the position that was current when it was computed.
 *
 * "Durable" is the store's word: fsynced on this disk for the local write-ahead log,
 * committed by a quorum for a replicated log.
 */
export interface Durability {
  /** Position of the last record appended (0 when none); rises with every append. */
  appendedPosition(): number;
  /** Position through which every record is durable; never above `appendedPosition()`. */
  durablePosition(): number;
  /**
   * undefined when everything through `position` is durable, so the in-memory path
   * never awaits; otherwise resolves once it is (rejects if the log failed).
   */
  whenDurable(position: number): Promise<void> | undefined;
  /** `whenDurable(appendedPosition())`: everything appended so far. */
  settled(): Promise<void> | undefined;
  /** Bytes of log records appended but not yet durable (0 in memory). */
  backlogBytes(): number;
  /** Flushes and closes the log (graceful shutdown). */
  close(): Promise<void>;
}

/** `--data-dir` off: pure memory, no safety across restarts. */
export const memoryOnly: Durability = {
  appendedPosition: () => 0,
  durablePosition: () => 0,
  whenDurable: () => undefined,
  settled: () => undefined,
  backlogBytes: () => 0,
  close: async () => {},
};
