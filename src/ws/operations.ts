import type { Static } from 'typebox';
import { type Caller, authorize, ownsLease } from '../auth/access.js';
import { LockringError, invalid } from '../domain/errors.js';
import { leaseNotFound } from '../domain/leases.js';
import type { Grant, MultiGrant, Waiter, WaiterGroup } from '../domain/model.js';
import { keyField, nameParam, ownerField } from '../protocol/validation.js';
import type { Limits } from '../limits.js';
import { diffRequest, handoverLookupOne, ringDiff } from '../ring-reads.js';
import type { Durable, LockringService } from '../service.js';
import type { LeaseAudience, Listener, NoticeSocket, Session } from './lease-audience.js';
import { type FrameSchemas, type OpName, type OpResults, type Request, type RequestId, isRequestId } from './protocol.js';
import type { QueuePositions } from './queue-positions.js';
import { type WatchTarget, authorizeWatch, parseWatchTarget } from '../watch/watch-target.js';

/** What an op may ask of the socket it came on. */
export interface OpSocket extends NoticeSocket {
  readonly closed: boolean;
  readonly session: Session | null;
  /** The session if there is one, else the socket itself. */
  readonly listener: Listener;
  setSession(session: Session): void;
  /** Checks a token (the `auth` op) and makes it this socket's identity; throws 401. */
  authenticate(token: string): OpResults['auth'];
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
  readonly positions: QueuePositions;
}

