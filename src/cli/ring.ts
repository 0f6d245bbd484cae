import type { MovedRange, RingDetail } from '../protocol/wire.js';
import { UsageError, integerFlag, parseCommandArgs, takePositionals } from './args.js';
import { connect, connectionOptions } from './connect.js';
import { exitCodes } from './exit-codes.js';
import { helpFor } from './help.js';
import { print, printJson, table } from './output.js';

const lookupOptions = { n: { type: 'string' }, ...connectionOptions } as const;

// Kept beside the command (not in help.ts) so the command and its text change together.
export const ringDiffHelp = `lockring ring diff RING FROM TO [--n N] [--json] [--url URL]

Prints the hash ranges of RING whose owner changed from version FROM to version
TO, with the old and new owners: the keys a cache cluster has to move. A range
START..END covers the positions START to END, both included, of the 32-bit hash
circle (the position of a key is the ring's hash of it); no range wraps around:
the arc past the last point is listed as two ranges, one ending at 4294967295
and one starting at 0. The server keeps a bounded number of recent versions;
an older one is the error version_unavailable, naming the oldest it has.

Options:
  --n N       compare the first N owners (replica sets), not only the owner
  --json      print {ring, version, from, to, n, ranges:[{start, end, before, after}]}
  --url URL   server (default LOCKRING_URL or http://127.0.0.1:7420)

Examples:
  lockring ring diff cache 41 42
  lockring ring diff cache 41 45 --n 2 --json

Exit codes: 0 ok, 1 server unreachable or error (ring_not_found, version_unavailable), 2 bad usage.`;

/** `lockring ring lookup|nodes|diff ...` */
export async function ringCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'lookup') return lookup(rest, env);
  if (sub === 'nodes') return nodes(rest, env);
  if (sub === 'diff') return diff(rest, env);
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    print(helpFor('ring'));
    return sub === undefined ? exitCodes.usage : exitCodes.ok;
  }
  throw new UsageError(`unknown ring command ${JSON.stringify(sub)}: expected lookup, nodes or diff`, 'ring');
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

async function diff(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // The same flags as lookup: --n, --url, --json.
  const { values, positionals } = parseCommandArgs('ring diff', argv, lookupOptions);
  if (values.help === true) {
    print(ringDiffHelp);
    return exitCodes.ok;
  }
  const [ring, fromText, toText] = takePositionals('ring diff', positionals, ['RING', 'FROM', 'TO']);
  const version = (name: string, text: string): number => {
    if (!/^[1-9]\d{0,15}$/.test(text)) throw new UsageError(`${name}: expected a ring version (an integer from 1), got ${JSON.stringify(text)}`, 'ring diff');
    return Number(text);
  };
  const from = version('FROM', fromText!);
  const to = version('TO', toText!);
  const n = integerFlag('ring diff', 'n', values.n, 1, 1, 16)!;
  const client = connect('ring diff', values, env);
  const ranges = await client.ringDiffAll(ring!, from, to, { n });
  if (values.json === true) printJson({ ring, from, to, n, ranges });
  else print(describeDiff(ring!, from, to, ranges));
  return exitCodes.ok;
}

/** A summary line (how much of the circle moved), then one row per range. */
export function describeDiff(ring: string, from: number, to: number, ranges: readonly MovedRange[]): string {
  const covered = ranges.reduce((sum, range) => sum + (range.end - range.start + 1), 0);
  const share = ((covered / 2 ** 32) * 100).toFixed(2);
  const header = `ring ${JSON.stringify(ring)}: ${ranges.length} range${ranges.length === 1 ? '' : 's'} moved from version ${from} to ${to}, ${share}% of the hash circle`;
  if (ranges.length === 0) return header;
  const owners = (nodes: readonly string[]): string => (nodes.length === 0 ? '-' : nodes.join(','));
  const rows = [['START', 'END', 'BEFORE', 'AFTER']];
  for (const range of ranges) rows.push([String(range.start), String(range.end), owners(range.before), owners(range.after)]);
  return `${header}\n\n${table(rows)}`;
}

export function describeRing(ring: RingDetail): string {
  const placement = ring.algorithm === 'ketama' ? 'algorithm ketama' : `vnodes ${ring.vnodes}`;
  const header = `ring ${JSON.stringify(ring.name)}: version ${ring.version}, ${placement}, ` +
    `${ring.nodes.length} node${ring.nodes.length === 1 ? '' : 's'}, fingerprint ${ring.fingerprint}`;
  if (ring.nodes.length === 0) return header;
  const rows = [['NODE', 'WEIGHT', 'LEASE', 'META']];
  for (const node of ring.nodes) {
    const meta = Object.keys(node.meta).length === 0 ? '-' : JSON.stringify(node.meta);
    rows.push([node.id, String(node.weight), node.leaseId ?? '-', meta]);
  }
  return `${header}\n\n${table(rows)}`;
}
