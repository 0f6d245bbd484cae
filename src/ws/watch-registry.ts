import { limitExceeded } from '../domain/errors.js';
import type { Rings } from '../domain/rings.js';
import type { LockEventType } from './protocol.js';

/** What a watch follows: one lock name, every lock name with a prefix, or one ring. */
export type WatchTarget =
  | { readonly topic: 'lock'; readonly name: string }
  | { readonly topic: 'lock'; readonly prefix: string }
  | { readonly topic: 'ring'; readonly ring: string };

/** Where a watch's pushes go (a socket). */
export interface WatchSink {
  sendText(text: string): void;
  /**
   * Whether the sink may see this lock or ring now (auth: its token's read grants,
   * as they are after any reload). Absent: everything.
   */
  mayRead?(topic: 'lock' | 'ring', name: string): boolean;
}

export interface Watch {
  /** Unique on its socket; the `watchId` of its pushes. */
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
  ) {}

  get size(): number {
    return this.count;
  }

  add(watch: Watch): void {
    if (this.count >= this.watchesMax) throw limitExceeded('wsWatchesMax', this.watchesMax);
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
  lockEvent(type: LockEventType, name: string, token: number, owner: string): void {
    const exact = this.byName.get(name);
    if (exact === undefined && this.prefixLengths.size === 0) return;
    const tail = `,"type":"${type}","name":${JSON.stringify(name)},"token":${token},"owner":${JSON.stringify(owner)}}`;
    if (exact !== undefined) send(exact, '{"event":"lock","watchId":', tail, 'lock', name);
    for (const length of this.prefixLengths.keys()) {
      if (length > name.length) continue;
      const watches = this.byPrefix.get(length === name.length ? name : name.slice(0, length));
      if (watches !== undefined) send(watches, '{"event":"lock","watchId":', tail, 'lock', name);
    }
  }

  /**
   * Ring `name` changed (or went): push its version and members. Runs inside the
   * command, right after the change, so the ring's state is the event's version.
   */
  /**
   * The push for a change of ring `name`, computed now (the ring as this event left
   * it) and sent when the returned function runs; null when nobody watches.
   */
  ringEvent(name: string): (() => void) | null {
    const watches = this.byRing.get(name);
    if (watches === undefined) return null;
    const ring = this.rings.byName.get(name);
    let tail: string;
    if (ring === undefined) {
      tail = `,"ring":${JSON.stringify(name)},"type":"deleted","version":${this.ringVersions.get(name)!},"nodes":[]}`;
      this.ringVersions.set(name, 0);
    } else {
      this.ringVersions.set(name, ring.version);
      const nodes = ring.sortedMembers().map((member) => ({ id: member.id, weight: member.weight }));
      tail = `,"ring":${JSON.stringify(name)},"type":"changed","version":${ring.version},"nodes":${JSON.stringify(nodes)}}`;
    }
    return () => send(watches, '{"event":"ring","watchId":', tail, 'ring', name);
  }
}

function send(watches: Set<Watch>, head: string, tail: string, topic: 'lock' | 'ring', name: string): void {
  for (const watch of watches) {
    if (watch.sink.mayRead !== undefined && !watch.sink.mayRead(topic, name)) continue;
    watch.sink.sendText(head + watch.id + tail);
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
