import type { StateMachine } from '../domain/state-machine.js';

/**
 * Runs due deadlines on one timer armed for the earliest one; never a timer per
 * lease. Each turn processes at most `expiriesPerTickMax` deadlines, then yields to
 * I/O (setImmediate) if more are due, so a million simultaneous expiries cannot
 * stall request handling.
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
    const { more } = this.machine.tick();
    this.afterTick();
    if (more) {
      this.immediate = setImmediate(() => this.turn());
      return;
    }
    this.poke();
  }
}
