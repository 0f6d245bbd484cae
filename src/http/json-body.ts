import type { FastifyInstance, FastifyRequest } from 'fastify';
import { LockringError, invalid } from '../domain/errors.js';

// Only a body that could spell a poisoning key pays for the reviver: `\u` escapes
// can spell `__proto__` without the letters appearing in the raw text.
const risky = /__proto__|constructor|\\u/;

/** Refuses `__proto__` keys and `constructor.prototype` anywhere in the body, by name. */
function refusePoisoning(key: string, value: unknown): unknown {
  if (key === '__proto__') {
    throw invalid('__proto__ is not allowed as a field name', { field: '__proto__' });
  }
  if (key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype')) {
    throw invalid('constructor.prototype is not allowed in a request body', { field: 'constructor' });
  }
  return value;
}

/**
 * Parses JSON bodies. An empty body counts as no body at all, so that `DELETE` or
 * a keepalive sent with `content-type: application/json` and nothing else is the
 * same request as one without the header; routes that need a body say so through
 * their schema. JSON.parse defines `__proto__` as a plain own key (it never sets a
 * prototype), and the reviver refuses it so a rejected body changes nothing.
 */
export function parseJsonBody(_request: FastifyRequest, body: string, done: (error: Error | null, body?: unknown) => void): void {
  if (body.trim() === '') {
    done(null, undefined);
    return;
  }
  try {
    done(null, risky.test(body) ? JSON.parse(body, refusePoisoning) : JSON.parse(body));
  } catch (error) {
    if (error instanceof LockringError) done(error);
    else done(invalid(`request body is not valid JSON: ${(error as Error).message}`, { field: 'body' }));
  }
}

/** JSON is the only body type; anything else is `invalid_request` naming content-type. */
export function installJsonBody(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
}
