import type { DomainEvent, YieldRequestedEvent } from '../domain/events.js';

/**
 * Who hears that a lease ended. A socket that created a lease (`lease.grant`,
 * `session.open`, `lock.acquire` with `ttlMs`), kept it alive, acquired on it or
 * resumed it becomes one of its listeners; when the lease expires or is revoked each
 * listener gets one `lease_expired` push, at that moment (it is driven by the
 * domain event).
 *
 * A socket with a session listens through its session, so what it listens to
 * outlives the socket: after a reconnect, `session.resume` hands it all to the new
 * socket; the socket it was taken from, if still open, keeps listening on its own to
 * what the session listened to then. Notices that come while a session has no socket
 * wait in its mailbox and are pushed on resume; when the session lease itself ends without a socket, its
 * mailbox is kept (for the last `endedSessionsRemembered` sessions) and pushed to a
 * socket that tries to resume it, just before the `lease_not_found` reply.
 */

/** Notices kept for one session while it has no socket; older ones are dropped past this. */
export const sessionNoticesMax = 1_024;
/** Ended sessions whose undelivered notices are kept for a late resume. */
export const endedSessionsRemembered = 1_000;

/** Something that listens to leases: a bare socket, or a session. */
export interface Listener {
  readonly listening: Set<string>;
  notify(text: string): void;
}

/** A socket as the audience sees it. */
export interface NoticeSocket extends Listener {
  sendText(text: string): void;
  /** Called when the socket's session ends (revoked) or is taken by another socket. */
  sessionGone(session: Session): void;
}

/**
 * Who listens to one lease: the listener itself while there is one (a lock acquired
 * with ttlMs, the common case: no Set per lease), a Set once a second one joins.
 */
type Hearers = Listener | Set<Listener>;

function listenersOf(hearers: Hearers): Iterable<Listener> {
  return hearers instanceof Set ? hearers : [hearers];
}

export class Session implements Listener {
  readonly listening = new Set<string>();
  readonly mailbox: string[] = [];

  constructor(
    readonly leaseId: string,
    readonly ttlMs: number,
    public socket: NoticeSocket | null,
    /** The auth token's name that owns the session lease (auth on). */
    readonly principal?: string,
  ) {}

  notify(text: string): void {
    if (this.socket !== null) {
      this.socket.sendText(text);
      return;
    }
    if (this.mailbox.length >= sessionNoticesMax) this.mailbox.shift();
    this.mailbox.push(text);
  }
}

export class LeaseAudience {
  private readonly listeners = new Map<string, Hearers>();
  private readonly sessions = new Map<string, Session>();
  private readonly ended = new Map<string, { readonly principal: string | undefined; readonly notices: string[] }>();

  /** `listener` hears when `leaseId` ends. */
  listen(listener: Listener, leaseId: string): void {
    if (listener.listening.has(leaseId)) return;
    const hearers = this.listeners.get(leaseId);
    if (hearers === undefined) this.listeners.set(leaseId, listener);
    else if (hearers instanceof Set) hearers.add(listener);
    else this.listeners.set(leaseId, new Set([hearers, listener]));
    listener.listening.add(leaseId);
  }

  /** `listener` (a socket without session that closed) hears nothing more. */
  forget(listener: Listener): void {
    for (const leaseId of listener.listening) this.unlisten(listener, leaseId);
    listener.listening.clear();
  }

  /** A new session on `socket`; what the socket listened to passes to the session. */
  open(leaseId: string, ttlMs: number, socket: NoticeSocket, principal?: string): Session {
    const session = new Session(leaseId, ttlMs, socket, principal);
    this.sessions.set(leaseId, session);
    this.move(socket, session);
    this.listen(session, leaseId);
    return session;
  }

  /**
   * `socket` takes session `leaseId` (from another socket, or none); its mailbox is
   * pushed to it. A session the server does not know yet (recovered after a
   * restart) starts empty.
   */
  resume(leaseId: string, ttlMs: number, socket: NoticeSocket, principal?: string): Session {
    let session = this.sessions.get(leaseId);
    if (session === undefined) {
      session = new Session(leaseId, ttlMs, null, principal);
      this.sessions.set(leaseId, session);
      this.listen(session, leaseId);
    }
    const previous = session.socket;
    session.socket = socket;
    if (previous !== null && previous !== socket) {
      // The socket it is taken from may stay open: it created or kept alive what the
      // session listens to (the session lease first), so it goes on hearing when those
      // leases end, on its own, as any socket without a session.
      for (const leaseId of session.listening) this.listen(previous, leaseId);
      previous.sessionGone(session);
    }
    this.move(socket, session);
    for (const text of session.mailbox.splice(0)) socket.sendText(text);
    return session;
  }

