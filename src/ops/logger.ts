import { pino, type Logger } from 'pino';
import type { LogLevel } from '../config.js';

/**
 * Structured JSON logs. Secrets never reach a log line: the authorization header
 * and anything named token in the auth configuration are redacted.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'lockring' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'tokens[*].token'], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
