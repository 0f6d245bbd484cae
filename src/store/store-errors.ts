/**
 * Failures of the data directory. Each names what an operator needs to act on:
 * the file and byte offset of a corrupt record, the process holding the lock.
 */
export class StoreError extends Error {
  constructor(
    readonly code: 'corrupt_log' | 'data_dir_locked' | 'durability_failed' | 'store_closed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** A record that fails its checksum or cannot be decoded, not at the torn tail. */
export class CorruptLogError extends StoreError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(
      'corrupt_log',
      `corrupt data in ${file} at byte offset ${offset}: ${reason}. Refusing to start, since acknowledged ` +
        'state would be lost; restore the data directory from a backup, or move it aside to start empty.',
    );
    this.name = 'CorruptLogError';
  }
}

export class DataDirLockedError extends StoreError {
  constructor(
    readonly dataDir: string,
    detail: string,
  ) {
    super('data_dir_locked', `data directory ${dataDir} is in use: ${detail}`);
    this.name = 'DataDirLockedError';
  }
}

/** A write or fsync of the log failed: nothing appended since is durable. */
export class DurabilityFailedError extends StoreError {
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super('durability_failed', `the write-ahead log failed and accepts no more writes: ${detail}`, { cause });
    this.name = 'DurabilityFailedError';
  }
}
