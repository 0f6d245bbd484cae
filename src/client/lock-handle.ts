import type { Grant, LockMode } from '../protocol/wire.js';
import { LockLostError, type LostReason, asClientError } from './errors.js';

/**
 * A held lock (or semaphore permit): the grant (`token` is the fencing token: pass it
 * to the resource with every write) without `expiresAt`, which only the server's clock
 * can make sense of; `remainingMs()` is the client's view.
 */
export interface LockHandle extends Omit<Grant, 'expiresAt'> {
  /**
   * Fires the moment the lock may no longer be held (its `reason` is a
   * LockLostError): the server said the lease ended, a keepalive was refused, or the
   * local deadline passed without a confirmed keepalive, whichever comes first. The
   * deadline is counted from when the last confirmed keepalive was *sent*, minus a
   * safety margin, so it passes before the server can grant the lock to anyone else.
   */
  readonly signal: AbortSignal;
  /** Milliseconds until the local deadline; 0 once the lock is lost. */
  remainingMs(): number;
  /**
   * Calls `listener` when a higher-priority waiter asks this hold to yield (the
   * server's `yield_requested` push): release before the grace runs out, or the
   * server ends the hold then and `signal` fires with reason `preempted`. A listener
   * added after the request came is called at once. Returns a function that removes it.
   */
  onYieldRequested(listener: (notice: YieldNotice) => void): () => void;
  /** The yield request this hold got, if any. */
  readonly yieldRequest: YieldNotice | null;
  /** Releases the lock (fires `signal` with reason `released`). Idempotent. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A request to yield, as the `yield_requested` push told it. */
export interface YieldNotice {
  /** The grace the waiter gave, in milliseconds. */
  readonly graceMs: number;
  /** When the server ends the hold unless released first, Unix epoch ms (the server's clock). */
  readonly yieldBy: number;
}

export interface HoldDeps {
  /** Renews the lease; resolves when the server confirmed it. */
  keepalive(leaseId: string, timeoutMs: number): Promise<unknown>;
  release(name: string, token: number): Promise<unknown>;
  /** The hold stopped (lost or released): forget it. */
  ended(hold: Hold): void;
}

export interface HoldTiming {
  /**
   * Monotonic time the acquire was sent: the server's lease started no earlier. When
   * the grant came later than the first keepalive is due (it waited in line), the
   * hold renews the lease before it is `ready`, and counts its deadline from that.
   */
  readonly sentAtMs: number;
  /** Renew at this interval (a third of the TTL by default); 0: no keepalive. */
  readonly keepaliveEveryMs: number;
  /** The local deadline comes this much before the earliest moment the server may expire. */
  readonly safetyMarginMs: number;
}

const now = (): number => performance.now();

/** The default margin: 5% of the TTL, at least 10 ms, at most 2 s. */
export function defaultSafetyMarginMs(ttlMs: number): number {
  return Math.min(2_000, Math.max(10, Math.floor(ttlMs / 20)));
}

/**
 * A lock handle that keeps its lease alive. Every confirmed keepalive moves the local
 * deadline to (its send time + TTL - margin): the server set its own deadline when it
 * received the keepalive, later, so the holder always stops first. A keepalive that
 * fails for a transport reason is retried until the deadline; one refused with
 * `lease_not_found` ends the hold at once.
 *
 * A lease granted to a waiter starts at the grant, some unknown time after the
 * acquire was sent: counted from the send, a wait longer than the TTL would leave a
 * deadline long gone. So a late grant is renewed first (see `ready`), and its
 * deadline counts from that keepalive.
 */
export class Hold implements LockHandle {
  readonly name: string;
  readonly token: number;
  readonly leaseId: string;
  readonly owner: string;
  readonly limit: number;
  readonly mode: LockMode;
  readonly ttlMs: number;
  readonly maxHoldMs?: number;
  readonly priority?: number;
  yieldRequest: YieldNotice | null = null;
  private readonly yieldListeners = new Set<(notice: YieldNotice) => void>();
  /** The local end of a hold asked to yield: the grace from the push's arrival, less the margin. */
  private yieldEndMs = Infinity;
  private yieldTimer: NodeJS.Timeout | null = null;
  private readonly controller = new AbortController();
  private deadlineMs: number;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  /** A bounded hold's local end: maxHoldMs from the acquire's send, less the margin. */
  private readonly maxHoldEndMs: number;
  private maxHoldTimer: NodeJS.Timeout | null = null;
  /** False while a late grant's first renewal is out: no deadline counts yet. */
  private armed = false;
  /** The latest keepalive failure since the last confirmed one. */
  private failure: unknown = undefined;
  private releasing: Promise<void> | null = null;
  /** Settles when the hold may be handed out: at once, or after a late grant's first renewal. */
  readonly ready: Promise<void>;

