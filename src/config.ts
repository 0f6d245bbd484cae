import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type Limits, defaultLimits, makeLimits, offWhenZero } from './limits.js';
import { parseBytes, parseDuration } from './units.js';

/**
 * The server's configuration: read once at startup from flags, environment, an
 * optional JSON file and defaults (in that order of precedence), validated in full,
 * frozen. Durations carry their unit in their name. `dataDir: null` means pure
 * memory (no safety across restarts).
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string | null;
  readonly logLevel: LogLevel;
  /** `auto`: pretty when stdout is a terminal, JSON lines otherwise. */
  readonly logFormat: LogFormat;
  /** How long shutdown waits for in-flight requests before giving up (exit 1). */
  readonly shutdownGraceMs: number;
  /** Bearer-token file; null: no auth, so loopback only unless opted out. */
  readonly authFile: string | null;
  /** The loudly named opt-out: serve a non-loopback address without auth. */
  readonly insecureNoAuthOnPublicAddress: boolean;
  /** PEM certificate chain and private key: serve HTTPS/WSS. Both or neither. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  /** PEM CA bundle: clients must present a certificate it signed (mutual TLS). */
  readonly tlsCa: string | null;
  /**
   * Browser origins (`scheme://host[:port]`, or `*`) whose pages may call the API:
   * CORS for HTTP, and the Origin check of WebSocket upgrades. A request without an
   * Origin header (not a browser) or from the server's own origin is always served.
   */
  readonly allowedOrigins: readonly string[];
  /** Host header names served (DNS rebinding); null: loopback names when loopback without auth, else any. */
  readonly allowedHosts: readonly string[] | null;
  /** Comment lines on quiet event streams, so proxies keep them open. */
  readonly sseHeartbeatMs: number;
  /** Replicated mode: etcd endpoints, comma-separated (null: one process on its data directory). */
  readonly etcd: string | null;
  /** Replicated mode: the prefix of this cluster's keys in etcd. */
  readonly cluster: string;
  /** Replicated mode: the URL clients reach this replica at (null: from host and port). */
  readonly advertiseUrl: string | null;
  /** Replicated mode: TTL of the election session lease; an active that stops renewing is replaced after about this long. */
  readonly etcdSessionTtlMs: number;
  readonly limits: Limits;
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];
export const logFormats = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

export const defaultConfig: Config = Object.freeze({
  host: '127.0.0.1',
  port: 7420,
  dataDir: './data',
  logLevel: 'info',
  logFormat: 'auto',
  shutdownGraceMs: 10_000,
  authFile: null,
  insecureNoAuthOnPublicAddress: false,
  tlsCert: null,
  tlsKey: null,
  tlsCa: null,
  allowedOrigins: [],
  allowedHosts: null,
  sseHeartbeatMs: 15_000,
  etcd: null,
  cluster: 'lockring',
  advertiseUrl: null,
  etcdSessionTtlMs: 2_000,
  limits: defaultLimits,
});

/** A configuration the server must not start with: exit code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Settings = Omit<Config, 'limits'>;
export type SettingKey = keyof Settings;
type SettingKind = 'host' | 'port' | 'dir' | 'file' | 'logLevel' | 'logFormat' | 'duration' | 'bool' | 'list' | 'urls' | 'url' | 'name';

/** One configuration key: its flag, its environment variable, its type. */
export interface Setting {
  readonly key: SettingKey;
  /** Without the leading `--`. */
  readonly flag: string;
  readonly env: string;
  readonly kind: SettingKind;
  readonly valueName: string;
  readonly help: string;
}

