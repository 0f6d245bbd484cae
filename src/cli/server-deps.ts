import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ServerDeps } from '../server.js';
import { openReplicatedStore } from '../store/etcd/replicated-store.js';
import { openStore } from '../store/index.js';

/**
 * The one place `serve` wires optional subsystems into buildServer: with a data
 * directory, the write-ahead log and recovery (src/store); without one, pure memory.
 */
export function serverDeps(config: Config, logger: Logger): Omit<ServerDeps, 'logger'> {
  if (config.etcd !== null) return replicatedDeps(config, config.etcd);
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

/**
 * Replicated mode: the log and the election live in etcd; the data directory is
 * not used. `start()` resolves once this replica is the active; until then it
 * answers `/v1` with `503 not_ready` naming the active.
 */
function replicatedDeps(config: Config, etcd: string): Omit<ServerDeps, 'logger'> {
  const scheme = config.tlsCert === null ? 'http' : 'https';
  const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  const advertiseUrl = config.advertiseUrl ?? `${scheme}://${host}:${config.port}`;
  return {
    openDurability: async (machine, log, metrics, health) => {
      health.active = null;
      const store = await openReplicatedStore({
        endpoints: etcd.split(','),
        cluster: config.cluster,
        advertiseUrl,
        sessionTtlMs: config.etcdSessionTtlMs,
        machine,
        limits: config.limits,
        log,
        observer: metrics.replication,
        onActive: (url) => {
          if (!health.ready) health.active = url;
        },
        // A replica whose term may be over must not answer anything more: stop at
        // once, and let the supervisor restart it as a standby.
        onFatal: () => {
          log.flush();
          process.exit(1);
        },
      });
      health.active = undefined;
      health.guard = () => store.guard();
      return store;
    },
  };
}
