/** One event of the numbered feed: what a watch push says, without its `watchId`. */
export interface FeedEvent {
  /** Position in the feed: 1, 2, 3, ... with no gaps. */
  readonly seq: number;
  readonly topic: 'lock' | 'ring';
  /** The lock or ring the event is about. */
  readonly name: string;
  /** The push's JSON after its `watchId` (see `lockTail`, `ringTail`). */
  readonly tail: string;
}

/** Bookkeeping per kept event, beside its two strings. */
const eventOverheadBytes = 64;

/**
 * The newest events of the feed, bounded by count and by bytes (strings counted at
 * two bytes a character, an upper bound), so a reconnecting stream can be given what
 * it missed. The oldest go first; a stream that missed one of those must re-read.
 */
export class ReplayBuffer {
  private events: FeedEvent[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly eventsMax: number,
    private readonly bytesMax: number,
  ) {}

  get size(): number {
    return this.events.length - this.head;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  push(event: FeedEvent): void {
    this.events.push(event);
    this.bytes += costOf(event);
    while (this.size > this.eventsMax || (this.bytes > this.bytesMax && this.size > 0)) this.evictOldest();
  }

  /**
   * The events numbered after `afterSeq` up to `throughSeq`, oldest first, or null
   * when some of them are no longer kept. Seqs are contiguous, so this is an index.
   */
  since(afterSeq: number, throughSeq: number): FeedEvent[] | null {
    if (afterSeq >= throughSeq) return [];
    const oldest = this.size === 0 ? undefined : this.events[this.head]!.seq;
    if (oldest === undefined || afterSeq + 1 < oldest) return null;
    const from = this.head + (afterSeq + 1 - oldest);
    return this.events.slice(from, from + (throughSeq - afterSeq));
  }

  private evictOldest(): void {
    this.bytes -= costOf(this.events[this.head]!);
    this.head += 1;
    // Compact now and then: a shift per event would copy the whole array each time.
    if (this.head >= 1024 && this.head * 2 >= this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}

function costOf(event: FeedEvent): number {
  return (event.tail.length + event.name.length) * 2 + eventOverheadBytes;
}
