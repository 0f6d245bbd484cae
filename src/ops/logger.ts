import { pino, type Logger } from 'pino';
import type { LogFormat, LogLevel } from '../config.js';

/**
 * Structured JSON logs. Secrets never reach a log line: the authorization header
 * and anything named token in the auth configuration are redacted.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'lockring' },
    // Bearer tokens: in headers wherever a request object is logged, and in the auth
    // file's shape. The server never logs a WebSocket frame's arguments (auth frames).
    redact: {
      paths: [
        'authorization', 'headers.authorization', 'req.headers.authorization', 'request.headers.authorization',
        '*.headers.authorization', 'err.config.headers.authorization', '*.token', 'tokens[*].token',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Synchronous writes to stdout: nothing is lost at exit, and a closed stdout (EPIPE)
  // just stops the logging. pino's default asynchronous stream flushes at exit with a
  // loop that retries EPIPE forever, which hung shutdown when the log reader was gone.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/**
 * Where the server logs: JSON lines, or pino-pretty when asked or (`auto`) when
 * stdout is a terminal. pino-pretty is loaded only then, and runs in this thread
 * (synchronous writes) so nothing is lost at exit.
 */
export async function logDestination(format: LogFormat, isTty: boolean = process.stdout.isTTY === true): Promise<pino.DestinationStream | undefined> {
  if (format === 'json' || (format === 'auto' && !isTty)) return undefined;
  const { default: pretty } = await import('pino-pretty');
  return pretty({ colorize: isTty, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}
