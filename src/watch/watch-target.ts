import { type Caller, authorize, readableScopes } from '../auth/access.js';
import { forbidden, invalid } from '../domain/errors.js';
import { nameParam } from '../protocol/validation.js';
import type { Limits } from '../limits.js';

export type { LockEventType } from '../protocol/wire.js';

/** What a watch follows: one lock name, every lock name with a prefix, or one ring. */
export type WatchTarget =
  | { readonly topic: 'lock'; readonly name: string }
  | { readonly topic: 'lock'; readonly prefix: string }
  | { readonly topic: 'ring'; readonly ring: string };

/** The fields a client names a watch with (a WebSocket frame or a query string). */
export interface WatchFields {
  readonly topic: string;
  readonly name?: string | undefined;
  readonly prefix?: string | undefined;
  readonly ring?: string | undefined;
}

/** Checks the combination of fields and each name; the same rules for every transport. */
export function parseWatchTarget(fields: WatchFields, limits: Limits): WatchTarget {
  const { topic, name, prefix, ring } = fields;
  if (topic === 'lock') {
    if (ring !== undefined) throw invalid('a lock watch takes name or prefix, not ring', { field: 'ring' });
    if ((name === undefined) === (prefix === undefined)) {
      throw invalid('a lock watch takes exactly one of name and prefix', { field: 'name' });
    }
    if (name !== undefined) return { topic, name: nameParam('name', name, limits) };
    return { topic, prefix: prefix === '' ? '' : nameParam('prefix', prefix!, limits) };
  }
  if (topic === 'ring') {
    if (name !== undefined || prefix !== undefined) {
      throw invalid('a ring watch takes ring, not name or prefix', { field: name !== undefined ? 'name' : 'prefix' });
    }
    if (ring === undefined) throw invalid('ring is required', { field: 'ring' });
    return { topic, ring: nameParam('ring', ring, limits) };
  }
  throw invalid('topic must be "lock" or "ring"', { field: 'topic' });
}

/**
 * A watch needs read access to what it follows. A prefix watch is allowed when some
 * read grant overlaps the prefix; its pushes are then filtered name by name.
 */
export function authorizeWatch(caller: Caller, target: WatchTarget): void {
  if (caller === null) return;
  if (target.topic === 'ring') return authorize(caller, 'ring.read', target.ring);
  if ('name' in target) return authorize(caller, 'lock.read', target.name);
  const scopes = readableScopes(caller, 'lock.read', target.prefix);
  if (scopes !== null && scopes.length === 0) {
    throw forbidden(`token ${JSON.stringify(caller.name)} may not read any lock under prefix ${JSON.stringify(target.prefix)}`, {
      action: 'lock.read',
      prefix: target.prefix,
    });
  }
}

/** Whether an event about lock or ring `name` concerns `target` (replays test one target at a time). */
export function targetMatches(target: WatchTarget, topic: 'lock' | 'ring', name: string): boolean {
  if (target.topic !== topic) return false;
  if (target.topic === 'ring') return target.ring === name;
  return 'name' in target ? target.name === name : name.startsWith(target.prefix);
}
