import { ConfigError, configFromEnv } from './config.js';
import { createLogger } from './ops/logger.js';
import { buildServer } from './server.js';

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration. */
async function main(): Promise<void> {
  let config;
  try {
    config = configFromEnv();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof Error) {
      process.stderr.write(`lockring: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const lockring = await buildServer(config, { logger });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs);
    force.unref();
    lockring.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await lockring.app.listen({
    host: config.host,
    port: config.port,
    listenTextResolver: (address) => `lockring listening on ${address}`,
  });
  await lockring.start();
  logger.debug({ dataDir: config.dataDir, epoch: lockring.health.epoch }, 'ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`lockring: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
