import type { Hold, MaxHold, YieldRequest } from './model.js';

/**
 * What few holds have: a lock-delay, a priority, a bound (maxHoldMs), a yield request.
 * Kept out of the hold itself, in an object made only for the holds that have one of
 * them: every field of a V8 object costs 8 bytes, and the common hold (acquire with a
 * TTL, nothing else) carries a single null here instead of four fields.
 */
export interface HoldExtra {
  readonly lockDelayMs: number;
  readonly priority: number;
  maxHold: MaxHold | null;
  yieldRequest: YieldRequest | null;
}

/** The extra a new hold starts with: null unless it has a lock-delay or a priority. */
export function newHoldExtra(lockDelayMs: number, priority: number): HoldExtra | null {
  return lockDelayMs === 0 && priority === 0 ? null : { lockDelayMs, priority, maxHold: null, yieldRequest: null };
}

export const holdLockDelayMs = (hold: Hold): number => hold.extra?.lockDelayMs ?? 0;
export const holdPriority = (hold: Hold): number => hold.extra?.priority ?? 0;
export const holdMaxHold = (hold: Hold): MaxHold | null => hold.extra?.maxHold ?? null;
export const holdYieldRequest = (hold: Hold): YieldRequest | null => hold.extra?.yieldRequest ?? null;

/** The hold's extra, made now if it had none (a bound or a yield request arrives). */
export function extraOf(hold: Hold): HoldExtra {
  return (hold.extra ??= { lockDelayMs: 0, priority: 0, maxHold: null, yieldRequest: null });
}
