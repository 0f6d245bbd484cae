import type { RingDetail } from '../protocol/wire.js';
import { UsageError, integerFlag, parseCommandArgs, takePositionals } from './args.js';
import { connect, connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, printJson, table } from './output.js';

const lookupOptions = { n: { type: 'string' }, ...connectionOptions } as const;

/** `lockring ring lookup|nodes ...` */
export async function ringCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'lookup') return lookup(rest, env);
  if (sub === 'nodes') return nodes(rest, env);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    print(helpFor('ring'));
    return sub === undefined ? exitCodes.usage : exitCodes.ok;
  }
  throw new UsageError(`unknown ring command ${JSON.stringify(sub)}: expected lookup or nodes`, 'ring');
}

async function lookup(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('ring lookup', argv, lookupOptions);
  if (values.help === true) {
    print(helpFor('ring lookup'));
    return exitCodes.ok;
  }
  const [ring, key] = takePositionals('ring lookup', positionals, ['RING', 'KEY']);
  const n = integerFlag('ring lookup', 'n', values.n, 1, 1, 10_000)!;
  const found = await connect('ring lookup', values, env).lookup(ring!, key!, { n });
  if (values.json === true) printJson(found);
  else print(found.nodes.join('\n'));
  return exitCodes.ok;
}

async function nodes(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('ring nodes', argv, connectionOptions);
  if (values.help === true) {
    print(helpFor('ring nodes'));
    return exitCodes.ok;
  }
  const [ring] = takePositionals('ring nodes', positionals, ['RING']);
  const detail = await connect('ring nodes', values, env).getRing(ring!);
  if (values.json === true) printJson(detail);
  else print(describeRing(detail));
  return exitCodes.ok;
}

export function describeRing(ring: RingDetail): string {
  const header = `ring ${JSON.stringify(ring.name)}: version ${ring.version}, vnodes ${ring.vnodes}, ` +
    `${ring.nodes.length} node${ring.nodes.length === 1 ? '' : 's'}, fingerprint ${ring.fingerprint}`;
  if (ring.nodes.length === 0) return header;
  const rows = [['NODE', 'WEIGHT', 'LEASE', 'META']];
  for (const node of ring.nodes) {
    const meta = Object.keys(node.meta).length === 0 ? '-' : JSON.stringify(node.meta);
    rows.push([node.id, String(node.weight), node.leaseId ?? '-', meta]);
  }
  return `${header}\n\n${table(rows)}`;
}
