import type { Static } from 'typebox';
import { LockringError, invalid } from '../domain/errors.js';
import { leaseNotFound } from '../domain/leases.js';
import type { Grant } from '../domain/model.js';
import { keyField, nameParam, ownerField } from '../http/validation.js';
import type { Limits } from '../limits.js';
import type { Durable, LockringService } from '../service.js';
import type { LeaseAudience, Listener, NoticeSocket, Session } from './lease-audience.js';
import { type FrameSchemas, type OpName, type OpResults, type Request, type RequestId, isRequestId } from './protocol.js';
import type { WatchTarget } from './watch-registry.js';

/** What an op may ask of the socket it came on. */
export interface OpSocket extends NoticeSocket {
  readonly closed: boolean;
  readonly session: Session | null;
  /** The session if there is one, else the socket itself. */
  readonly listener: Listener;
  setSession(session: Session): void;
  addWatch(target: WatchTarget): number;
  removeWatch(watchId: number): boolean;
  /** A signal for a waiting acquire: fires when the socket closes or `cancel` names it. */
  waitSignal(requestId: RequestId | null): { signal: AbortSignal; done(): void };
  cancel(requestId: RequestId): boolean;
}

export interface OpDeps {
  readonly service: LockringService;
  readonly limits: Limits;
  readonly audience: LeaseAudience;
}

type Args<Op extends OpName> = Static<FrameSchemas[Op]>;
type Handler<Op extends OpName> = (socket: OpSocket, args: Args<Op>, id: RequestId | null) => Durable<OpResults[Op]>;

/**
 * Each op of the protocol in terms of the shared service: the same commands, the
 * same checks and errors as HTTP. What is WebSocket-only (sessions, who hears about
 * a lease's end, watches) is recorded here as each command succeeds.
 */
export class Operations {
  private readonly handlers: { [Op in OpName]: Handler<Op> };

  constructor(private readonly deps: OpDeps) {
    const { service, limits, audience } = deps;
    const heard = <T>(socket: OpSocket, leaseId: string, value: T): T => {
      audience.listen(socket.listener, leaseId);
      return value;
    };
    this.handlers = {
      'session.open': (socket, args) => this.openSession(socket, args.ttlMs),
      'session.resume': (socket, args) => this.resumeSession(socket, args.leaseId),
      'lease.grant': (socket, args) =>
        mapDurable(service.grantLease(args.ttlMs), (lease) => heard(socket, lease.id, leaseResult(lease))),
      'lease.keepalive': (socket, args) => {
        const lease = service.keepalive(args.leaseId, args.ttlMs);
        return heard(socket, lease.id, leaseResult(lease));
      },
      'lease.revoke': (_socket, args) =>
        mapDurable(service.revokeLease(args.leaseId), ({ id, released, removed }) => ({ leaseId: id, released, removed })),
      'lock.acquire': (socket, args, id) => this.acquire(socket, args, id),
      'lock.release': (_socket, args) => service.release(nameParam('name', args.name, limits), args.token),
      'lock.check': (_socket, args) => service.check(nameParam('name', args.name, limits), args.token),
      'ring.lookup': (_socket, args) => this.lookup(args),
      watch: (socket, args) => ({ watchId: socket.addWatch(watchTarget(args, limits)) }),
      unwatch: (socket, args) => {
        if (!socket.removeWatch(args.watchId)) {
          throw invalid(`watchId ${args.watchId} is not a watch of this socket`, { field: 'watchId' });
        }
        return {};
      },
      cancel: (socket, args) => {
        if (!isRequestId(args.requestId) || args.requestId === null) {
          throw invalid('requestId must be the id (integer or string) of a waiting lock.acquire', { field: 'requestId' });
        }
        return { cancelled: socket.cancel(args.requestId) };
      },
    };
  }

  run(socket: OpSocket, request: Request): Durable<object> {
    const handler = this.handlers[request.op] as Handler<OpName>;
    return handler(socket, request.args, request.id);
  }

