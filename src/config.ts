import { type Limits, defaultLimits, makeLimits } from './limits.js';

/**
 * The server's configuration: read once, validated, frozen. Durations carry their
 * unit in their name. `dataDir: null` means pure memory (no safety across restarts).
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string | null;
  readonly logLevel: LogLevel;
  readonly limits: Limits;
  /** How long shutdown waits for in-flight requests before closing anyway. */
  readonly shutdownGraceMs: number;
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export const defaultConfig: Config = Object.freeze({
  host: '127.0.0.1',
  port: 7420,
  dataDir: './data',
  logLevel: 'info',
  limits: defaultLimits,
  shutdownGraceMs: 10_000,
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function makeConfig(overrides: Partial<Omit<Config, 'limits'>> & { limits?: Partial<Limits> } = {}): Config {
  const { limits, ...rest } = overrides;
  const config: Config = { ...defaultConfig, ...rest, limits: makeLimits(limits ?? {}) };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65_535) {
    throw new ConfigError(`port must be an integer from 0 to 65535, got ${String(config.port)}`);
  }
  if (!logLevels.includes(config.logLevel)) {
    throw new ConfigError(`logLevel must be one of ${logLevels.join(', ')}, got ${String(config.logLevel)}`);
  }
  return Object.freeze(config);
}

/** Reads `LOCKRING_*` variables over the defaults. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  const overrides: { -readonly [K in keyof Omit<Config, 'limits'>]?: Config[K] } = {};
  if (env['LOCKRING_HOST'] !== undefined) overrides.host = env['LOCKRING_HOST'];
  if (env['LOCKRING_PORT'] !== undefined) overrides.port = parsePort(env['LOCKRING_PORT']);
  if (env['LOCKRING_DATA_DIR'] !== undefined) {
    const dir = env['LOCKRING_DATA_DIR'];
    overrides.dataDir = dir === '' || dir === 'off' ? null : dir;
  }
  if (env['LOCKRING_LOG_LEVEL'] !== undefined) overrides.logLevel = env['LOCKRING_LOG_LEVEL'] as LogLevel;
  return makeConfig(overrides);
}

function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new ConfigError(`LOCKRING_PORT must be a port number, got ${JSON.stringify(text)}`);
  return Number(text);
}
