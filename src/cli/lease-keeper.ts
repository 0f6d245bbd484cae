import { formatDuration } from '../units.js';
import { type ApiClient, describeApiError, segment } from './api-client.js';

/** Why the lease can no longer be trusted. */
export interface LeaseLoss {
  /** `gone`: the server says the lease ended; `unconfirmed`: no keepalive confirmed in time. */
  readonly kind: 'gone' | 'unconfirmed';
  readonly message: string;
}

type RenewResult = 'ok' | 'retry' | LeaseLoss;

/** How soon a keepalive that failed for a transient reason is tried again. */
const retryMsMax = 250;

/**
 * Keeps one lease alive from the client side: a keepalive every TTL/3, and a local
 * deadline that only a confirmed keepalive moves. The deadline is counted from
 * when the keepalive was *sent* (the server counts from when it arrived, which is
 * later), so when it passes the server may already have given the lock away: the
 * lease is reported lost even if the server is merely unreachable.
 */
export class LeaseKeeper {
  readonly intervalMs: number;
  private deadlineMs = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private inFlight: AbortController | null = null;
  private stopped = false;
  private lastProblem = 'none';

  constructor(
    private readonly client: ApiClient,
    readonly leaseId: string,
    readonly ttlMs: number,
    private readonly onLost: (loss: LeaseLoss) => void,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.intervalMs = Math.max(1, Math.floor(ttlMs / 3));
  }

  /** One keepalive before the command starts, so the first deadline is known. */
  async confirm(): Promise<LeaseLoss | null> {
    this.deadlineMs = this.nowMs() + this.ttlMs;
    const result = await this.renew();
    if (result === 'ok') return null;
    if (result === 'retry') return { kind: 'unconfirmed', message: `could not confirm the lease: ${this.lastProblem}` };
    return result;
  }

  /** Starts the keepalive loop and the deadline watchdog. */
  start(): void {
    this.armWatchdog();
    this.schedule(this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.tickTimer !== null) clearTimeout(this.tickTimer);
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.inFlight?.abort();
    this.tickTimer = this.watchdog = this.inFlight = null;
  }

  private schedule(delayMs: number): void {
    this.tickTimer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
  }

  private async tick(): Promise<void> {
    this.tickTimer = null;
    const startedMs = this.nowMs();
    const result = await this.renew();
    if (this.stopped) return;
    if (result === 'ok') {
      this.armWatchdog();
      this.schedule(startedMs + this.intervalMs - this.nowMs());
    } else if (result === 'retry') {
      this.schedule(Math.min(this.intervalMs, retryMsMax));
    } else {
      this.lose(result);
    }
  }

  private async renew(): Promise<RenewResult> {
    const sentMs = this.nowMs();
    const controller = new AbortController();
    this.inFlight = controller;
    // A keepalive answered after the deadline is useless: give up on it then.
    const timeout = setTimeout(() => controller.abort(), Math.max(1, this.deadlineMs - sentMs));
    try {
      const response = await this.client.call<{ ttlMs?: number }>(
        'POST', `/v1/leases/${segment(this.leaseId)}/keepalive`, {}, controller.signal,
      );
      if (response.ok) {
        const ttlMs = typeof response.body.ttlMs === 'number' ? Math.min(response.body.ttlMs, this.ttlMs) : this.ttlMs;
        this.deadlineMs = Math.max(this.deadlineMs, sentMs + ttlMs);
        return 'ok';
      }
      if (response.error.code === 'lease_not_found') {
        return { kind: 'gone', message: `the server no longer has lease ${this.leaseId} (it expired or was revoked)` };
      }
      this.lastProblem = describeApiError(response.error);
      return 'retry';
    } catch (error) {
      this.lastProblem = controller.signal.aborted ? 'keepalive timed out' : error instanceof Error ? error.message : String(error);
      return 'retry';
    } finally {
      clearTimeout(timeout);
      if (this.inFlight === controller) this.inFlight = null;
    }
  }

  private armWatchdog(): void {
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.lose({
        kind: 'unconfirmed',
        message: `no keepalive was confirmed within the lease TTL (${formatDuration(this.ttlMs)}); last problem: ${this.lastProblem}`,
      });
    }, Math.max(0, this.deadlineMs - this.nowMs()));
  }

  private lose(loss: LeaseLoss): void {
    if (this.stopped) return;
    this.stop();
    this.onLost(loss);
  }
}
