/**
 * Time is injected. Deadlines use the monotonic clock so a wall-clock jump changes
 * nothing; the wall clock is read only to show `expiresAt` and `acquiredAt`.
 */
export interface Clock {
  /** Monotonic milliseconds; only differences mean anything. */
  monoMs(): number;
  /** Unix epoch milliseconds, for display. */
  wallMs(): number;
}

export const systemClock: Clock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** A clock that only moves when told to: domain tests check TTLs to the millisecond. */
export class ManualClock implements Clock {
  private mono: number;
  private wall: number;

  constructor(startWallMs = 1_700_000_000_000, startMonoMs = 1_000) {
    this.wall = startWallMs;
    this.mono = startMonoMs;
  }

  monoMs(): number {
    return this.mono;
  }

  wallMs(): number {
    return this.wall;
  }

  advance(ms: number): void {
    this.mono += ms;
    this.wall += ms;
  }

  /** Moves only the wall clock, as an NTP step or an operator would. */
  jumpWall(ms: number): void {
    this.wall += ms;
  }
}