export const settings: readonly Setting[] = [
  { key: 'host', flag: 'host', env: 'LOCKRING_HOST', kind: 'host', valueName: 'ADDRESS',
    help: 'Address to listen on. Without auth only loopback (127.0.0.1, ::1, localhost) is allowed.' },
  { key: 'port', flag: 'port', env: 'LOCKRING_PORT', kind: 'port', valueName: 'PORT',
    help: 'TCP port (0 picks a free one and logs it).' },
  { key: 'dataDir', flag: 'data-dir', env: 'LOCKRING_DATA_DIR', kind: 'dir', valueName: 'DIR|off',
    help: 'Data directory for the write-ahead log; "off" keeps state in memory only.' },
  { key: 'logLevel', flag: 'log-level', env: 'LOCKRING_LOG_LEVEL', kind: 'logLevel', valueName: 'LEVEL',
    help: `Log level: ${logLevels.join(', ')}.` },
  { key: 'logFormat', flag: 'log-format', env: 'LOCKRING_LOG_FORMAT', kind: 'logFormat', valueName: 'FORMAT',
    help: 'auto (pretty on a terminal, JSON otherwise), json or pretty.' },
  { key: 'shutdownGraceMs', flag: 'shutdown-grace', env: 'LOCKRING_SHUTDOWN_GRACE', kind: 'duration', valueName: 'DURATION',
    help: 'How long a SIGTERM/SIGINT shutdown may take before lockring gives up and exits 1.' },
  { key: 'authFile', flag: 'auth-file', env: 'LOCKRING_AUTH_FILE', kind: 'file', valueName: 'FILE',
    help: 'JSON file of bearer tokens and their grants (see SECURITY.md); SIGHUP reloads it.' },
  { key: 'insecureNoAuthOnPublicAddress', flag: 'insecure-no-auth-on-public-address',
    env: 'LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS', kind: 'bool', valueName: 'true|false',
    help: 'Serve a non-loopback address without auth: anyone who can reach it can take or release any lock.' },
  { key: 'tlsCert', flag: 'tls-cert', env: 'LOCKRING_TLS_CERT', kind: 'file', valueName: 'FILE',
    help: 'PEM certificate (chain) to serve HTTPS and WSS; needs --tls-key.' },
  { key: 'tlsKey', flag: 'tls-key', env: 'LOCKRING_TLS_KEY', kind: 'file', valueName: 'FILE',
    help: 'PEM private key of --tls-cert.' },
  { key: 'tlsCa', flag: 'tls-ca', env: 'LOCKRING_TLS_CA', kind: 'file', valueName: 'FILE',
    help: 'PEM CA bundle: require client certificates signed by it (mutual TLS); needs --tls-cert.' },
  { key: 'allowedOrigins', flag: 'allowed-origins', env: 'LOCKRING_ALLOWED_ORIGINS', kind: 'list', valueName: 'ORIGIN,...',
    help: 'Browser origins (https://dash.example:8443, or *) allowed to call the API (CORS, WebSocket); default none but the server\'s own.' },
  { key: 'allowedHosts', flag: 'allowed-hosts', env: 'LOCKRING_ALLOWED_HOSTS', kind: 'list', valueName: 'HOST,...',
    help: 'Host header names served (against DNS rebinding), or *; default loopback names on a loopback address without auth, else any.' },
  { key: 'sseHeartbeatMs', flag: 'sse-heartbeat', env: 'LOCKRING_SSE_HEARTBEAT', kind: 'duration', valueName: 'DURATION',
    help: 'Interval of the comment lines that keep quiet event streams (GET /v1/watch) open through proxies.' },
  { key: 'etcd', flag: 'etcd', env: 'LOCKRING_ETCD', kind: 'urls', valueName: 'URL[,URL...]',
    help: 'Replicated mode: etcd endpoints (comma-separated); replicas sharing them elect one active, the others stand by.' },
  { key: 'cluster', flag: 'cluster', env: 'LOCKRING_CLUSTER', kind: 'name', valueName: 'NAME',
    help: 'Replicated mode: the key prefix of this cluster in etcd.' },
  { key: 'advertiseUrl', flag: 'advertise-url', env: 'LOCKRING_ADVERTISE_URL', kind: 'url', valueName: 'URL',
    help: 'Replicated mode: the URL clients reach this replica at (default: from --host and --port).' },
  { key: 'etcdSessionTtlMs', flag: 'etcd-session-ttl', env: 'LOCKRING_ETCD_SESSION_TTL', kind: 'duration', valueName: 'DURATION',
    help: 'Replicated mode: TTL of the election session; a stopped active is replaced after about this long, or etcd\'s minimum lease TTL if longer (2 s with its default election timeout; whole seconds, 1s to 60s).' },
];

