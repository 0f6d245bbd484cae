import { LockringClientError } from '../client/errors.js';
import { ConfigError } from '../config.js';
import { StoreError } from '../store/store-errors.js';
import { UsageError, splitAtDoubleDash } from './args.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { describeClientError, print, printJson, say } from './output.js';
import { version } from './version.js';

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** Loaded on demand: a client command does not pay for loading the server. */
const commands: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  lock: async () => (await import('./lock.js')).lockCommand,
  status: async () => (await import('./status.js')).statusCommand,
  ring: async () => (await import('./ring.js')).ringCommand,
  lease: async () => (await import('./lease.js')).leaseCommand,
  locks: async () => (await import('./locks.js')).locksCommand,
  release: async () => (await import('./token-commands.js')).releaseCommand,
  check: async () => (await import('./token-commands.js')).checkCommand,
  watch: async () => (await import('./watch.js')).watchCommand,
  health: async () => (await import('./health.js')).healthCommand,
  completion: async () => (await import('./completion.js')).completionCommand,
};

/** Runs one lockring command line and returns its exit code. */
export async function cli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(`${helpFor('general')}\n`);
    return exitCodes.usage;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    print(helpFor(rest.join(' ') || 'general'));
    return exitCodes.ok;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    print(version());
    return exitCodes.ok;
  }
  const load = commands[command];
  if (load === undefined) {
    say(`unknown command ${JSON.stringify(command)}; run 'lockring --help'`);
    return exitCodes.usage;
  }
  return runReporting(async () => (await load())(rest, env), splitAtDoubleDash(rest).before.includes('--json'));
}

/** What a command that failed reports: a code (the server's, or the CLI's own), a message, details. */
interface Failure {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly exit: number;
}

/**
 * Turns the errors a command may end with into a message and an exit code: one line
 * on stderr, or with `--json` one `{"error": {code, message, ...}}` object on stdout
 * (the server's error shape, so scripts read both alike).
 */
export async function runReporting(run: () => Promise<number>, json = false): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const failure = describeFailure(error, json);
    if (json) printJson({ error: { code: failure.code, message: failure.message, ...failure.details } });
    else say(failure.message);
    return failure.exit;
  }
}

function describeFailure(error: unknown, json: boolean): Failure {
  if (error instanceof UsageError) {
    return { code: 'usage', message: `${error.message}${error.command !== null ? ` (see 'lockring ${error.command} --help')` : ''}`, exit: exitCodes.usage };
  }
  if (error instanceof ConfigError) return { code: 'configuration', message: `configuration error: ${error.message}`, exit: exitCodes.usage };
  // The server could not be reached, or said no (`ring_not_found`, ...).
  if (error instanceof LockringClientError) {
    return { code: error.code, message: json ? error.message : describeClientError(error), details: error.details, exit: exitCodes.failure };
  }
  // The data directory is locked by another server, or its log is damaged: the
  // message names the file and offset; a stack would only hide it.
  if (error instanceof StoreError) return { code: error.code, message: `data directory error (${error.code}): ${error.message}`, exit: exitCodes.failure };
  // A file-system error names its path and reason (EACCES, ENOSPC...): that is the line to read.
  if (isSystemError(error)) return { code: error.code ?? 'system', message: `${error.syscall} failed: ${error.message}`, exit: exitCodes.failure };
  return { code: 'internal', message: `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, exit: exitCodes.failure };
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
