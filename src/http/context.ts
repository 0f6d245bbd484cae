import type { Limits } from '../limits.js';
import type { LockringService } from '../service.js';
import type { Schemas } from './schemas.js';

/** What every route plugin is given. */
export interface RouteContext {
  readonly service: LockringService;
  readonly limits: Limits;
  readonly schemas: Schemas;
}

/** Lets a body-optional route (`{}` or nothing) validate an empty body as `{}`. */
export function emptyBodyAsObject(request: { body: unknown }, _reply: unknown, done: () => void): void {
  if (request.body === undefined) request.body = {};
  done();
}
