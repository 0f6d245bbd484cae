import type { StateMachine } from '../domain/state-machine.js';

/** Cancels what a scheduler call set up. */
export type Cancel = () => void;

/**
 * The time and timers the expiry loop runs on; injected so tests step turns by
 * hand on a manual clock. `nowMs` only measures a turn's length.
 */
export interface ExpiryScheduler {
  nowMs(): number;
  /** Runs `fn` after `delayMs`, without keeping the process alive for it. */
  later(fn: () => void, delayMs: number): Cancel;
  /** Runs `fn` after pending I/O has had its turn. */
  soon(fn: () => void): Cancel;
}

export const realScheduler: ExpiryScheduler = {
  nowMs: () => performance.now(),
  later: (fn, delayMs) => {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
  soon: (fn) => {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  },
};

export interface ExpiryLoopOptions {
  readonly scheduler?: ExpiryScheduler;
  /** Longest a turn runs before it gives the event loop back (a request waits at most about this). */
  readonly turnBudgetMs?: number;
  /** Work done between two looks at the time: small enough to stop near the budget. */
  readonly workPerSlice?: number;
}

/** 1 ms: at ~1 us a deadline a turn still clears ~1,000 of them, and a request behind it waits ~1 ms. */
const defaultTurnBudgetMs = 1;
const defaultWorkPerSlice = 64;

/**
 * Runs due deadlines on one timer armed for the earliest one; never a timer per
 * lease. A turn is bounded by work done, not by deadlines counted: a unit per
 * deadline plus one per hold and ring member an expiry ends (what StateMachine.tick
 * counts), at most `expiriesPerTickMax` units and about `turnBudgetMs` of time,
 * checked every `workPerSlice` units. Then it yields to I/O (setImmediate) if more
 * are due, so a million simultaneous expiries cannot stall request handling, and a
 * lease carrying many holds counts for what it costs.
 */
export class ExpiryLoop {
  private cancelTimer: Cancel | null = null;
  private armedForMs = Infinity;
  private cancelSoon: Cancel | null = null;
  private stopped = false;
  private readonly scheduler: ExpiryScheduler;
  private readonly turnBudgetMs: number;
  private readonly workPerSlice: number;
  /** Made once: arming a timer or a next turn allocates no closure of ours. */
  private readonly onTimer = (): void => this.turn();
  private readonly onSoon = (): void => this.turn();

  constructor(
    private readonly machine: StateMachine,
    private readonly afterTick: () => void = () => {},
    options: ExpiryLoopOptions = {},
  ) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.turnBudgetMs = options.turnBudgetMs ?? defaultTurnBudgetMs;
    this.workPerSlice = options.workPerSlice ?? defaultWorkPerSlice;
  }

  /** Call after any command: re-arms the timer if the earliest deadline moved up. */
  poke(): void {
    if (this.stopped || this.cancelSoon !== null) return;
    const next = this.machine.nextDeadlineMs();
    if (next === undefined || next >= this.armedForMs) return;
    this.arm(next);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelSoon?.();
    this.cancelTimer = null;
    this.cancelSoon = null;
  }

  private arm(deadlineMs: number): void {
    this.cancelTimer?.();
    this.armedForMs = deadlineMs;
    const delayMs = Math.max(0, Math.ceil(deadlineMs - this.machine.clock.monoMs()));
    this.cancelTimer = this.scheduler.later(this.onTimer, delayMs);
  }

  private turn(): void {
    this.cancelTimer = null;
    this.cancelSoon = null;
    this.armedForMs = Infinity;
    if (this.stopped) return;
    const more = this.expireWithinBudget();
    this.afterTick();
    if (more) {
      this.cancelSoon = this.scheduler.soon(this.onSoon);
      return;
    }
    this.poke();
  }

  /** One turn's work; true when deadlines are still due after it. */
  private expireWithinBudget(): boolean {
    const started = this.scheduler.nowMs();
    const workMax = this.machine.limits.expiriesPerTickMax;
    let work = 0;
    for (;;) {
      const slice = this.machine.tick(Math.min(this.workPerSlice, workMax - work));
      work += slice.work;
      if (!slice.more) return false;
      if (work >= workMax || this.scheduler.nowMs() - started >= this.turnBudgetMs) return true;
    }
  }
}
