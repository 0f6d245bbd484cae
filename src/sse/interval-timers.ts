/** The timer seam of the event stream: tests drive heartbeats by hand instead of sleeping. */
export interface IntervalTimers {
  /** Calls `tick` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, tick: () => void): () => void;
}

export const systemTimers: IntervalTimers = {
  every(intervalMs, tick) {
    const timer = setInterval(tick, intervalMs);
    // A heartbeat alone never keeps the process up.
    timer.unref();
    return () => clearInterval(timer);
  },
};
