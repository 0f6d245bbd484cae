import type { Clock } from './clock.js';
import type { DeadlineQueue } from './deadline-queue.js';
import type { EventSink } from './events.js';
import type { FencingCounter } from './fencing.js';
import type { Hashing } from './hashing.js';
import type { DeadlineItem } from './model.js';
import type { Limits } from '../limits.js';

/** What every part of the domain shares: time, limits, the one deadline queue, events out. */
export interface DomainContext {
  readonly clock: Clock;
  readonly limits: Limits;
  readonly deadlines: DeadlineQueue<DeadlineItem>;
  readonly fencing: FencingCounter;
  readonly hashing: Hashing;
  readonly emit: EventSink;
  /** A new lease id; an id the server makes names `slot` (lease-table.ts). */
  readonly newLeaseId: (slot: number) => string;
}
