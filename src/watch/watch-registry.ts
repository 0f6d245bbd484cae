import { limitExceeded } from '../domain/errors.js';
import type { YieldRequestedEvent } from '../domain/events.js';
import type { Ring } from '../domain/ring.js';
import type { Rings } from '../domain/rings.js';
import type { Limits } from '../limits.js';
import type { LockEventType, WatchTarget } from './watch-target.js';

export type { LockEventType, WatchTarget } from './watch-target.js';

/** Where a watch's pushes go (a socket, an event stream). */
export interface WatchSink {
  /** `eventId`: the event's position in a feed that numbers events (the event stream's). */
  sendText(text: string, eventId?: string): void;
  /**
   * Whether the sink may see this lock or ring now (auth: its token's read grants,
   * as they are after any reload). Absent: everything.
   */
  mayRead?(topic: 'lock' | 'ring', name: string): boolean;
}

export interface Watch {
  /** Unique on its socket (or stream); the `watchId` of its pushes. */
  readonly id: number;
  readonly sink: WatchSink;
  readonly target: WatchTarget;
}


/**
 * Every watch of the server, indexed so that an event touches only the watches it
 * concerns: lock watches by exact name and by prefix (looked up once per distinct
 * prefix length in use, never by scanning watches), ring watches by ring name.
 * Pushes are serialized once per event; only the `watchId` differs per watch.
 */
export class WatchRegistry {
  private readonly byName = new Map<string, Set<Watch>>();
  private readonly byPrefix = new Map<string, Set<Watch>>();
  /** Prefix length (UTF-16 units) -> how many prefixes of that length are watched. */
  private readonly prefixLengths = new Map<number, number>();
  private readonly byRing = new Map<string, Set<Watch>>();
  /** Last version of each watched ring, so a `deleted` push can say which version went. */
  private readonly ringVersions = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly rings: Rings,
    private readonly watchesMax: number,
    /** The limit named in the 429 when full. */
    private readonly limitName: keyof Limits = 'wsWatchesMax',
  ) {}

  get size(): number {
    return this.count;
  }

  add(watch: Watch): void {
    if (this.count >= this.watchesMax) throw limitExceeded(this.limitName, this.watchesMax);
    const target = watch.target;
    if (target.topic === 'ring') {
      if (!this.byRing.has(target.ring)) this.ringVersions.set(target.ring, this.rings.byName.get(target.ring)?.version ?? 0);
      addTo(this.byRing, target.ring, watch);
    } else if ('name' in target) {
      addTo(this.byName, target.name, watch);
    } else {
      if (!this.byPrefix.has(target.prefix)) {
        this.prefixLengths.set(target.prefix.length, (this.prefixLengths.get(target.prefix.length) ?? 0) + 1);
      }
      addTo(this.byPrefix, target.prefix, watch);
    }
    this.count += 1;
  }

  remove(watch: Watch): void {
    const target = watch.target;
    let removed: boolean;
    if (target.topic === 'ring') {
      removed = removeFrom(this.byRing, target.ring, watch);
      if (!this.byRing.has(target.ring)) this.ringVersions.delete(target.ring);
    } else if ('name' in target) {
      removed = removeFrom(this.byName, target.name, watch);
    } else {
      removed = removeFrom(this.byPrefix, target.prefix, watch);
      if (removed && !this.byPrefix.has(target.prefix)) {
        const left = this.prefixLengths.get(target.prefix.length)! - 1;
        if (left === 0) this.prefixLengths.delete(target.prefix.length);
        else this.prefixLengths.set(target.prefix.length, left);
      }
    }
    if (removed) this.count -= 1;
  }

  /** A hold began or ended on `name`: push to its exact and prefix watches. */
  lockEvent(type: LockEventType, name: string, token: number, owner: string, mode?: 'read', yieldBy?: number): void {
    if (!this.watchesLock(name)) return;
    this.sendLock(name, lockTail(type, name, token, owner, mode, yieldBy));
  }

  /** Whether any watch may concern lock `name` (cheap: skips building a push nobody gets). */
  watchesLock(name: string): boolean {
    return this.byName.has(name) || this.prefixLengths.size > 0;
  }

  /** Sends a lock push (its JSON after the `watchId`, from `lockTail`) to the watches of `name`. */
  sendLock(name: string, tail: string, eventId?: string): void {
    const exact = this.byName.get(name);
    if (exact !== undefined) send(exact, '{"event":"lock","watchId":', tail, 'lock', name, eventId);
    for (const length of this.prefixLengths.keys()) {
      if (length > name.length) continue;
      const watches = this.byPrefix.get(length === name.length ? name : name.slice(0, length));
      if (watches !== undefined) send(watches, '{"event":"lock","watchId":', tail, 'lock', name, eventId);
    }
  }

  /**
   * The push for a change of ring `name`, computed now (the ring as this event left
   * it) and sent when the returned function runs; null when nobody watches.
   */
  ringEvent(name: string): (() => void) | null {
    if (!this.byRing.has(name)) return null;
    const ring = this.rings.byName.get(name);
    const tail = ringTail(name, ring, this.ringVersions.get(name)!);
    this.ringVersions.set(name, ring?.version ?? 0);
    return () => this.sendRing(name, tail);
  }

  /** Sends a ring push (its JSON after the `watchId`, from `ringTail`) to the watches of `name`. */
  sendRing(name: string, tail: string, eventId?: string): void {
    const watches = this.byRing.get(name);
    if (watches !== undefined) send(watches, '{"event":"ring","watchId":', tail, 'ring', name, eventId);
  }
}

/** A lock push after its `watchId`: serialized once per event, whatever the number of watches. */
export function lockTail(type: LockEventType, name: string, token: number, owner: string, mode?: 'read', yieldBy?: number): string {
  const extra = (mode === undefined ? '' : ',"mode":"read"') + (yieldBy === undefined ? '' : `,"yieldBy":${yieldBy}`);
  return `,"type":"${type}","name":${JSON.stringify(name)},"token":${token},"owner":${JSON.stringify(owner)}${extra}}`;
}

/** The lock push of a yield request: type `yield_requested`, with when the hold ends. */
export function yieldTail(event: YieldRequestedEvent): string {
  return lockTail('yield_requested', event.name, event.token, event.owner, event.mode, event.yieldByWallMs);
}

/**
 * A ring push after its `watchId`, from the ring as it is now; `undefined` means it
 * was deleted, and `lastVersion` says which version went.
 */
export function ringTail(name: string, ring: Ring | undefined, lastVersion: number): string {
  if (ring === undefined) return `,"ring":${JSON.stringify(name)},"type":"deleted","version":${lastVersion},"nodes":[]}`;
  const nodes = ring.sortedMembers().map((member) => ({ id: member.id, weight: member.weight }));
  return `,"ring":${JSON.stringify(name)},"type":"changed","version":${ring.version},"nodes":${JSON.stringify(nodes)}}`;
}

function send(watches: Set<Watch>, head: string, tail: string, topic: 'lock' | 'ring', name: string, eventId?: string): void {
  for (const watch of watches) {
    if (watch.sink.mayRead !== undefined && !watch.sink.mayRead(topic, name)) continue;
    watch.sink.sendText(head + watch.id + tail, eventId);
  }
}

function addTo(index: Map<string, Set<Watch>>, key: string, watch: Watch): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(watch);
}

function removeFrom(index: Map<string, Set<Watch>>, key: string, watch: Watch): boolean {
  const set = index.get(key);
  if (set === undefined || !set.delete(watch)) return false;
  if (set.size === 0) index.delete(key);
  return true;
}
