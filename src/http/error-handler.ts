import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LockringError, errorStatus, invalid } from '../domain/errors.js';
import { validationError } from '../protocol/validation.js';

/** Renders a LockringError as the contract's `{error: {code, message, ...}}`. */
export function sendError(reply: FastifyReply, error: LockringError): FastifyReply {
  return reply.code(errorStatus[error.code]).send({ error: error.toBody() });
}

/**
 * Maps anything thrown while serving a request to the error catalogue: expected
 * failures keep their code; framework 4xx errors (bad JSON, body too large, bad
 * URL) become `invalid_request` / `payload_too_large`; anything else is a bug,
 * logged, and answered 500 without internals.
 */
export function toLockringError(error: unknown): LockringError | null {
  if (error instanceof LockringError) return error;
  const fastifyError = error as Partial<FastifyError> & { validationContext?: string };
  if (fastifyError.validation !== undefined) {
    return validationError(fastifyError.validation, fastifyError.validationContext ?? 'body');
  }
  const status = fastifyError.statusCode ?? 500;
  if (status === 413) return new LockringError('payload_too_large', 'request body is too large');
  if (status === 404) return new LockringError('not_found', 'no such route');
  if (status === 415) return invalid('content-type must be application/json', { field: 'content-type' });
  if (status >= 400 && status < 500) return invalid(fastifyError.message ?? 'bad request');
  return null;
}

/**
 * Errors fastify raises before a route is chosen: a path that does not decode
 * (`%ZZ`, invalid UTF-8) or a segment longer than the router allows. The URL is
 * not echoed: it may be kilobytes long.
 */
export function routingError(error: Partial<FastifyError>): LockringError {
  if (error.statusCode === 413) return new LockringError('payload_too_large', 'request body is too large');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return invalid('a path segment is longer than any name may be', { field: 'path' });
  }
  return invalid('the request path must be valid percent-encoded UTF-8', { field: 'path' });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const mapped = toLockringError(error);
    if (mapped !== null) return sendError(reply, mapped);
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, new LockringError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