  constructor(
    grant: Grant,
    private readonly timing: HoldTiming,
    private readonly deps: HoldDeps,
  ) {
    this.name = grant.name;
    this.token = grant.token;
    this.leaseId = grant.leaseId;
    this.owner = grant.owner;
    this.limit = grant.limit;
    // A server from before read-write locks sends no mode: its holds are all exclusive.
    this.mode = grant.mode ?? 'write';
    this.ttlMs = grant.ttlMs;
    if (grant.maxHoldMs !== undefined) this.maxHoldMs = grant.maxHoldMs;
    if (grant.priority !== undefined) this.priority = grant.priority;
    this.deadlineMs = timing.sentAtMs + grant.ttlMs - timing.safetyMarginMs;
    // The server counts maxHoldMs from its grant, which came after the send: the holder
    // stops first. (A grant that waited in line loses the time it waited.)
    this.maxHoldEndMs = grant.maxHoldMs === undefined ? Infinity : timing.sentAtMs + grant.maxHoldMs - timing.safetyMarginMs;
    if (grant.maxHoldMs !== undefined) {
      this.maxHoldTimer = setTimeout(() => this.lose('max_hold'), Math.max(0, this.maxHoldEndMs - now()));
      this.maxHoldTimer.unref();
    }
    const late = timing.keepaliveEveryMs > 0 && now() >= timing.sentAtMs + timing.keepaliveEveryMs;
    if (late) {
      this.ready = this.renew();
      return;
    }
    this.ready = Promise.resolve();
    this.armDeadline();
    if (timing.keepaliveEveryMs > 0) this.scheduleKeepalive(timing.sentAtMs + timing.keepaliveEveryMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.controller.signal.aborted;
  }

  remainingMs(): number {
    return this.lost ? 0 : Math.max(0, Math.min(this.deadlineMs, this.maxHoldEndMs, this.yieldEndMs) - now());
  }

  onYieldRequested(listener: (notice: YieldNotice) => void): () => void {
    if (this.yieldRequest !== null) listener(this.yieldRequest);
    else this.yieldListeners.add(listener);
    return () => this.yieldListeners.delete(listener);
  }

  /** The server's `yield_requested` push: the first one counts, as on the server. */
  yieldRequested(notice: YieldNotice): void {
    if (this.lost || this.yieldRequest !== null) return;
    this.yieldRequest = notice;
    // The server counted the grace from its request, before the push left: stop first.
    this.yieldEndMs = now() + notice.graceMs - this.timing.safetyMarginMs;
    this.yieldTimer = setTimeout(() => this.lose('preempted'), Math.max(0, this.yieldEndMs - now()));
    this.yieldTimer.unref();
    for (const listener of [...this.yieldListeners]) listener(notice);
    this.yieldListeners.clear();
  }

  /** Ends the hold locally; the signal fires with `reason` (and `cause`, see LockLostError). */
  lose(reason: LostReason, cause?: unknown): void {
    if (this.lost) return;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    if (this.maxHoldTimer !== null) clearTimeout(this.maxHoldTimer);
    if (this.yieldTimer !== null) clearTimeout(this.yieldTimer);
    this.deadlineTimer = this.keepaliveTimer = this.maxHoldTimer = this.yieldTimer = null;
    this.yieldListeners.clear();
    const lock = { name: this.name, token: this.token, leaseId: this.leaseId };
    this.controller.abort(new LockLostError(reason, lock, cause === undefined ? undefined : { cause }));
    this.deps.ended(this);
    // Unconfirmed is not gone: a keepalive may merely be late, and the server may still
    // count the hold. The holder has stopped, so hand it back now rather than at expiry.
    if (reason === 'deadline' || reason === 'max_hold' || reason === 'preempted') this.release().catch(() => {});
  }

  release(): Promise<void> {
    this.releasing ??= this.releaseOnce();
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  private async releaseOnce(): Promise<void> {
    const wasLost = this.lost;
    this.lose('released');
    try {
      await this.deps.release(this.name, this.token);
    } catch (error) {
      const code = asClientError(error).code;
      // Already gone on the server: released is what the caller wanted.
      if (code === 'not_holder' || code === 'lease_not_found') return;
      if (wasLost && asClientError(error).transport) return;
      throw error;
    }
  }

  private armDeadline(): void {
    this.armed = true;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    // Already past (a late grant whose renewal failed): lost before it is handed out.
    if (this.deadlineMs <= now()) {
      this.lose('deadline', this.failure);
      return;
    }
    this.deadlineTimer = setTimeout(() => this.lose('deadline', this.failure), this.deadlineMs - now());
    this.deadlineTimer.unref();
  }

  private scheduleKeepalive(atMs: number): void {
    if (this.lost) return;
    this.keepaliveTimer = setTimeout(() => void this.renew(), Math.max(0, atMs - now()));
    this.keepaliveTimer.unref();
  }

  private async renew(): Promise<void> {
    this.keepaliveTimer = null;
    if (this.lost) return;
    const sentAtMs = now();
    const extendsToMs = sentAtMs + this.ttlMs - this.timing.safetyMarginMs;
    try {
      // Waiting past the deadline is pointless: by then the hold is lost anyway.
      await this.deps.keepalive(this.leaseId, Math.max(1, Math.ceil((this.armed ? this.deadlineMs : extendsToMs) - sentAtMs)));
    } catch (error) {
      if (this.lost) return;
      if (asClientError(error).code === 'lease_not_found') {
        this.lose('keepalive_failed', error);
        return;
      }
      this.failure = error;
      // A late grant's first renewal failed: the deadline counts from the acquire.
      if (!this.armed) this.armDeadline();
      // No answer (or a refusal that may pass): try again soon, until the deadline.
      this.scheduleKeepalive(now() + Math.min(1_000, Math.max(10, this.timing.keepaliveEveryMs / 4)));
      return;
    }
    if (this.lost) return;
    this.failure = undefined;
    this.deadlineMs = Math.max(this.deadlineMs, extendsToMs);
    this.armDeadline();
    this.scheduleKeepalive(sentAtMs + this.timing.keepaliveEveryMs);
  }
}