type Args<Op extends OpName> = Static<FrameSchemas[Op]>;
type Handler<Op extends OpName> = (socket: OpSocket, args: Args<Op>, id: RequestId | null, caller: Caller) => Durable<OpResults[Op]>;

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
      'session.open': (socket, args, _id, caller) => this.openSession(socket, args.ttlMs, caller),
      'session.resume': (socket, args, _id, caller) => this.resumeSession(socket, args.leaseId, caller),
      'lease.grant': (socket, args, _id, caller) =>
        mapDurable(service.grantLease(args.ttlMs, caller), (lease) => heard(socket, lease.id, leaseResult(lease))),
      'lease.keepalive': (socket, args, _id, caller) =>
        mapDurable(service.keepalive(args.leaseId, args.ttlMs, caller), (lease) => heard(socket, lease.id, leaseResult(lease))),
      'lease.revoke': (_socket, args, _id, caller) =>
        mapDurable(service.revokeLease(args.leaseId, caller), ({ id, released, removed }) => ({ leaseId: id, released, removed })),
      'lock.acquire': (socket, args, id, caller) => this.acquire(socket, args, id, caller),
      'lock.release': (_socket, args, _id, caller) => service.release(nameParam('name', args.name, limits), args.token, caller),
      'lock.check': (_socket, args, _id, caller) => service.check(nameParam('name', args.name, limits), args.token, caller, args.mode),
      'multilock.acquire': (socket, args, id, caller) => this.acquireAll(socket, args, id, caller),
      'multilock.release': (_socket, args, _id, caller) => service.releaseAll(args.holds, caller),
      'ring.lookup': (_socket, args, _id, caller) => this.lookup(args, caller),
      'ring.diff': (_socket, args, _id, caller) => ringDiff(service, nameParam('ring', args.ring, limits), diffRequest(limits, args), caller),
      watch: (socket, args, _id, caller) => {
        const target = parseWatchTarget(args, limits);
        authorizeWatch(caller, target);
        return { watchId: socket.addWatch(target) };
      },
      unwatch: (socket, args) => {
        if (!socket.removeWatch(args.watchId)) {
          throw invalid(`watchId ${args.watchId} is not a watch of this socket`, { field: 'watchId' });
        }
        return {};
      },
      cancel: (socket, args) => {
        if (!isRequestId(args.requestId) || args.requestId === null) {
          throw invalid('requestId must be the id (integer or string) of a waiting lock.acquire or multilock.acquire', { field: 'requestId' });
        }
        return { cancelled: socket.cancel(args.requestId) };
      },
      auth: (socket, args) => socket.authenticate(args.token),
    };
  }

  /** Runs one request as `caller` (null without auth; the connection resolved it). */
  run(socket: OpSocket, request: Request, caller: Caller): Durable<object> {
    const handler = this.handlers[request.op] as Handler<OpName>;
    return handler(socket, request.args, request.id, caller);
  }

  private openSession(socket: OpSocket, ttlMs: number, caller: Caller): Durable<OpResults['session.open']> {
    if (socket.session !== null) {
      throw invalid(`this socket already has session ${JSON.stringify(socket.session.leaseId)}`, { field: 'op' });
    }
    return mapDurable(this.deps.service.openSession(ttlMs, caller), (lease) => {
      if (socket.closed || socket.session !== null) {
        // The socket went away (or opened another) while the log was written.
        this.deps.service.detachSession(lease.id);
        throw invalid('the socket closed while the session was opening', { field: 'op' });
      }
      socket.setSession(this.deps.audience.open(lease.id, lease.ttlMs, socket, lease.principal));
      return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: null };
    });
  }

  private resumeSession(socket: OpSocket, leaseId: string, caller: Caller): Durable<OpResults['session.resume']> {
    const { service, audience } = this.deps;
    const current = socket.session;
    if (current !== null && current.leaseId !== leaseId) {
      throw invalid(`this socket already has session ${JSON.stringify(current.leaseId)}`, { field: 'leaseId' });
    }
    authorize(caller, 'lease.write');
    // Another token's lost-lock notices stay put: to it the session simply does not exist.
    const ended = audience.takeEnded(leaseId, (owner) => ownsLease(caller, owner));
    if (ended !== undefined) {
      // Tell a late client what it lost before saying the session is gone.
      for (const text of ended) socket.sendText(text);
      throw leaseNotFound(leaseId);
    }
    return mapDurable(service.attachSession(leaseId, caller), (lease) => {
      if (current === null) socket.setSession(audience.resume(lease.id, lease.ttlMs, socket, lease.principal));
      return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: null };
    });
  }

  private acquire(socket: OpSocket, args: Args<'lock.acquire'>, id: RequestId | null, caller: Caller): Durable<Grant> {
    const { service, limits } = this.deps;
    const { id: _id, op: _op, positions, ...body } = args;
    const request = { ...body, name: nameParam('name', args.name, limits), owner: ownerField(args.owner, limits) };
    // Ended just before the reply is sent: no position push comes after it.
    let unfollow: (() => void) | null = null;
    const follow = positions === true
      ? (waiter: Waiter): void => {
        unfollow = this.deps.positions.follow(waiter, id, socket);
      }
      : undefined;
    return this.waiting(socket, id, 'lock.acquire', args.waitMs, (signal) => service.acquire(request, signal, caller, follow), () => unfollow?.());
  }

  private acquireAll(socket: OpSocket, args: Args<'multilock.acquire'>, id: RequestId | null, caller: Caller): Durable<MultiGrant> {
    const { service, limits } = this.deps;
    const { id: _id, op: _op, positions, ...body } = args;
    const request = { ...body, owner: ownerField(args.owner, limits) };
    // One place per name: each of its queues is followed, and pushes its own position.
    const unfollows: (() => void)[] = [];
    const follow = positions === true
      ? (group: WaiterGroup): void => {
        for (const member of group.members) unfollows.push(this.deps.positions.follow(member, id, socket));
      }
      : undefined;
    const settled = (): void => {
      for (const unfollow of unfollows) unfollow();
    };
    return this.waiting(socket, id, 'multilock.acquire', args.waitMs, (signal) => service.acquireAll(request, signal, caller, follow), settled);
  }

  /**
   * An acquire that may wait: `cancel` or the socket's close gives it up; once
   * granted, this socket hears of the end of its lease (pushes). `settled` runs
   * just before the reply is sent.
   */
  private waiting<T extends { readonly leaseId: string }>(
    socket: OpSocket,
    id: RequestId | null,
    op: string,
    waitMs: number | undefined,
    acquire: (signal: AbortSignal | undefined) => Durable<T>,
    settled?: () => void,
  ): Durable<T> {
    const { audience } = this.deps;
    const listen = (granted: T): T => {
      // Granted after the socket closed: nobody to tell; the hold's lease runs out.
      if (!socket.closed) audience.listen(socket.listener, granted.leaseId);
      return granted;
    };
    if ((waitMs ?? 0) === 0) return mapDurable(acquire(undefined), listen);
    const wait = socket.waitSignal(id);
    const done = (): void => {
      wait.done();
      settled?.();
    };
    let result: Durable<T>;
    try {
      result = acquire(wait.signal);
    } catch (error) {
      done();
      throw error;
    }
    if (!(result instanceof Promise)) {
      done();
      return listen(result);
    }
    return result.then(
      (granted) => {
        done();
        return listen(granted);
      },
      (error: unknown) => {
        done();
        if (wait.signal.aborted && wait.signal.reason === 'cancel') {
          throw invalid(`${op} was cancelled by the client`, { field: 'requestId' });
        }
        throw error;
      },
    );
  }

  private lookup(args: Args<'ring.lookup'>, caller: Caller): Durable<OpResults['ring.lookup']> {
    const { service, limits } = this.deps;
    const ring = nameParam('ring', args.ring, limits);
    const n = args.n ?? 1;
    if ((args.key === undefined) === (args.keys === undefined)) {
      throw invalid('exactly one of key and keys is required', { field: 'key' });
    }
    if (args.key !== undefined) {
      keyField('key', args.key, limits);
      return handoverLookupOne(service, ring, args.key, n, args.version, args.previous, caller);
    }
    const keys = args.keys!;
    if (keys.length > limits.batchKeysMax) {
      throw new LockringError('payload_too_large', `keys must hold at most ${limits.batchKeysMax} keys`, {
        field: 'keys', limit: 'batchKeysMax', max: limits.batchKeysMax,
      });
    }
    for (let i = 0; i < keys.length; i++) keyField(`keys.${i}`, keys[i]!, limits);
    return service.lookup(ring, keys, n, args.version, caller, args.previous);
  }
}

function leaseResult(lease: { id: string; ttlMs: number; expiresAt: number | null }): OpResults['lease.grant'] {
  return { leaseId: lease.id, ttlMs: lease.ttlMs, expiresAt: lease.expiresAt };
}

/** Maps a durable result without adding a promise when there was none. */
function mapDurable<T, U>(value: Durable<T>, map: (value: T) => U): Durable<U> {
  return value instanceof Promise ? value.then(map) : map(value);
}
