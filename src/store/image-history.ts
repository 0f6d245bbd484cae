import type { RingChange } from '../domain/ring-history.js';
import type { RestoredHistory } from '../domain/rings.js';

/**
 * A ring's history while recovery replays the log. Ring records carry the version
 * they made, so a record at or below the newest step kept is one the snapshot
 * already reflects (a fuzzy snapshot) and adds no step. A record past the newest
 * adds one: its "before" is read off the image, which by then holds the state of
 * the version just below (every record after the snapshot's copy of the ring was
 * replayed in order).
 */
export class ImageHistory {
  private steps: RingChange[] = [];

  constructor(
    private oldest: number,
    private readonly versionsMax: number,
  ) {}

  static from(history: RestoredHistory, versionsMax: number): ImageHistory {
    const image = new ImageHistory(history.oldest, versionsMax);
    for (const step of history.changes) image.step(step);
    return image;
  }

  get newest(): number {
    return this.oldest + this.steps.length;
  }

  step(change: RingChange): void {
    if (change.version <= this.newest) return;
    // A gap (records from before history was kept): the history starts at this step.
    if (change.version !== this.newest + 1) {
      this.steps = [];
      this.oldest = change.version - 1;
    }
    this.steps.push(change);
    if (this.steps.length > this.versionsMax) this.oldest = this.steps.shift()!.version;
  }

  toRestored(): RestoredHistory {
    return { oldest: this.oldest, changes: this.steps };
  }
}
