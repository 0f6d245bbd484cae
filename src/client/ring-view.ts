import type { Hashing } from '../domain/hashing.js';
import { Placement } from '../domain/placement.js';
import type { RingPush } from '../protocol/wire.js';
import { type RingAlgorithm, pointCounts, schemeFor } from '../domain/ring-algorithm.js';

import { LockringClientError } from './errors.js';

export interface RingNode {
  readonly id: string;
  readonly weight: number;
}

/** What decides placement: the rest of a ring (meta, lease) does not matter here. */
export interface RingSnapshot {
  readonly version: number;
  readonly vnodes: number;
  readonly nodes: readonly RingNode[];
  /** Absent: the default placement (xxhash). */
  readonly algorithm?: RingAlgorithm;
}

/** A key's owners now and, when the view has one, at the version before its last change. */
export interface HandoverLookup {
  readonly version: number;
  readonly nodes: string[];
  readonly previous?: { readonly version: number; readonly nodes: string[] };
}

/** Reads the ring over HTTP; null when it does not exist. */
export type RingReader = () => Promise<RingSnapshot | null>;

/** Re-reads in a row before giving up (the server only moves forward: one or two do). */
const rereadsMax = 8;

/**
 * A local copy of one ring, kept current by a ring watch, answering lookups without
 * a round trip. Placement is the server's own code (src/domain/placement.ts) over
 * the same hash functions (xxHash32, or MD5 for a ketama ring), so a lookup here
 * gives what the server would answer at `version`. The view also keeps the
 * placement it had before its last change, for handover lookups.
 *
 * Each push is one change and carries the version and the whole membership, but not
 * `vnodes`. A push that follows the copy's version and changes the members is applied
 * as is (a membership change never changes vnodes); any other one (vnodes or meta
 * changed, a version gap, no copy yet) makes the view read the ring again over HTTP,
 * keeping its answers at the last known version until that read is in.
 */
export class RingView {
  private placement: Placement;
  private current: RingSnapshot | null = null;
  /** The placement before the last change applied, for handover lookups. */
  private previous: { readonly version: number; readonly placement: Placement } | null = null;
  /** Bumped by a deletion or a reconnect: reads started before it are worthless. */
  private generation = 0;
  /** Highest version pushed in this generation: a read older than that is stale. */
  private pushedVersion = 0;
  private stale = true;
  private reading: Promise<void> | null = null;
  private readonly listeners = new Set<(view: RingView) => void>();

  constructor(
    readonly name: string,
    private readonly hashing: Hashing,
    private readonly read: RingReader,
    private readonly unsubscribe: () => Promise<void>,
  ) {
    this.placement = new Placement(hashing);
  }

  /** False while the ring does not exist (never created, or deleted). */
  get exists(): boolean {
    return this.current !== null;
  }

  /** The ring version the copy reflects; 0 when the ring does not exist. */
  get version(): number {
    return this.current?.version ?? 0;
  }

  get vnodes(): number {
    return this.current?.vnodes ?? 0;
  }

  get nodes(): readonly RingNode[] {
    return this.current?.nodes ?? [];
  }

  /** The `n` distinct nodes for `key`, owner first (fewer when fewer have weight > 0). */
  lookup(key: string, n = 1): string[] {
    this.checkLookable();
    const out: string[] = [];
    out.length = this.placement.lookup(key, n, out);
    return out;
  }

  /** `lookup` for every key, in key order: the keys hashed in one call, as the server's batch lookup does. */
  lookupMany(keys: readonly string[], n = 1): string[][] {
    this.checkLookable();
    return this.placement.lookupBatch(keys, n).toArrays();
  }

  private checkLookable(): void {
    if (this.current === null) {
      throw new LockringClientError('ring_not_found', `ring ${JSON.stringify(this.name)} does not exist`, 404, { ring: this.name });
    }
    if (this.placement.nodesPlaced === 0) {
      throw new LockringClientError('ring_empty', `ring ${JSON.stringify(this.name)} has no node with weight > 0`, 409, { ring: this.name });
    }
  }

