import type { ParseArgsConfig } from 'node:util';
import type { LockringClient } from '../client/client.js';
import { type ParsedArgs, parseCommandArgs, takePositionals } from './args.js';
import { connect } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { type HelpTopic, helpFor } from './help.js';
import { print, printJson } from './output.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a client command shows: the server's answer for --json, a text for people (nothing when undefined / empty), an exit code. */
export interface Shown {
  readonly json: unknown;
  readonly text: string;
  readonly exit?: number;
}

export interface CommandContext<T extends Options> {
  readonly values: ParsedArgs<T>['values'];
  readonly positionals: string[];
  readonly client: LockringClient;
}

/**
 * The frame of a one-shot client command: parse (strict), `--help`, exactly the
 * named positionals, connect (HTTP), run, print `--json` or text, close.
 */
export async function clientCommand<T extends Options>(
  topic: HelpTopic,
  argv: string[],
  env: NodeJS.ProcessEnv,
  options: T,
  positionalNames: readonly string[],
  run: (context: CommandContext<T>) => Promise<Shown>,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(topic, argv, options);
  const flags = values as Readonly<Record<string, string | boolean | undefined>>;
  if (flags['help'] === true) {
    print(helpFor(topic));
    return exitCodes.ok;
  }
  const named = takePositionals(topic, positionals, positionalNames);
  const client = connect(topic, values as Readonly<Record<string, string | undefined>>, env);
  try {
    const shown = await run({ values, positionals: named, client });
    if (flags['json'] === true) {
      if (shown.json !== undefined) printJson(shown.json);
    }
    else if (shown.text !== '') print(shown.text);
    return shown.exit ?? exitCodes.ok;
  } finally {
    await client.close();
  }
}
