import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ServerDeps } from '../server.js';
import { openStore } from '../store/index.js';

/**
 * The one place `serve` wires optional subsystems into buildServer: with a data
 * directory, the write-ahead log and recovery (src/store); without one, pure memory.
 */
export function serverDeps(config: Config, logger: Logger): Omit<ServerDeps, 'logger'> {
  const dataDir = config.dataDir;
  if (dataDir === null) {
    logger.warn('no data directory: state is kept in memory only, and fencing tokens restart from 1 after a restart');
    return {};
  }
  return {
    openDurability: (machine, log, metrics) =>
      openStore({
        dataDir,
        machine,
        log,
        segmentBytesMax: config.limits.walSegmentBytesMax,
        snapshotEveryRecords: config.limits.snapshotIntervalRecordsMax,
        observer: {
          fsync(seconds, records) {
            metrics.walFsyncSeconds.observe(seconds);
            metrics.walBatchRecords.observe(records);
          },
        },
        // A lock server that cannot make its grants durable must not grant at all:
        // stop here and let the supervisor restart us into recovery.
        onFatal: (error) => {
          log.fatal({ err: error }, 'write-ahead log failed: exiting');
          process.exit(1);
        },
      }),
  };
}
