import type { TSchema } from 'typebox';
import type { Limits } from '../limits.js';
import { codesByStatus, errorMeaning } from './error-catalogue.js';
import { errorExamples } from './error-examples.js';
import { type BodyName, type RouteSpec, httpRoutes, tagDescriptions } from './http-routes.js';
import { makeSchemas } from './request-bodies.js';
import { type ResponseName, responses } from './response-bodies.js';

type Json = Record<string, unknown>;

/** TypeBox schemas carry symbol keys; the document wants plain JSON. */
const plain = (schema: TSchema | unknown): Json => JSON.parse(JSON.stringify(schema)) as Json;

const componentName = (name: string): string => name[0]!.toUpperCase() + name.slice(1);
const ref = (name: ResponseName): Json => ({ $ref: `#/components/schemas/${componentName(name)}` });

const bodyExamples: Readonly<Record<BodyName, Json>> = {
  leaseGrant: { ttlMs: 10000 },
  leaseKeepalive: { ttlMs: 15000 },
  acquire: { ttlMs: 10000, owner: 'worker-1', waitMs: 5000 },
  multiAcquire: { locks: [{ name: 'accounts/alice' }, { name: 'accounts/bob' }], ttlMs: 10000, owner: 'transfer-7', waitMs: 5000 },
  multiRelease: { holds: [{ name: 'accounts/alice', token: 43 }, { name: 'accounts/bob', token: 44 }] },
  tokenBody: { token: 42 },
  checkBody: { token: 42 },
  ringPut: { vnodes: 160 },
  nodePut: { weight: 1, meta: { zone: 'a' } },
  lookupBatch: { keys: ['user:1', 'user:2'], n: 2 },
};

function successResponses(route: RouteSpec): Json {
  if (route.response === 'metricsText') {
    return { 200: { description: 'Metrics in Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' }, example: route.example } } } };
  }
  const name = route.response;
  const what = String((responses[name] as { description?: string }).description ?? '');
  const answer = (description: string): Json => ({ description, content: { 'application/json': { schema: ref(name), example: route.example } } });
  if (route.createdOr200) return { 201: answer(`Created. ${what}`), 200: answer(`Existed (changed or not). ${what}`) };
  return route.created ? { 201: answer(`Created. ${what}`) } : { 200: answer(what) };
}

function errorResponses(route: RouteSpec): Json {
  const out: Json = {};
  for (const [status, codes] of codesByStatus(route.errors)) {
    const examples = Object.fromEntries(codes.map((code) => [code, { summary: errorMeaning[code], value: { error: errorExamples[code] } }]));
    out[String(status)] = {
      description: codes.map((code) => `\`${code}\`: ${errorMeaning[code]}`).join(' '),
      content: { 'application/json': { schema: ref('error'), examples } },
    };
  }
  return out;
}

function operation(route: RouteSpec, bodies: ReturnType<typeof makeSchemas>): Json {
  const op: Json = {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    description: route.description,
    responses: { ...successResponses(route), ...errorResponses(route) },
  };
  if (route.parameters.length > 0) {
    op['parameters'] = route.parameters.map((p) => ({ name: p.name, in: p.in, required: p.required, description: p.description, schema: plain(p.schema) }));
  }
  if (route.body !== undefined) {
    op['requestBody'] = {
      required: route.bodyOptional !== true,
      content: { 'application/json': { schema: plain(bodies[route.body]), example: bodyExamples[route.body] } },
    };
  }
  if (route.open) op['security'] = [];
  return op;
}

/**
 * The OpenAPI 3.1 description of every HTTP route, generated from the protocol
 * module's tables and the configured limits (so documented ranges are the ones
 * enforced). The WebSocket protocol has its own schema document.
 */
export function openApiDocument(limits: Limits): Json {
  const bodies = makeSchemas(limits);
  const paths: Record<string, Json> = {};
  for (const route of httpRoutes(limits)) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route, bodies) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'lockring',
      version: 'v1',
      summary: 'Fencing-token leases, locks, semaphores and consistent-hash rings.',
      description:
        'JSON in and out; durations are integer milliseconds (`ttlMs`, `waitMs`). Every error is ' +
        '`{"error": {"code", "message", ...details}}` with one HTTP status per code. The WebSocket protocol ' +
        '(`GET /v1/ws`) is described in docs/api.md and by its own JSON Schema.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The server that serves this document.' }],
    // Auth is optional: it applies only when the server runs with an auth file.
    security: [{ bearerAuth: [] }, {}],
    tags: Object.entries(tagDescriptions).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from the server\'s auth file; required on /v1 when auth is configured.' },
      },
      schemas: Object.fromEntries(Object.entries(responses).map(([name, schema]) => [componentName(name), plain(schema)])),
    },
  };
}