/** `LOCKRING_*` variables read by the client commands and `lockring lock`'s child, not by `serve`. */
const clientEnvVars = new Set(['LOCKRING_URL', 'LOCKRING_AUTH_TOKEN', 'LOCKRING_FENCING_TOKEN', 'LOCKRING_LEASE_ID', 'LOCKRING_LOCK']);
export const configFileEnv = 'LOCKRING_CONFIG';
export const limitsEnv = 'LOCKRING_LIMITS';
const shutdownGraceMsMax = 600_000;
const durationRanges: Partial<Record<SettingKey, readonly [number, number]>> = {
  shutdownGraceMs: [0, shutdownGraceMsMax],
  sseHeartbeatMs: [100, 300_000],
  etcdSessionTtlMs: [1_000, 60_000],
};

export type Origin = 'flag' | 'env' | 'file' | 'default';

export interface ConfigSources {
  /** Flag values by setting key: strings as typed, `true` for a boolean flag. */
  readonly flags?: Readonly<Partial<Record<SettingKey, string | boolean>>>;
  /** `--limit name=value`, in order. */
  readonly limitFlags?: readonly string[];
  /** `--config FILE` (wins over LOCKRING_CONFIG). */
  readonly configFile?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Where each setting (and each limit that is not a default) came from. */
  readonly origins: Readonly<Record<string, Origin>>;
  readonly configFile: string | null;
  /** Things worth a warning line that do not stop the server. */
  readonly warnings: readonly string[];
}

/**
 * Builds the configuration from every source: flags > environment > config file >
 * defaults, for each key and each limit. Throws ConfigError naming the source and
 * the key on anything unknown or out of range.
 */
export function loadConfig(sources: ConfigSources = {}): LoadedConfig {
  const env = sources.env ?? process.env;
  const values: Record<string, unknown> = { ...defaultConfig };
  const origins: Record<string, Origin> = Object.fromEntries(settings.map((s) => [s.key, 'default' as Origin]));
  const limits: Record<string, number> = {};
  const setLimit = (name: string, value: number, origin: Origin): void => {
    limits[name] = value;
    origins[`limits.${name}`] = origin;
  };

  const configFile = sources.configFile ?? nonEmpty(env[configFileEnv]) ?? null;
  if (configFile !== null) {
    const file = readConfigFile(configFile);
    for (const setting of settings) {
      if (!(setting.key in file.settings)) continue;
      values[setting.key] = parseSetting(setting, file.settings[setting.key], { label: `${configFile}: ${setting.key}`, json: true, baseDir: file.dir });
      origins[setting.key] = 'file';
    }
    for (const [name, raw] of Object.entries(file.limits)) {
      setLimit(name, parseLimit(name, raw, `${configFile}: limits.${name}`, true), 'file');
    }
  }

  for (const setting of settings) {
    const raw = env[setting.env];
    if (raw === undefined) continue;
    values[setting.key] = parseSetting(setting, raw, { label: setting.env, json: false });
    origins[setting.key] = 'env';
  }
  for (const [name, raw] of splitAssignments(env[limitsEnv] ?? '', limitsEnv)) setLimit(name, parseLimit(name, raw, `${limitsEnv}: ${name}`), 'env');

  for (const setting of settings) {
    const raw = sources.flags?.[setting.key];
    if (raw === undefined) continue;
    values[setting.key] = parseSetting(setting, raw, { label: `--${setting.flag}`, json: false });
    origins[setting.key] = 'flag';
  }
  for (const assignment of sources.limitFlags ?? []) {
    for (const [name, raw] of splitAssignments(assignment, '--limit')) setLimit(name, parseLimit(name, raw, `--limit ${name}`), 'flag');
  }

  const config = makeConfig({ ...(values as unknown as Settings), limits });
  return { config, origins: Object.freeze(origins), configFile, warnings: unknownEnvWarnings(env) };
}

