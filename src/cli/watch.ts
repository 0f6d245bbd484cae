import type { Subscription } from '../client/client.js';
import type { LockPush, RingPush } from '../protocol/wire.js';
import { UsageError, parseCommandArgs, takePositionals } from './args.js';
import { connect, connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, say } from './output.js';

const options = {
  lock: { type: 'string', multiple: true },
  prefix: { type: 'string', multiple: true },
  ring: { type: 'string', multiple: true },
  ...connectionOptions,
} as const;

/** One socket carries at most this many watches from one command line. */
const watchesMax = 64;

/**
 * `lockring watch --lock NAME | --prefix P | --ring RING ...`: streams lock and ring
 * events over the WebSocket watch op, one line each (a JSON line with --json), until
 * SIGINT/SIGTERM (exit 0). Events during a reconnect are missed (say so on stderr).
 */
export async function watchCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('watch', argv, options);
  if (values.help === true) {
    print(helpFor('watch'));
    return exitCodes.ok;
  }
  takePositionals('watch', positionals, []);
  const locks = values.lock ?? [];
  const prefixes = values.prefix ?? [];
  const rings = values.ring ?? [];
  const count = locks.length + prefixes.length + rings.length;
  if (count === 0) throw new UsageError('nothing to watch: give --lock NAME, --prefix PREFIX or --ring RING', 'watch');
  if (count > watchesMax) throw new UsageError(`at most ${watchesMax} watches at once, got ${count}`, 'watch');
  const json = values.json === true;
  const show = (push: LockPush | RingPush): void => {
    if (json) process.stdout.write(`${JSON.stringify(push)}\n`);
    else print(describePush(push));
  };
  const client = connect('watch', values, env, true);
  const subscriptions: Subscription[] = [];
  try {
    await client.connect();
    client.on('disconnected', () => say('disconnected: events until the watch is back are missed'));
    client.on('watch_failed', ({ error }) => say(`a watch could not be re-established: ${error.message}`));
    for (const name of locks) subscriptions.push(await client.watchLock({ name }, show));
    for (const prefix of prefixes) subscriptions.push(await client.watchLock({ prefix }, show));
    for (const ring of rings) subscriptions.push(await client.watchRing(ring, show));
    say(`watching ${count} target${count === 1 ? '' : 's'}; Ctrl-C to stop`);
    await untilStopped();
    return exitCodes.ok;
  } finally {
    await client.close();
  }
}

function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function describePush(push: LockPush | RingPush): string {
  if (push.event === 'lock') return `lock ${JSON.stringify(push.name)} ${push.type}: token ${push.token}${push.owner !== '' ? `, owner ${push.owner}` : ''}`;
  if (push.type === 'deleted') return `ring ${JSON.stringify(push.ring)} deleted`;
  return `ring ${JSON.stringify(push.ring)} changed: version ${push.version}, nodes ${push.nodes.map((n) => `${n.id}(${n.weight})`).join(' ') || '-'}`;
}
