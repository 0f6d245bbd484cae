/**
 * Builders for HTTP tests through `inject()`: a lockring server on a manual clock
 * with deterministic lease ids, plus a small JSON client and error assertions.
 */
import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import { makeConfig } from '../../src/config.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { Limits } from '../../src/limits.js';
import { type Lockring, buildServer } from '../../src/server.js';

export interface Reply {
  readonly status: number;
  readonly body: any;
  readonly text: string;
  readonly headers: Record<string, unknown>;
}

export interface Api {
  readonly lockring: Lockring;
  readonly clock: ManualClock;
  /** Sends a request; a non-string body is sent as JSON. */
  call(method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Moves the manual clock and runs every deadline now due (expiries, timeouts, lock-delays). */
  advance(ms: number): void;
  close(): Promise<void>;
}

export interface ApiOptions {
  readonly limits?: Partial<Limits>;
  /** Skip `start()`: the server stays not ready. */
  readonly unstarted?: boolean;
  /** Lease ids; `L1`, `L2`, ... by default. */
  readonly newLeaseId?: () => string;
}

export async function startApi(options: ApiOptions = {}): Promise<Api> {
  const clock = new ManualClock();
  let leaseSeq = 0;
  const lockring = await buildServer(makeConfig({ logLevel: 'silent', dataDir: null, limits: options.limits ?? {} }), {
    clock,
    newLeaseId: options.newLeaseId ?? (() => `L${++leaseSeq}`),
  });
  if (options.unstarted !== true) await lockring.start();
  return {
    lockring,
    clock,
    async call(method, url, body, headers = {}) {
      const request: InjectOptions = { method, url, headers: { ...headers } };
      if (body !== undefined) {
        request.payload = typeof body === 'string' ? body : JSON.stringify(body);
        request.headers = { 'content-type': 'application/json', ...headers };
      }
      const res = await lockring.app.inject(request);
      let parsed: unknown = undefined;
      try {
        parsed = res.body === '' ? undefined : JSON.parse(res.body);
      } catch {
        parsed = undefined;
      }
      return { status: res.statusCode, body: parsed, text: res.body, headers: res.headers };
    },
    advance(ms) {
      clock.advance(ms);
      lockring.machine.tick();
    },
    close: () => lockring.close(),
  };
}

/** Asserts the contract's error shape, code and status; returns the error object. */
export function expectError(reply: Reply, status: number, code: string): Record<string, any> {
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status}: ${reply.text}`);
  assert.equal(typeof reply.body, 'object', `error body is JSON: ${reply.text}`);
  const error = reply.body.error;
  assert.equal(typeof error, 'object', `error body has an error object: ${reply.text}`);
  assert.equal(error.code, code, `code: ${reply.text}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0, 'message is not empty');
  return error;
}

/** Asserts a 400 invalid_request whose message names `field`. */
export function expectInvalid(reply: Reply, field: string): Record<string, any> {
  const error = expectError(reply, 400, 'invalid_request');
  assert.ok(String(error.message).includes(field), `message ${JSON.stringify(error.message)} names ${field}`);
  return error;
}

export function expectStatus(reply: Reply, status: number): any {
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.text}`);
  return reply.body;
}

/** Percent-encodes a name for a path segment (`/` becomes `%2F`). */
export const seg = (name: string): string => encodeURIComponent(name);

/** Resolves on the next turn of the event loop, after pending I/O callbacks. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits (bounded) until `name` has `count` queued waiters. */
export async function queuedWaiters(api: Api, name: string, count: number): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if ((api.lockring.machine.locks.byName.get(name)?.waiterCount ?? 0) === count) return;
    await settle();
  }
  throw new Error(`${name} never reached ${count} waiters`);
}