/** Reads `LOCKRING_*` variables (and LOCKRING_CONFIG's file) over the defaults. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig({ env }).config;
}

/** Defaults plus overrides, validated and frozen (tests build configs with this). */
export function makeConfig(overrides: Partial<Settings> & { limits?: Partial<Limits> } = {}): Config {
  const { limits, ...rest } = overrides;
  let checkedLimits: Limits;
  try {
    checkedLimits = makeLimits(limits ?? {});
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const config: Config = { ...defaultConfig, ...rest, limits: checkedLimits };
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65_535) {
    throw new ConfigError(`port must be an integer from 0 to 65535, got ${String(config.port)}`);
  }
  if (!logLevels.includes(config.logLevel)) {
    throw new ConfigError(`logLevel must be one of ${logLevels.join(', ')}, got ${String(config.logLevel)}`);
  }
  if (!logFormats.includes(config.logFormat)) {
    throw new ConfigError(`logFormat must be one of ${logFormats.join(', ')}, got ${String(config.logFormat)}`);
  }
  if (!Number.isInteger(config.shutdownGraceMs) || config.shutdownGraceMs < 0 || config.shutdownGraceMs > shutdownGraceMsMax) {
    throw new ConfigError(`shutdownGraceMs must be an integer from 0 to ${shutdownGraceMsMax}, got ${String(config.shutdownGraceMs)}`);
  }
  checkBindPolicy(config);
  checkTlsFiles(config);
  checkAllowLists(config);
  return Object.freeze(config);
}

/** TLS needs a certificate and its key together; a client CA only makes sense with them. */
export function checkTlsFiles(config: Pick<Config, 'tlsCert' | 'tlsKey' | 'tlsCa'>): void {
  if ((config.tlsCert === null) !== (config.tlsKey === null)) {
    throw new ConfigError('--tls-cert and --tls-key (LOCKRING_TLS_CERT, LOCKRING_TLS_KEY) go together: give both or neither');
  }
  if (config.tlsCa !== null && config.tlsCert === null) {
    throw new ConfigError('--tls-ca (mutual TLS) needs --tls-cert and --tls-key: the server must serve TLS to ask for client certificates');
  }
}

export const allowListEntriesMax = 64;

/** Origins are exact `scheme://host[:port]` (as browsers send them); hosts are bare names or IPs. */
export function checkAllowLists(config: Pick<Config, 'allowedOrigins' | 'allowedHosts'>): void {
  for (const [key, list] of [['allowedOrigins', config.allowedOrigins], ['allowedHosts', config.allowedHosts ?? []]] as const) {
    if (!Array.isArray(list) || list.length > allowListEntriesMax) throw new ConfigError(`${key} must be a list of at most ${allowListEntriesMax} entries`);
    for (const entry of list) {
      const ok = key === 'allowedOrigins' ? isOriginEntry(entry) : isHostEntry(entry);
      if (!ok) throw new ConfigError(`${key}: ${JSON.stringify(entry)} is not ${key === 'allowedOrigins' ? 'an origin such as https://dash.example:8443, or *' : 'a host name or IP address (no port), or *'}`);
    }
  }
}

function isOriginEntry(entry: unknown): boolean {
  if (entry === '*') return true;
  if (typeof entry !== 'string' || entry.length > 2048) return false;
  try {
    const url = new URL(entry);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry;
  } catch {
    return false;
  }
}

function isHostEntry(entry: unknown): boolean {
  if (entry === '*') return true;
  return typeof entry === 'string' && /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)$/.test(entry);
}

/**
 * Safe default: a server without auth listens on loopback only. Any other
 * address needs an auth file or the explicit, loudly named opt-out.
 */