  /** The version before the last change the copy applied; 0 when there is none (first read, or after a deletion). */
  get previousVersion(): number {
    return this.previous?.version ?? 0;
  }

  /**
   * `key`'s owners now and at `previousVersion`: during a migration read from
   * the old owners while writing to the new ones. The previous owners are empty
   * when the ring had no node with weight > 0 then.
   */
  lookupWithPrevious(key: string, n = 1): HandoverLookup {
    const nodes = this.lookup(key, n);
    const previous = this.previous;
    if (previous === null) return { version: this.version, nodes };
    const out: string[] = [];
    out.length = previous.placement.lookup(key, n, out);
    return { version: this.version, nodes, previous: { version: previous.version, nodes: out } };
  }

  /** Calls `listener` after every change of the copy; returns a function that stops it. */
  onChange(listener: (view: RingView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops following the ring; the copy stays as it was. */
  close(): Promise<void> {
    this.listeners.clear();
    return this.unsubscribe();
  }

  /** @internal One change of the ring, from its watch. */
  applyPush(push: RingPush): void {
    if (push.type === 'deleted') {
      this.generation += 1;
      this.pushedVersion = 0;
      this.stale = false;
      this.replace(null);
      return;
    }
    this.pushedVersion = Math.max(this.pushedVersion, push.version);
    const current = this.current;
    if (!this.stale && current !== null) {
      if (push.version <= current.version) return;
      if (push.version === current.version + 1 && !sameNodes(current.nodes, push.nodes)) {
        this.replace({ version: push.version, vnodes: current.vnodes, algorithm: current.algorithm ?? 'xxhash', nodes: push.nodes });
        return;
      }
    }
    this.stale = true;
    this.refresh().catch(() => {});
  }

  /** @internal Pushes may have been missed (a reconnect): read the ring again. */
  invalidate(): Promise<void> {
    this.generation += 1;
    this.pushedVersion = 0;
    this.stale = true;
    return this.refresh();
  }

  /** @internal Reads the ring until the read is at least as new as every push seen. */
  refresh(): Promise<void> {
    this.reading ??= this.reread().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async reread(): Promise<void> {
    for (let attempt = 0; attempt < rereadsMax && this.stale; attempt++) {
      const generation = this.generation;
      const snapshot = await this.read();
      if (generation !== this.generation) continue;
      const fresh = snapshot === null ? this.pushedVersion === 0 : snapshot.version >= this.pushedVersion;
      if (!fresh) continue;
      this.stale = false;
      this.replace(snapshot);
    }
  }

  /**
   * Installs `snapshot`. The placement is built afresh rather than changed in
   * place, so the one it replaces stays whole as the previous placement.
   */
  private replace(snapshot: RingSnapshot | null): void {
    const before = this.current;
    if (snapshot === null) this.previous = null;
    else if (before !== null && before.version !== snapshot.version) this.previous = { version: before.version, placement: this.placement };
    const algorithm = snapshot?.algorithm ?? 'xxhash';
    const next = new Map((snapshot?.nodes ?? []).map((node) => [node.id, node.weight]));
    const config = { algorithm, vnodes: snapshot?.vnodes ?? 0, weights: next };
    this.placement = Placement.build(this.hashing, schemeFor(algorithm, this.hashing), pointCounts(config));
    this.current =
      snapshot === null
        ? null
        : { version: snapshot.version, vnodes: snapshot.vnodes, algorithm, nodes: snapshot.nodes.map(({ id, weight }) => ({ id, weight })) };
    for (const listener of this.listeners) listener(this);
  }
}

function sameNodes(a: readonly RingNode[], b: readonly RingNode[]): boolean {
  return a.length === b.length && a.every((node, i) => node.id === b[i]!.id && node.weight === b[i]!.weight);
}