  /** The session's socket went away: notices now wait in its mailbox. */
  detach(session: Session): void {
    session.socket = null;
  }

  /**
   * Notices left by an ended session, once (for a socket trying to resume it), if
   * `mayTake` accepts the session's owner: another token's notices stay where they are.
   */
  takeEnded(leaseId: string, mayTake: (principal: string | undefined) => boolean = () => true): string[] | undefined {
    const ended = this.ended.get(leaseId);
    if (ended === undefined || !mayTake(ended.principal)) return undefined;
    this.ended.delete(leaseId);
    return ended.notices;
  }

  /** True when some socket or session may need to hear about this lease. */
  concerns(leaseId: string): boolean {
    // Sizes first: a lookup hashes the id, which reads a string that nothing else on an
    // expiry touches (a cold cache line per lease in a storm) when no socket listens at all.
    return (this.listeners.size > 0 && this.listeners.has(leaseId)) || (this.sessions.size > 0 && this.sessions.has(leaseId));
  }

  /** A hold ended while its lease lives on (max_hold, preempted): everyone who hears about its lease is told. */
  holdEnded(event: Extract<DomainEvent, { type: 'lock_released' }>): void {
    this.tell(event.leaseId, { event: 'hold_ended', leaseId: event.leaseId, name: event.name, token: event.token, reason: event.reason });
  }

  /** A higher-priority waiter asked a hold to yield: everyone who hears about its lease is told. */
  yieldRequested(event: YieldRequestedEvent): void {
    const { leaseId, name, token, graceMs } = event;
    this.tell(leaseId, { event: 'yield_requested', leaseId, name, token, graceMs, yieldBy: event.yieldByWallMs });
  }

  private tell(leaseId: string, push: Readonly<Record<string, unknown>>): void {
    const hearers = this.listeners.get(leaseId);
    if (hearers === undefined) return;
    const notice = JSON.stringify(push);
    for (const listener of listenersOf(hearers)) listener.notify(notice);
  }

  leaseEnded(event: Extract<DomainEvent, { type: 'lease_ended' }>): void {
    const hearers = this.listeners.get(event.leaseId);
    this.listeners.delete(event.leaseId);
    if (hearers !== undefined) {
      // A hold's own lease ended by releasing that hold: its holder knows. Holds other
      // sockets took on it with its leaseId end with it, and they must be told.
      const notice = event.reason === 'released' && event.released.length === 0 ? null : JSON.stringify({
        event: 'lease_expired', leaseId: event.leaseId, reason: event.reason === 'released' ? 'revoked' : event.reason, released: event.released,
      });
      for (const listener of listenersOf(hearers)) {
        listener.listening.delete(event.leaseId);
        if (notice !== null) listener.notify(notice);
      }
    }
    const session = this.sessions.get(event.leaseId);
    if (session !== undefined) this.endSession(session);
  }

  private endSession(session: Session): void {
    this.sessions.delete(session.leaseId);
    const socket = session.socket;
    if (socket !== null) {
      // Revoked under a live socket: the socket keeps listening on its own.
      session.socket = null;
      this.move(session, socket);
      socket.sessionGone(session);
      return;
    }
    for (const leaseId of session.listening) this.unlisten(session, leaseId);
    session.listening.clear();
    if (session.mailbox.length === 0) return;
    if (this.ended.size >= endedSessionsRemembered) this.ended.delete(this.ended.keys().next().value!);
    this.ended.set(session.leaseId, { principal: session.principal, notices: session.mailbox });
  }

  /** Hands what `from` listens to over to `to`. */
  move(from: Listener, to: Listener): void {
    for (const leaseId of from.listening) {
      this.unlisten(from, leaseId);
      this.listen(to, leaseId);
    }
    from.listening.clear();
  }

  private unlisten(listener: Listener, leaseId: string): void {
    const hearers = this.listeners.get(leaseId);
    if (hearers === undefined) return;
    if (!(hearers instanceof Set)) {
      if (hearers === listener) this.listeners.delete(leaseId);
      return;
    }
    hearers.delete(listener);
    if (hearers.size === 0) this.listeners.delete(leaseId);
  }
}
