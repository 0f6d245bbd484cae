import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Limits } from '../limits.js';
import { openApiDocument } from '../protocol/openapi-document.js';
import { wsFrameSchema } from '../protocol/ws-frames.js';
import { makeFrameSchemas } from '../ws/protocol.js';

/**
 * The explorer: an interactive page at `/docs` (Swagger UI, its assets served from
 * this process, nothing from a CDN) over the OpenAPI document at `/docs/json` (and
 * `/docs/yaml`), plus the JSON Schema of every WebSocket frame at `/docs/ws.json`.
 * The document is generated from the protocol module's route table, the same table
 * the routes take their validation and serializers from.
 */
// The page may load and call nothing but this origin. Swagger UI sets a few inline
// styles, hence the one relaxation: styles, never scripts.
const explorerCsp =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; " +
  "object-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'";

export async function registerOpenApi(app: FastifyInstance, limits: Limits): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: openApiDocument(limits) as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: explorerCsp,
    theme: { title: 'lockring API' },
    // No badge from an online validator: the page talks to this server only.
    validatorUrl: false,
    uiConfig: { deepLinking: true, displayOperationId: false, defaultModelsExpandDepth: 0, tryItOutEnabled: false },
  });
  // The frame schemas are the ones the WebSocket side validates requests with.
  const frames = wsFrameSchema(makeFrameSchemas(limits));
  app.get('/docs/ws.json', async () => frames);
  // A program that asks `/docs` for JSON (and not HTML) still gets the document itself.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/docs' && wantsJson(request.headers.accept)) {
      reply.send(app.swagger());
      return;
    }
    done();
  });
}

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('application/json') && !accept.includes('text/html');
}
