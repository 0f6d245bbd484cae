import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, LevelWithSilentOrString, LogFn, Logger } from 'pino';

type Method = Level | 'silent';

/**
 * A request's logger, which makes its pino child (the request id bound to every line)
 * only when the request writes a line at an enabled level. Fastify gives every request
 * a child logger, and making one serialises and redacts its bindings: 3% of the CPU of
 * a served lock request, for a logger that almost never writes (the server logs a
 * request at debug, and at error when it fails).
 */
export class RequestLogger {
  private made: Logger | null = null;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): LevelWithSilentOrString {
    return this.made === null ? this.parent.level : this.made.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.pinoChild().level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.pinoChild().child(bindings, options);
  }

  /** Whether a line at `level` would be written: the parent's level until the child exists. */
  enabled(level: Level): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  /** The pino child, made on first use. */
  pinoChild(): Logger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  declare fatal: LogFn;
  declare error: LogFn;
  declare warn: LogFn;
  declare info: LogFn;
  declare debug: LogFn;
  declare trace: LogFn;
  declare silent: LogFn;
}

/**
 * Fastify's child logger factory: a lazy child, unless the route sets a level of its
 * own (the child must be made then to carry it).
 */
export function requestLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options.level !== undefined || !isPino(parent)) return parent.child(bindings, options);
  return new RequestLogger(parent, bindings, options);
}

function isPino(logger: FastifyBaseLogger): logger is Logger {
  return typeof (logger as Partial<Logger>).isLevelEnabled === 'function';
}

/** A method that checks the level before it makes the child. */
function lazily(method: Method): LogFn {
  function log(this: RequestLogger, ...args: unknown[]): void {
    if (method !== 'silent' && !this.enabled(method)) return;
    const logger = this.pinoChild();
    (logger[method] as (...line: unknown[]) => void)(...args);
  }
  return log as LogFn;
}

for (const method of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
  Object.defineProperty(RequestLogger.prototype, method, { value: lazily(method), writable: true, configurable: true });
}
