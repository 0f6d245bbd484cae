/**
 * Who may do what. A token has a name and grants; each grant is a role, optionally
 * restricted to names starting with a prefix. Roles nest: `admin` covers every
 * action; `lock` and `ring-admin` include `read` for the names they cover.
 */
export const roles = ['read', 'lock', 'ring-admin', 'admin'] as const;
export type Role = (typeof roles)[number];

export interface Grant {
  readonly role: Role;
  /** Names this grant covers; absent means every name. */
  readonly prefix?: string;
}

export interface Principal {
  readonly name: string;
  readonly grants: readonly Grant[];
}

/**
 * What a request wants to do. `lock.*` actions name a lock, `ring.*` a ring;
 * `lease` actions name nothing (leases are checked by ownership instead).
 */
export type Action =
  | 'lock.read'
  | 'lock.write'
  | 'ring.read'
  | 'ring.write'
  | 'lease.write'
  | 'admin';

/** Roles that allow an action, before the prefix is considered. */
const allowedRoles: Record<Action, readonly Role[]> = {
  'lock.read': ['read', 'lock', 'admin'],
  'lock.write': ['lock', 'admin'],
  'ring.read': ['read', 'ring-admin', 'admin'],
  'ring.write': ['ring-admin', 'admin'],
  // Leases carry locks and lease-bound members: lockers and ring admins need them.
  'lease.write': ['lock', 'ring-admin', 'admin'],
  admin: ['admin'],
};

/** True when `role` allows `action` on the names its grant covers. */
export function roleAllows(role: Role, action: Action): boolean {
  return allowedRoles[action].includes(role);
}

/** True when some grant of `principal` allows `action` on `name`. */
export function allows(principal: Principal, action: Action, name?: string): boolean {
  const wanted = allowedRoles[action];
  for (const grant of principal.grants) {
    if (!wanted.includes(grant.role)) continue;
    if (grant.prefix === undefined || (name !== undefined && name.startsWith(grant.prefix))) return true;
    // An unnamed action (a lease) is allowed by any grant of a fitting role.
    if (name === undefined) return true;
  }
  return false;
}

/** True when the principal may act on every lease, not only its own. */
export function isAdmin(principal: Principal): boolean {
  return principal.grants.some((grant) => grant.role === 'admin' && grant.prefix === undefined);
}