export function checkBindPolicy(config: Pick<Config, 'host' | 'authFile' | 'insecureNoAuthOnPublicAddress'>): void {
  if (config.authFile !== null || config.insecureNoAuthOnPublicAddress || isLoopbackHost(config.host)) return;
  throw new ConfigError(
    `refusing to listen on ${JSON.stringify(config.host)} without auth: anyone who can reach that address could ` +
      'take or release any lock. Listen on 127.0.0.1 (the default), configure --auth-file, or pass ' +
      '--insecure-no-auth-on-public-address (LOCKRING_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS=true) to accept the risk',
  );
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback, and the name `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  const version = isIP(bare);
  if (version === 4) return bare.startsWith('127.');
  if (version === 6) {
    const lower = bare.toLowerCase();
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

/**
 * The configuration as printed at startup. Secrets never live in Config itself
 * (tokens stay in the auth file, which is named, never read into the log); a key
 * listed here would be shown as `[redacted]`.
 */
const secretKeys: ReadonlySet<string> = new Set<string>();

export function printableConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) out[key] = secretKeys.has(key) && value !== null ? '[redacted]' : value;
  return out;
}

interface ParseOrigin {
  readonly label: string;
  /** From the JSON file: typed values; from flags and env: strings. */
  readonly json: boolean;
  /** Relative paths in the config file are relative to the file. */
  readonly baseDir?: string;
}

function parseSetting(setting: Setting, raw: unknown, origin: ParseOrigin): string | number | boolean | string[] | null {
  const fail = (expected: string): never => {
    throw new ConfigError(`${origin.label}: expected ${expected}, got ${JSON.stringify(raw)}`);
  };
  switch (setting.kind) {
    case 'host':
      if (typeof raw !== 'string' || raw === '' || raw.length > 253 || /\s/.test(raw)) fail('a host name or IP address');
      return raw as string;
    case 'port':
      return parseIntegerIn(raw, origin, 0, 65_535) ?? fail('a port number from 0 to 65535');
    case 'dir':
      if (raw === null && origin.json) return null;
      if (typeof raw !== 'string' || (raw === '' && origin.json)) fail('a directory path, or "off" for memory only');
      return raw === 'off' || raw === '' ? null : resolvePath(raw as string, origin);
    case 'file':
      if (raw === null && origin.json) return null;
      if (typeof raw !== 'string' || raw === '') fail('a file path');
      return existingFile(resolvePath(raw as string, origin), origin.label);
    case 'logLevel':
      return oneOf(raw, logLevels) ?? fail(`one of ${logLevels.join(', ')}`);
    case 'logFormat':
      return oneOf(raw, logFormats) ?? fail(`one of ${logFormats.join(', ')}`);
    case 'duration': {
      const [min, max] = durationRanges[setting.key] ?? [0, Number.MAX_SAFE_INTEGER];
      const ms = typeof raw === 'number' && origin.json ? raw : typeof raw === 'string' ? parseDuration(raw) : null;
      if (ms === null || !Number.isInteger(ms) || ms < min || ms > max) {
        fail(`a duration with a unit (500ms, 10s, 2m)${origin.json ? ' or integer milliseconds' : ''} from ${min} ms to ${max} ms`);
      }
      return ms;
    }
    case 'list':
      if (origin.json && Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return raw as string[];
      if (typeof raw !== 'string') fail(origin.json ? 'a list of strings' : 'a comma-separated list');
      return (raw as string).split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== '');
    case 'urls':
    case 'url':
      if (raw === null && origin.json) return null;
      return parseUrls(raw, setting.kind === 'urls') ?? fail(setting.kind === 'urls' ? 'http(s) URLs, comma-separated' : 'an http(s) URL');
    case 'name':
      if (typeof raw !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(raw)) fail('1 to 64 letters, digits, ".", "_" or "-"');
      return raw as string;
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (!origin.json && (raw === 'true' || raw === '1')) return true;
      if (!origin.json && (raw === 'false' || raw === '0')) return false;
      return fail(origin.json ? 'true or false' : 'true, false, 1 or 0');
  }
}

/** Comma-separated http(s) URLs without trailing slashes, joined again with commas (one when `many` is false). */
function parseUrls(raw: unknown, many: boolean): string | null {
  if (typeof raw !== 'string' || raw.length > 4096) return null;
  const parts = raw.split(',').map((part) => part.trim().replace(/\/+$/, ''));
  if (parts.length === 0 || (!many && parts.length > 1)) return null;
  for (const part of parts) {
    try {
      const url = new URL(part);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    } catch {
      return null;
    }
  }
  return parts.join(',');
}

function parseIntegerIn(raw: unknown, origin: ParseOrigin, min: number, max: number): number | null {
  let value: number | null = null;
  if (typeof raw === 'number' && origin.json) value = raw;
  else if (typeof raw === 'string' && !origin.json && /^\d{1,15}$/.test(raw)) value = Number(raw);
  return value !== null && Number.isInteger(value) && value >= min && value <= max ? value : null;
}

function oneOf<T extends string>(raw: unknown, allowed: readonly T[]): T | null {
  return typeof raw === 'string' && (allowed as readonly string[]).includes(raw) ? (raw as T) : null;
}

function resolvePath(path: string, origin: ParseOrigin): string {
  return origin.baseDir === undefined ? path : resolve(origin.baseDir, path);
}

function existingFile(path: string, label: string): string {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    throw new ConfigError(`${label}: cannot read ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!isFile) throw new ConfigError(`${label}: ${JSON.stringify(path)} is not a file`);
  try {
    accessSync(path, fsConstants.R_OK);
  } catch (error) {
    throw new ConfigError(`${label}: cannot read ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  return path;
}

const limitNames = Object.keys(defaultLimits) as (keyof Limits)[];

/** A limit from the file (number, or string with a unit) or from a flag (string). */
function parseLimit(name: string, raw: unknown, label: string, json = false): number {
  if (!(limitNames as string[]).includes(name)) {
    throw new ConfigError(`${label}: unknown limit ${JSON.stringify(name)}${suggest(name, limitNames)}`);
  }
  let value: number | null = null;
  if (typeof raw === 'number') value = raw;
  else if (typeof raw === 'string') {
    if (/^\d{1,15}$/.test(raw)) value = json ? null : Number(raw);
    else if (isDurationLimit(name)) value = parseDuration(raw);
    else if (isByteLimit(name)) value = parseBytes(raw);
  }
  const off = offWhenZero.has(name as keyof Limits);
  if (value === null || !Number.isSafeInteger(value) || value < (off ? 0 : 1)) {
    const unit = isDurationLimit(name) ? ' (or a duration such as 30s)' : isByteLimit(name) ? ' (or a size such as 64KiB)' : '';
    throw new ConfigError(`${label}: expected ${off ? '0 (off) or ' : ''}a positive integer${unit}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const isDurationLimit = (name: string): boolean => /Ms(Max|Min)?$/.test(name);
const isByteLimit = (name: string): boolean => /Bytes(Max)?$/.test(name);

/** `a=1,b=2` -> [[a, 1], [b, 2]]; `--limit` takes one or several. */
function splitAssignments(text: string, label: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`${label}: expected NAME=VALUE (for example waitersMax=5000), got ${JSON.stringify(item)}`);
    out.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
  }
  return out;
}

