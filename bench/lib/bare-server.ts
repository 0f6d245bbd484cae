/**
 * The ceiling for HTTP and WebSocket on this machine: a bare fastify server (child
 * process entry) that serves lockring's paths with no state and no validation. It
 * parses the same JSON bodies and answers with bodies of the same shape, so the
 * load clients send exactly what they send to lockring. Whatever lockring does on
 * top (schemas, state machine, metrics hook) is the difference measured.
 *
 * Run: node --import tsx bench/lib/bare-server.ts (BARE_PORT, default 0).
 */
import websocket from '@fastify/websocket';
import Fastify from 'fastify';

type Body = Record<string, unknown>;

let token = 0;
const leaseId = '00000000-0000-4000-8000-000000000000';

function grant(name: string, body: Body): Body {
  const ttlMs = typeof body['ttlMs'] === 'number' ? body['ttlMs'] : 10_000;
  return {
    name,
    token: ++token,
    leaseId,
    owner: typeof body['owner'] === 'string' ? body['owner'] : '',
    limit: typeof body['limit'] === 'number' ? body['limit'] : 1,
    ttlMs,
    expiresAt: Date.now() + ttlMs,
  };
}

function leaseBody(id: string, body: Body): Body {
  const ttlMs = typeof body['ttlMs'] === 'number' ? body['ttlMs'] : 10_000;
  return { id, ttlMs, expiresAt: Date.now() + ttlMs };
}

/** The WebSocket reply to one request frame, shaped like lockring's. */
function wsReply(frame: Body): Body {
  const id = frame['id'] ?? null;
  switch (frame['op']) {
    case 'lock.acquire':
      return { id, ok: true, ...grant(String(frame['name']), frame) };
    case 'lock.release':
      return { id, ok: true, name: frame['name'], token: frame['token'], released: true };
    case 'lease.grant':
    case 'lease.keepalive': {
      const lease = leaseBody(typeof frame['leaseId'] === 'string' ? frame['leaseId'] : leaseId, frame);
      return { id, ok: true, leaseId: lease['id'], ttlMs: lease['ttlMs'], expiresAt: lease['expiresAt'] };
    }
    case 'session.open':
      return { id, ok: true, leaseId };
    default:
      return { id, ok: true };
  }
}

async function main(): Promise<void> {
  const app = Fastify({ logger: false });
  await app.register(websocket);
  app.get('/readyz', async () => ({ ready: true }));
  app.post<{ Params: { name: string }; Body: Body }>('/v1/locks/:name/acquire', async (request) =>
    grant(request.params.name, request.body),
  );
  app.post<{ Params: { name: string }; Body: Body }>('/v1/locks/:name/release', async (request) => ({
    name: request.params.name,
    token: request.body['token'],
    released: true,
  }));
  app.post<{ Params: { id: string }; Body: Body }>('/v1/leases/:id/keepalive', async (request) =>
    leaseBody(request.params.id, request.body),
  );
  app.post<{ Params: { ring: string }; Body: { keys: string[] } }>(
    '/v1/rings/:ring/lookup',
    { bodyLimit: 12 * 1024 * 1024 },
    async (request) => ({
      ring: request.params.ring,
      version: 1,
      nodes: request.body.keys.map(() => ['node-0042']),
    }),
  );
  app.get('/v1/ws', { websocket: true }, (socket) => {
    socket.on('message', (data) => {
      let frame: Body;
      try {
        frame = JSON.parse(data.toString()) as Body;
      } catch {
        socket.send(JSON.stringify({ id: null, ok: false, error: { code: 'invalid_request', message: 'bad JSON' } }));
        return;
      }
      socket.send(JSON.stringify(wsReply(frame)));
    });
  });
  const port = Number(process.env['BARE_PORT'] ?? '0');
  const address = await app.listen({ host: '127.0.0.1', port });
  process.stdout.write(`bare fastify listening on ${address}\n`);
  const stop = (): void => {
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-server: ${String(error)}\n`);
  process.exit(1);
});