  private openSession(socket: OpSocket, ttlMs: number): Durable<OpResults['session.open']> {
    if (socket.session !== null) {
      throw invalid(`this socket already has session ${JSON.stringify(socket.session.leaseId)}`, { field: 'op' });
    }
    return mapDurable(this.deps.service.openSession(ttlMs), (lease) => {
      if (socket.closed || socket.session !== null) {
        // The socket went away (or opened another) while the log was written.
        this.deps.service.detachSession(lease.id);
        throw invalid('the socket closed while the session was opening', { field: 'op' });
      }
      socket.setSession(this.deps.audience.open(lease.id, lease.ttlMs, socket));
      return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: null };
    });
  }

  private resumeSession(socket: OpSocket, leaseId: string): OpResults['session.resume'] {
    const { service, audience } = this.deps;
    const current = socket.session;
    if (current !== null && current.leaseId !== leaseId) {
      throw invalid(`this socket already has session ${JSON.stringify(current.leaseId)}`, { field: 'leaseId' });
    }
    const ended = audience.takeEnded(leaseId);
    if (ended !== undefined) {
      // Tell a late client what it lost before saying the session is gone.
      for (const text of ended) socket.sendText(text);
      throw leaseNotFound(leaseId);
    }
    const lease = service.attachSession(leaseId);
    if (current === null) socket.setSession(audience.resume(lease.id, lease.ttlMs, socket));
    return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: null };
  }

  private acquire(socket: OpSocket, args: Args<'lock.acquire'>, id: RequestId | null): Durable<Grant> {
    const { service, limits, audience } = this.deps;
    const { id: _id, op: _op, ...body } = args;
    const request = { ...body, name: nameParam('name', args.name, limits), owner: ownerField(args.owner, limits) };
    const listen = (grant: Grant): Grant => {
      // Granted after the socket closed: nobody to tell; the hold's lease runs out.
      if (!socket.closed) audience.listen(socket.listener, grant.leaseId);
      return grant;
    };
    if ((args.waitMs ?? 0) === 0) return mapDurable(service.acquire(request), listen);
    const wait = socket.waitSignal(id);
    let result: Promise<Grant> | Grant;
    try {
      result = service.acquire(request, wait.signal);
    } catch (error) {
      wait.done();
      throw error;
    }
    if (!(result instanceof Promise)) {
      wait.done();
      return listen(result);
    }
    return result.then(
      (grant) => {
        wait.done();
        return listen(grant);
      },
      (error: unknown) => {
        wait.done();
        if (wait.signal.aborted && wait.signal.reason === 'cancel') {
          throw invalid('lock.acquire was cancelled by the client', { field: 'requestId' });
        }
        throw error;
      },
    );
  }

  private lookup(args: Args<'ring.lookup'>): OpResults['ring.lookup'] {
    const { service, limits } = this.deps;
    const ring = nameParam('ring', args.ring, limits);
    const n = args.n ?? 1;
    if ((args.key === undefined) === (args.keys === undefined)) {
      throw invalid('exactly one of key and keys is required', { field: 'key' });
    }
    if (args.key !== undefined) {
      keyField('key', args.key, limits);
      const result = service.lookup(ring, [args.key], n, args.version);
      return { ring: result.ring, version: result.version, key: args.key, nodes: result.nodes[0]! };
    }
    const keys = args.keys!;
    if (keys.length > limits.batchKeysMax) {
      throw new LockringError('payload_too_large', `keys must hold at most ${limits.batchKeysMax} keys`, {
        field: 'keys', limit: 'batchKeysMax', max: limits.batchKeysMax,
      });
    }
    for (let i = 0; i < keys.length; i++) keyField(`keys.${i}`, keys[i]!, limits);
    return service.lookup(ring, keys, n, args.version);
  }
}

function watchTarget(args: Args<'watch'>, limits: Limits): WatchTarget {
  const { topic, name, prefix, ring } = args;
  if (topic === 'lock') {
    if (ring !== undefined) throw invalid('a lock watch takes name or prefix, not ring', { field: 'ring' });
    if ((name === undefined) === (prefix === undefined)) {
      throw invalid('a lock watch takes exactly one of name and prefix', { field: 'name' });
    }
    if (name !== undefined) return { topic, name: nameParam('name', name, limits) };
    return { topic, prefix: prefix === '' ? '' : nameParam('prefix', prefix!, limits) };
  }
  if (topic === 'ring') {
    if (name !== undefined || prefix !== undefined) {
      throw invalid('a ring watch takes ring, not name or prefix', { field: name !== undefined ? 'name' : 'prefix' });
    }
    if (ring === undefined) throw invalid('ring is required', { field: 'ring' });
    return { topic, ring: nameParam('ring', ring, limits) };
  }
  throw invalid('topic must be "lock" or "ring"', { field: 'topic' });
}

function leaseResult(lease: { id: string; ttlMs: number; expiresAt: number | null }): OpResults['lease.grant'] {
  return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: lease.expiresAt };
}

/** Maps a durable result without adding a promise when there was none. */
function mapDurable<T, U>(value: Durable<T>, map: (value: T) => U): Durable<U> {
  return value instanceof Promise ? value.then(map) : map(value);
}
