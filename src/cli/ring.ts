import { ApiClient, describeApiError, segment } from './api-client.js';
import { UsageError, integerFlag, parseCommandArgs, takePositionals } from './args.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, printJson, say, table } from './output.js';

const lookupOptions = {
  n: { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const nodesOptions = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface Lookup {
  readonly ring: string;
  readonly version: number;
  readonly key: string;
  readonly nodes: readonly string[];
}

interface RingDetail {
  readonly name: string;
  readonly vnodes: number;
  readonly version: number;
  readonly fingerprint: string;
  readonly nodes: readonly { id: string; weight: number; meta: Record<string, unknown>; leaseId: string | null }[];
}

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
  const client = ApiClient.fromOptions('ring lookup', values.url, env);
  const query = new URLSearchParams({ key: key!, n: String(n) });
  const response = await client.call<Lookup>('GET', `/v1/rings/${segment(ring!)}/lookup?${query.toString()}`);
  if (!response.ok) {
    say(describeApiError(response.error));
    return exitCodes.failure;
  }
  if (values.json === true) printJson(response.body);
  else print(response.body.nodes.join('\n'));
  return exitCodes.ok;
}

async function nodes(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseCommandArgs('ring nodes', argv, nodesOptions);
  if (values.help === true) {
    print(helpFor('ring nodes'));
    return exitCodes.ok;
  }
  const [ring] = takePositionals('ring nodes', positionals, ['RING']);
  const client = ApiClient.fromOptions('ring nodes', values.url, env);
  const response = await client.call<RingDetail>('GET', `/v1/rings/${segment(ring!)}`);
  if (!response.ok) {
    say(describeApiError(response.error));
    return exitCodes.failure;
  }
  if (values.json === true) printJson(response.body);
  else print(describeRing(response.body));
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
