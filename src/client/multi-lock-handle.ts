import type { HoldRef } from '../protocol/wire.js';
import { asClientError } from './errors.js';
import type { Hold, LockHandle } from './lock-handle.js';

/**
 * Several names held together (`acquireAll`): one lease, a handle (and fencing token)
 * per name, in the order asked. `signal` fires the moment any of them may be lost
 * (its reason is that hold's LockLostError); `release()` gives back every hold still
 * held in one request, all or none on the server.
 */
export interface MultiLockHandle {
  readonly leaseId: string;
  /** One handle per name, in request order; each may be released on its own. */
  readonly holds: readonly LockHandle[];
  readonly signal: AbortSignal;
  /** Milliseconds until the first local deadline among the holds; 0 once one is lost. */
  remainingMs(): number;
  /** Releases every hold still held, together. Idempotent. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export class MultiHold implements MultiLockHandle {
  private readonly controller = new AbortController();
  private releasing: Promise<void> | null = null;

  constructor(
    readonly leaseId: string,
    readonly holds: readonly Hold[],
    private readonly releaseAll: (holds: HoldRef[]) => Promise<unknown>,
  ) {
    for (const hold of holds) {
      if (hold.lost) this.lose(hold.signal.reason);
      else hold.signal.addEventListener('abort', () => this.lose(hold.signal.reason), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return this.signal.aborted ? 0 : Math.min(...this.holds.map((hold) => hold.remainingMs()));
  }

  release(): Promise<void> {
    this.releasing ??= this.releaseOnce();
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  private lose(reason: unknown): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private async releaseOnce(): Promise<void> {
    // A hold already lost gave itself back (or the server ended it): leave it out.
    const live = this.holds.filter((hold) => !hold.lost);
    for (const hold of live) hold.lose('released');
    if (live.length === 0) return;
    try {
      await this.releaseAll(live.map((hold) => ({ name: hold.name, token: hold.token })));
    } catch (error) {
      const code = asClientError(error).code;
      if (code !== 'not_holder' && code !== 'lease_not_found') throw error;
      // One ended on the server meanwhile (all or none refused them all): the rest one by one.
      await Promise.all(live.map((hold) => hold.release()));
    }
  }
}