interface ConfigFile {
  readonly dir: string;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly limits: Readonly<Record<string, unknown>>;
}

function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`config file ${JSON.stringify(path)}: cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${JSON.stringify(path)}: not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isPlainObject(parsed)) throw new ConfigError(`config file ${JSON.stringify(path)}: expected a JSON object at the top`);
  const known = [...settings.map((s) => s.key as string), 'limits'];
  for (const key of Object.keys(parsed)) {
    if (!known.includes(key)) throw new ConfigError(`config file ${JSON.stringify(path)}: unknown key ${JSON.stringify(key)}${suggest(key, known)}`);
  }
  const { limits = {}, ...rest } = parsed;
  if (!isPlainObject(limits)) throw new ConfigError(`config file ${JSON.stringify(path)}: "limits" must be an object of NAME: number`);
  return { dir: dirname(resolve(path)), settings: rest, limits };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function unknownEnvWarnings(env: NodeJS.ProcessEnv): string[] {
  const known = new Set([...settings.map((s) => s.env), configFileEnv, limitsEnv, ...clientEnvVars]);
  const envNames = [...known];
  return Object.keys(env)
    .filter((name) => name.startsWith('LOCKRING_') && !known.has(name))
    .map((name) => `unknown environment variable ${name} ignored${suggest(name, envNames)}`);
}

/** ` (did you mean "waitersMax"?)` for a near miss, or nothing. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
