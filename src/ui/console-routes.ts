import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { callerOf } from '../auth/http-auth.js';
import { LockringError } from '../domain/errors.js';
import type { RouteContext } from '../http/context.js';
import { checkQuery, nameParam } from '../protocol/validation.js';
import { type RingShares, ringShares } from './ring-shares.js';

/** The console's own files: checked in, copied beside the compiled code by `npm run build`. */
const assetsDir = fileURLToPath(new URL('./assets/', import.meta.url));
/** A bound on what is held in memory: the console is a few small files. */
const assetBytesMax = 1024 * 1024;

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * No inline script or style, nothing from another origin: the console talks to
 * this server only, and a name shown in it can never run as code.
 */
export const consolePolicy =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/**
 * Serves the web console at `/ui` (static files, read once at startup) and the one
 * read it needs beyond the public API: `GET /v1/rings/{ring}/shares`, each member's
 * share of the hash space, for drawing the ring.
 */
export function registerConsole(app: FastifyInstance, { service, limits }: RouteContext): void {
  const assets = loadAssets();
  const serve = (reply: FastifyReply, file: string): FastifyReply => {
    const asset = assets.get(file === '' ? 'index.html' : file);
    if (asset === undefined) throw new LockringError('not_found', `no console file ${JSON.stringify(file)}`);
    return reply
      .header('content-type', asset.type)
      .header('content-security-policy', consolePolicy)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(asset.body);
  };
  const hidden = { schema: { hide: true } };
  app.get('/ui', hidden, async (_request, reply) => serve(reply, ''));
  app.get<{ Params: { '*': string } }>('/ui/*', hidden, async (request, reply) => serve(reply, request.params['*']));

  app.get<{ Params: { ring: string } }>('/v1/rings/:ring/shares', async (request): Promise<RingShares> => {
    checkQuery(request.query, []);
    const name = nameParam('ring', request.params.ring, limits);
    // The same checks (grant, existence) as reading the ring.
    await service.getRing(name, callerOf(request));
    // A read is an output too: shown once the log is durable through what it shows.
    return service.pipeline.release(ringShares(service.machine.rings.get(name)));
  });
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let total = 0;
  let files: string[];
  try {
    files = readdirSync(assetsDir);
  } catch {
    throw new Error(`the console's files are missing from ${assetsDir} (npm run build copies them there)`);
  }
  for (const file of files) {
    const type = contentTypes[extname(file)];
    if (type === undefined) continue;
    const body = readFileSync(join(assetsDir, file));
    total += body.length;
    if (total > assetBytesMax) throw new Error(`console assets exceed ${assetBytesMax} bytes`);
    assets.set(file, { type, body });
  }
  if (!assets.has('index.html')) throw new Error(`console assets missing in ${assetsDir}`);
  return assets;
}
