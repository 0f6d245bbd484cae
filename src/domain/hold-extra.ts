import type { MaxHold, YieldRequest } from './model.js';

/**
 * What few holds have: a lock-delay, a priority, the auth principal that acquired it,
 * a bound (maxHoldMs), a yield request. Kept out of the hold table's columns, in an
 * object made only for the holds that have one of them: the common hold (acquire with
 * a TTL, nothing else, auth off) carries a single null instead of five fields.
 */
export interface HoldExtra {
  readonly lockDelayMs: number;
  readonly priority: number;
  /** Name of the auth token that acquired the hold (auth on). */
  readonly principal: string | undefined;
  maxHold: MaxHold | null;
  yieldRequest: YieldRequest | null;
}

export function holdExtra(lockDelayMs: number, priority: number, principal: string | undefined): HoldExtra {
  return { lockDelayMs, priority, principal, maxHold: null, yieldRequest: null };
}

/** The extra a new hold starts with: null unless it has a lock-delay, a priority or a principal. */
export function newHoldExtra(lockDelayMs: number, priority: number, principal: string | undefined): HoldExtra | null {
  return lockDelayMs === 0 && priority === 0 && principal === undefined ? null : holdExtra(lockDelayMs, priority, principal);
}
