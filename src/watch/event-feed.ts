import type { DomainEvent, EventSink } from '../domain/events.js';
import type { Rings } from '../domain/rings.js';
import type { Limits } from '../limits.js';
import type { OutputGate } from './output-gate.js';
import { type FeedEvent, ReplayBuffer } from './replay-buffer.js';
import { type Watch, WatchRegistry, lockTail, ringTail, yieldTail } from './watch-registry.js';

/** What the feed reads from the machine. */
export interface FeedMachine {
  readonly rings: Rings;
  subscribe(sink: EventSink): () => void;
}

/** Where a new subscriber starts: live, after a replay of what it missed, or after a reset. */
export type FeedStart =
  | { readonly kind: 'live' }
  | { readonly kind: 'resumed'; readonly missed: readonly FeedEvent[] }
  | { readonly kind: 'reset'; readonly reason: ResetReason };

/** `too_old`: events after the client's id are no longer kept; `unknown`: not an id of this server run. */
export type ResetReason = 'too_old' | 'unknown';

/**
 * Lock and ring events numbered in one sequence, for transports that let a client
 * resume (the event stream's `Last-Event-ID`). An event is numbered and kept in the
 * replay buffer when it happens, inside its command (so a ring event shows the ring
 * at its version), and shown to watches through the commit pipeline: once the log is
 * durable through that command, in order. A replay only covers events already shown.
 *
 * Nothing is numbered until the first subscriber comes: a server that never serves
 * a stream pays nothing per event. Ids carry this server run's `bootId`, so an id
 * from before a restart is recognised as unknown instead of meaning another event.
 */
export class EventFeed {
  readonly watches: WatchRegistry;
  private readonly replay: ReplayBuffer;
  private recording = false;
  private lastSeq = 0;
  private shownSeq = 0;
  /** Version of every ring while recording: a `deleted` event says which version went. */
  private readonly ringVersions = new Map<string, number>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly machine: FeedMachine,
    private readonly gate: OutputGate,
    limits: Limits,
    readonly bootId: string,
  ) {
    this.watches = new WatchRegistry(machine.rings, limits.sseStreamsMax, 'sseStreamsMax');
    this.replay = new ReplayBuffer(limits.sseReplayEventsMax, limits.sseReplayBytesMax);
  }

  /** The id of the last event shown: where a stream opened now starts. */
  get currentId(): string {
    return this.idOf(this.shownSeq);
  }

  idOf(seq: number): string {
    return `${this.bootId}-${seq}`;
  }

  /**
   * Adds `watch` and says where it starts from `lastEventId` (absent: live). The
   * replay covers exactly the events shown before this call; later ones reach the
   * watch live, so a resumed watch sees no gap and no event twice.
   */
  subscribe(watch: Watch, lastEventId: string | undefined): FeedStart {
    this.startRecording();
    this.watches.add(watch);
    if (lastEventId === undefined) return { kind: 'live' };
    const seq = this.seqOf(lastEventId);
    if (seq === undefined || seq > this.shownSeq) return { kind: 'reset', reason: 'unknown' };
    const missed = this.replay.since(seq, this.shownSeq);
    return missed === null ? { kind: 'reset', reason: 'too_old' } : { kind: 'resumed', missed };
  }

  unsubscribeWatch(watch: Watch): void {
    this.watches.remove(watch);
  }

  /** Stops listening to the machine (server shutdown). */
  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private startRecording(): void {
    if (this.recording) return;
    this.recording = true;
    for (const ring of this.machine.rings.byName.values()) this.ringVersions.set(ring.name, ring.version);
    this.unsubscribe = this.machine.subscribe((event) => this.onEvent(event));
  }

  private onEvent(event: DomainEvent): void {
    switch (event.type) {
      case 'lock_acquired':
        return this.record('lock', event.name, lockTail('acquired', event.name, event.token, event.owner, event.mode));
      case 'lock_released':
        return this.record('lock', event.name, lockTail(event.reason, event.name, event.token, event.owner, event.mode));
      case 'yield_requested':
        return this.record('lock', event.name, yieldTail(event));
      case 'ring_configured':
      case 'member_put':
      case 'member_removed':
      case 'ring_deleted':
        return this.recordRing(event.ring);
      default:
        return;
    }
  }

  private recordRing(name: string): void {
    const ring = this.machine.rings.byName.get(name);
    const tail = ringTail(name, ring, this.ringVersions.get(name) ?? 0);
    if (ring === undefined) this.ringVersions.delete(name);
    else this.ringVersions.set(name, ring.version);
    this.record('ring', name, tail);
  }

  private record(topic: 'lock' | 'ring', name: string, tail: string): void {
    const event: FeedEvent = { seq: ++this.lastSeq, topic, name, tail };
    this.replay.push(event);
    this.gate.show(() => this.show(event));
  }

  private show(event: FeedEvent): void {
    this.shownSeq = event.seq;
    const id = this.idOf(event.seq);
    if (event.topic === 'lock') this.watches.sendLock(event.name, event.tail, id);
    else this.watches.sendRing(event.name, event.tail, id);
  }

  private seqOf(id: string): number | undefined {
    const prefix = `${this.bootId}-`;
    if (!id.startsWith(prefix)) return undefined;
    const digits = id.slice(prefix.length);
    return /^(0|[1-9][0-9]{0,15})$/.test(digits) && Number.isSafeInteger(Number(digits)) ? Number(digits) : undefined;
  }
}
