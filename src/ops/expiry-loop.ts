import type { StateMachine } from '../domain/state-machine.js';

const expiriesPerSlice = 256;
const turnBudgetMs = 4;

/**
 * Runs due deadlines on one timer armed for the earliest one; never a timer per
 * lease. Each turn processes at most `expiriesPerTickMax` deadlines and at most
 * about 4 ms of them, then yields to I/O (setImmediate) if more are due, so a
 * million simultaneous expiries cannot stall request handling.
 */

export class ExpiryLoop {
  private timer: NodeJS.Timeout | null = null;
  private armedForMs = Infinity;
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;

  constructor(
    private readonly machine: StateMachine,
    private readonly afterTick: () => void = () => {},
  ) {}

  /** Call after any command: re-arms the timer if the earliest deadline moved up. */
  poke(): void {
    if (this.stopped || this.immediate !== null) return;
    const next = this.machine.nextDeadlineMs();
    if (next === undefined || next >= this.armedForMs) return;
    this.arm(next);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private arm(deadlineMs: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedForMs = deadlineMs;
    const delayMs = Math.max(0, Math.ceil(deadlineMs - this.machine.clock.monoMs()));
    this.timer = setTimeout(() => this.turn(), delayMs);
    this.timer.unref();
  }

  private turn(): void {
    this.timer = null;
    this.immediate = null;
    this.armedForMs = Infinity;
    if (this.stopped) return;
    // Expire in slices and yield to I/O after a few milliseconds, so requests never
    // queue behind a large batch of simultaneous deadlines.
    const started = performance.now();
    const turnMax = this.machine.limits.expiriesPerTickMax;
    let processed = 0;
    let more: boolean;
    do {
      const slice = this.machine.tick(Math.min(expiriesPerSlice, turnMax - processed));
      processed += slice.processed;
      more = slice.more;
    } while (more && processed < turnMax && performance.now() - started < turnBudgetMs);
    this.afterTick();
    if (more) {
      this.immediate = setImmediate(() => this.turn());
      return;
    }
    this.poke();
  }
}
