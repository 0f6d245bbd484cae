import { forbidden } from '../domain/errors.js';
import { compareUtf8 } from '../domain/names.js';
import { type Action, type Principal, allows, isAdmin, roleAllows } from './grants.js';

/**
 * Who asks. A principal (the auth token's name and grants) when auth is configured;
 * null when the server runs without auth, where everything is allowed. Every check
 * below is a no-op for null, so the server without auth pays one comparison.
 */
export type Caller = Principal | null;

const verbs: Readonly<Record<Action, string>> = {
  'lock.read': 'read the lock',
  'lock.write': 'take or release the lock',
  'ring.read': 'read the ring',
  'ring.write': 'change the ring',
  'lease.write': 'use leases',
  admin: 'administer the server',
};

/** Throws `403 forbidden` unless some grant of `caller` allows `action` on `name`. */
export function authorize(caller: Caller, action: Action, name?: string): void {
  if (caller === null || allows(caller, action, name)) return;
  const what = name === undefined ? '' : ` ${JSON.stringify(name)}`;
  throw forbidden(`token ${JSON.stringify(caller.name)} may not ${verbs[action]}${what}`, name === undefined ? { action } : { action, name });
}

/** True when `caller` may see `name` (a lock or ring) with a read `action`. */
export function mayRead(caller: Caller, action: 'lock.read' | 'ring.read', name: string): boolean {
  return caller === null || allows(caller, action, name);
}

/**
 * Leases belong to the token that created them: only it, or an admin without a
 * prefix, may inspect, keep alive, revoke or build on one. `owner` is the lease's
 * recorded principal; a lease without one (made while auth was off) is admin-only.
 */
export function authorizeLease(caller: Caller, leaseId: string, owner: string | undefined): void {
  if (caller === null) return;
  authorize(caller, 'lease.write');
  if (owner === caller.name || isAdmin(caller)) return;
  throw forbidden(`lease ${JSON.stringify(leaseId)} belongs to another token`, { leaseId });
}

/** True when `caller` may use a lease owned by `owner` (no throw: for quiet checks). */
export function ownsLease(caller: Caller, owner: string | undefined): boolean {
  return caller === null || (allows(caller, 'lease.write') && (owner === caller.name || isAdmin(caller)));
}

/**
 * A hold is released by the token that acquired it (or an unrestricted admin):
 * fencing tokens are sequential, so knowing one must not let another team end it.
 */
export function authorizeHold(caller: Caller, name: string, token: number, holder: string | undefined): void {
  if (caller === null || holder === caller.name || isAdmin(caller)) return;
  throw forbidden(`token ${token} of ${JSON.stringify(name)} was acquired by another auth token`, { name, token });
}

/**
 * The name prefixes, within `prefix`, that `caller` may read with `action`: sorted
 * in UTF-8 order and not nested, so each is one contiguous run of names and a
 * listing can page through them in turn. null: every name under `prefix`.
 */
export function readableScopes(caller: Caller, action: 'lock.read' | 'ring.read', prefix: string): string[] | null {
  if (caller === null) return null;
  const found: string[] = [];
  for (const grant of caller.grants) {
    if (!roleAllows(grant.role, action)) continue;
    if (grant.prefix === undefined || prefix.startsWith(grant.prefix)) return null;
    if (grant.prefix.startsWith(prefix)) found.push(grant.prefix);
  }
  found.sort(compareUtf8);
  const scopes: string[] = [];
  for (const scope of found) {
    const last = scopes.at(-1);
    if (last === undefined || !scope.startsWith(last)) scopes.push(scope);
  }
  return scopes;
}
