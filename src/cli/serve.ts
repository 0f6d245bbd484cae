import type { Logger } from 'pino';
import { type LoadedConfig, type SettingKey, isLoopbackHost, loadConfig, printableConfig, settings } from '../config.js';
import { createLogger, logDestination } from '../ops/logger.js';
import { buildServer } from '../server.js';
import { UsageError, parseCommandArgs } from './args.js';
import { checkDataDir } from './data-dir-check.js';
import { exitCodes } from './exit-codes.js';
import { stopOnSignals } from './graceful-stop.js';
import { helpFor } from './help.js';
import { print, printJson } from './output.js';
import { serverDeps } from './server-deps.js';

type OptionSpec = { type: 'string' | 'boolean'; multiple?: boolean; short?: string };

/** One flag per setting (generated, so flags and config keys cannot drift), plus a few. */
const options: Record<string, OptionSpec> = {
  config: { type: 'string' },
  limit: { type: 'string', multiple: true },
  'print-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
for (const setting of settings) options[setting.flag] = { type: setting.kind === 'bool' ? 'boolean' : 'string' };

/**
 * `lockring serve` (and `npm start`): configuration from flags, environment and
 * file, validated in full (exit 2 when bad), then the server until SIGTERM/SIGINT.
 */
export async function serveCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('serve', argv, options);
  if (values['help'] === true) {
    print(helpFor('serve'));
    return exitCodes.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, 'serve');
  const flags: Partial<Record<SettingKey, string | boolean>> = {};
  for (const setting of settings) {
    const value = values[setting.flag];
    if (typeof value === 'string' || typeof value === 'boolean') flags[setting.key] = value;
  }
  const configFile = typeof values['config'] === 'string' ? values['config'] : undefined;
  const limit = values['limit'];
  const limitFlags = Array.isArray(limit) ? limit.filter((v): v is string => typeof v === 'string') : [];
  const loaded = loadConfig({ flags, limitFlags, env, ...(configFile !== undefined ? { configFile } : {}) });
  if (values['print-config'] === true) {
    printJson(printableConfig(loaded.config));
    return exitCodes.ok;
  }
  // The replicated mode keeps its log in etcd: no data directory is made or checked.
  if (loaded.config.dataDir !== null && loaded.config.etcd === null) await checkDataDir(loaded.config.dataDir);
  return runServer(loaded);
}

async function runServer(loaded: LoadedConfig): Promise<number> {
  const { config } = loaded;
  const logger = createLogger(config.logLevel, await logDestination(config.logFormat));
  logStartup(logger, loaded);
  const lockring = await buildServer(config, { logger, ...serverDeps(config, logger) });
  const onCrash = (error: unknown): void => {
    logger.fatal({ err: error }, 'uncaught error: exiting');
    logger.flush();
    process.exit(exitCodes.failure);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  const stopper = stopOnSignals(() => lockring.close(), logger, config.shutdownGraceMs);
  // SIGHUP reloads the auth file; without a handler it would kill the server.
  const onHangup = (): void => void lockring.reloadAuth();
  process.on('SIGHUP', onHangup);
  const abandon = async (): Promise<void> => {
    stopper.dispose();
    process.off('SIGHUP', onHangup);
    await lockring.close().catch(() => {});
    await flush(logger);
  };
  try {
    await lockring.app.listen({
      host: config.host,
      port: config.port,
      listenTextResolver: (address) => `lockring listening on ${address}`,
    });
  } catch (error) {
    logger.fatal({ err: error, host: config.host, port: config.port }, 'cannot listen');
    await abandon();
    return exitCodes.failure;
  }
  // A standby of the replicated mode starts only once it is elected: a stop signal may come first.
  let started: boolean;
  try {
    started = await Promise.race([lockring.start().then(() => true), stopper.exitCode.then(() => false)]);
  } catch (error) {
    // Recovery failed (a damaged log, the directory taken by another server, a disk
    // error): stop listening before the error is reported and the process exits.
    logger.fatal({ err: error }, 'cannot open the data directory');
    await abandon();
    throw error;
  }
  if (started) logger.info({ epoch: lockring.health.epoch }, 'ready');
  const code = await stopper.exitCode;
  process.off('SIGHUP', onHangup);
  await flush(logger);
  return code;
}

function logStartup(logger: Logger, loaded: LoadedConfig): void {
  const from = Object.fromEntries(Object.entries(loaded.origins).filter(([, origin]) => origin !== 'default'));
  logger.info({ config: printableConfig(loaded.config), from, configFile: loaded.configFile }, 'configuration');
  for (const warning of loaded.warnings) logger.warn(warning);
  const { host, authFile, tlsCert } = loaded.config;
  if (isLoopbackHost(host)) return;
  if (authFile === null) {
    logger.warn(
      { host },
      'SERVING WITHOUT AUTH ON A NON-LOOPBACK ADDRESS (--insecure-no-auth-on-public-address): anyone who can reach it can take or release any lock',
    );
  } else if (tlsCert === null) {
    logger.warn({ host }, 'serving bearer-token auth without TLS on a non-loopback address: tokens cross the network in clear text (see --tls-cert)');
  }
}

/** Flushes the log; gives up after a second (stdout may be a closed pipe). */
function flush(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, 1_000).unref();
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
