import { LockringClientError } from '../client/errors.js';
import { ConfigError } from '../config.js';
import { StoreError } from '../store/store-errors.js';
import { UsageError } from './args.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { describeClientError, print, say } from './output.js';
import { version } from './version.js';

type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** Loaded on demand: a client command does not pay for loading the server. */
const commands: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  lock: async () => (await import('./lock.js')).lockCommand,
  status: async () => (await import('./status.js')).statusCommand,
  ring: async () => (await import('./ring.js')).ringCommand,
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
  return runReporting(async () => (await load())(rest, env));
}

/** Turns the errors a command may end with into a message and an exit code. */
export async function runReporting(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UsageError) {
      say(`${error.message}${error.command !== null ? ` (see 'lockring ${error.command} --help')` : ''}`);
      return exitCodes.usage;
    }
    if (error instanceof ConfigError) {
      say(`configuration error: ${error.message}`);
      return exitCodes.usage;
    }
    // The server could not be reached, or said no (`ring_not_found`, ...).
    if (error instanceof LockringClientError) {
      say(describeClientError(error));
      return exitCodes.failure;
    }
    // The data directory is locked by another server, or its log is damaged: the
    // message names the file and offset; a stack would only hide it.
    if (error instanceof StoreError) {
      say(`data directory error (${error.code}): ${error.message}`);
      return exitCodes.failure;
    }
    // A file-system error names its path and reason (EACCES, ENOSPC...): that is the line to read.
    if (isSystemError(error)) {
      say(`${error.syscall} failed: ${error.message}`);
      return exitCodes.failure;
    }
    say(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return exitCodes.failure;
  }
}

function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}
