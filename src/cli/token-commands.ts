import { UsageError, modeFlag } from './args.js';
import { clientCommand } from './client-command.js';
import { connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';

/** A fencing token from the command line: a positive integer. */
function tokenArg(command: string, text: string): number {
  const token = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(token) || token < 1) throw new UsageError(`TOKEN: expected a fencing token (a positive integer), got ${JSON.stringify(text)}`, command);
  return token;
}

/** `lockring release NAME TOKEN`: hands a hold back by its token (not_holder: exit 1, with the reason). */
export function releaseCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return clientCommand('release', argv, env, connectionOptions, ['NAME', 'TOKEN'], async ({ positionals: [name, token], client }) => {
    const released = await client.release(name!, tokenArg('release', token!));
    return { json: released, text: `released lock ${JSON.stringify(released.name)} (token ${released.token})` };
  });
}

/** `lockring check NAME TOKEN [--mode M]`: exit 0 while TOKEN holds NAME (in mode M), 3 when it does not. */
export function checkCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = { ...connectionOptions, mode: { type: 'string' } } as const;
  return clientCommand('check', argv, env, options, ['NAME', 'TOKEN'], async ({ positionals: [name, token], client, values }) => {
    const mode = modeFlag('check', values.mode);
    const checked = await client.check(name!, tokenArg('check', token!), mode);
    const how = mode === undefined ? '' : ` in ${mode} mode`;
    const text = `token ${checked.token} ${checked.held ? 'holds' : 'does not hold'} lock ${JSON.stringify(checked.name)}${how}`;
    return { json: checked, text, exit: checked.held ? exitCodes.ok : exitCodes.tokenNotHeld };
  });
}
