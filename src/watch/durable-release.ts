/** Today's durability seam, read at each release (the service swaps it in at start). */
export interface DurabilitySource {
  readonly durability: { settled(): Promise<void> | undefined };
}

/**
 * Shows outputs (event-stream pushes) in the order they were queued, each only once
 * the log is durable through everything appended before it was queued: a token or
 * ring version seen by a watcher is never taken back by a crash. The store appends
 * its record after the event sinks have run, so durability is asked in a microtask,
 * once the command is complete. One batch waits at a time, so a later batch never
 * overtakes an earlier one. Without a data directory this costs one microtask.
 */
export class DurableRelease {
  private readonly queued: (() => void)[] = [];
  private busy = false;

  constructor(private readonly source: DurabilitySource) {}

  /** Runs `output` once what the log holds now is durable. */
  after(output: () => void): void {
    this.queued.push(output);
    if (this.busy) return;
    this.busy = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const batch = this.queued.splice(0, this.queued.length);
    const run = (): void => {
      for (const output of batch) output();
      if (this.queued.length > 0) queueMicrotask(() => this.flush());
      else this.busy = false;
    };
    const durable = this.whenDurable();
    // A failed log stops the process: what it did not make durable is never shown.
    if (durable === undefined) run();
    else durable.then(run, () => {});
  }

  /** The one place that asks the store; at merge, the service's afterDurable helper. */
  private whenDurable(): Promise<void> | undefined {
    return this.source.durability.settled();
  }
}
