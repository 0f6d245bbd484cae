import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ServerDeps } from '../server.js';

/**
 * The one place `serve` wires optional subsystems into buildServer. Durability
 * (src/store) plugs in here as `openDurability`, built from `config.dataDir`.
 */
export function serverDeps(config: Config, logger: Logger): Omit<ServerDeps, 'logger'> {
  if (config.dataDir !== null) {
    logger.warn({ dataDir: config.dataDir }, 'durability is not wired in yet: state is kept in memory only and lost at restart');
  }
  return {};
}
