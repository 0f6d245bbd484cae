/**
 * Shared builders for domain tests: a state machine on a manual clock, with every
 * event recorded, plus small helpers to grant, acquire, wait and catch errors.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/domain/clock.js';
import { LockringError, type ErrorCode } from '../../src/domain/errors.js';
import { type DomainEvent, copyEvent } from '../../src/domain/events.js';
import type { Hashing } from '../../src/domain/hashing.js';
import type { AcquireRequest } from '../../src/domain/locks.js';
import type { Grant, Waiter, WaiterOutcome } from '../../src/domain/model.js';
import { StateMachine } from '../../src/domain/state-machine.js';
import { type Limits, makeLimits } from '../../src/limits.js';
import { loadHashing } from '../../src/xxhash.js';

/** The real xxHash32 / xxHash64 functions, loaded once per test file. */
export const realHashing: Hashing = await loadHashing();

export interface Harness {
  readonly machine: StateMachine;
  readonly clock: ManualClock;
  /** Every event the machine emitted, in order (copies: the machine lends its events). */
  readonly events: DomainEvent[];
}

export interface HarnessOptions {
  readonly limits?: Partial<Limits>;
  readonly hashing?: Hashing;
  readonly lastToken?: number;
  /**
   * Lease ids in the server's shape (the slot, then a counter standing in for the random
   * part), so the lease table finds leases by slot; otherwise `L1`, `L2`, ... which it
   * keeps by id beside the slots.
   */
  readonly slotIds?: boolean;
}

/** A lease id naming `slot` as the server's do, its other 24 hex characters from `seq`. */
export function slotLeaseId(slot: number, seq: number): string {
  return slot.toString(16).padStart(8, '0') + seq.toString(16).padStart(24, '0');
}

export function build(options: HarnessOptions = {}): Harness {
  const clock = new ManualClock();
  let leaseSeq = 0;
  const machine = new StateMachine({
    clock,
    limits: makeLimits(options.limits ?? {}),
    hashing: options.hashing ?? realHashing,
    newLeaseId: options.slotIds === true ? (slot) => slotLeaseId(slot, ++leaseSeq) : () => `L${++leaseSeq}`,
    ...(options.lastToken === undefined ? {} : { lastToken: options.lastToken }),
  });
  const events: DomainEvent[] = [];
  // Events are lent to sinks: the record keeps copies.
  machine.subscribe((event) => events.push(copyEvent(event)));
  return { machine, clock, events };
}

/** Moves the manual clock and processes every deadline now due. */
export function advance(h: Harness, ms: number): number {
  h.clock.advance(ms);
  return h.machine.tick().processed;
}

/** Grants a plain lease and returns its id. */
export function grantLease(h: Harness, ttlMs = 1_000): string {
  return h.machine.run((m) => m.leases.grant(ttlMs).id);
}

/** Acquires and asserts the result is an immediate grant. */
export function acquire(h: Harness, request: AcquireRequest): Grant {
  const result = h.machine.run((m) => m.locks.acquire(request));
  assert.ok('granted' in result, `expected an immediate grant of ${request.name}`);
  return result.granted;
}

export interface Waiting {
  readonly waiter: Waiter;
  /** Every outcome handed to the waiter (the domain promises at most one). */
  readonly outcomes: WaiterOutcome[];
}

/** Acquires with a wait and asserts the request was queued; records its outcome. */
export function wait(h: Harness, request: AcquireRequest): Waiting {
  const result = h.machine.run((m) => m.locks.acquire(request));
  assert.ok('waiter' in result, `expected ${request.name} to queue`);
  const outcomes: WaiterOutcome[] = [];
  result.waiter.onSettle = (outcome) => outcomes.push(outcome);
  return { waiter: result.waiter, outcomes };
}

/** The grant a waiter received; fails unless it got exactly one, successful outcome. */
export function grantOf(waiting: Waiting): Grant {
  assert.equal(waiting.outcomes.length, 1, 'waiter settled exactly once');
  const outcome = waiting.outcomes[0]!;
  assert.ok(outcome.ok, `waiter failed: ${outcome.ok ? '' : outcome.error.code}`);
  return outcome.grant;
}

/** The error a waiter received; fails unless it got exactly one, failed outcome. */
export function errorOf(waiting: Waiting): LockringError {
  assert.equal(waiting.outcomes.length, 1, 'waiter settled exactly once');
  const outcome = waiting.outcomes[0]!;
  assert.ok(!outcome.ok, 'waiter was granted, expected an error');
  return outcome.error;
}

/** Runs `fn` and returns the LockringError it throws; fails if it throws nothing or something else. */
export function catchError(fn: () => unknown): LockringError {
  try {
    fn();
  } catch (error) {
    if (error instanceof LockringError) return error;
    throw error;
  }
  assert.fail('expected a LockringError, nothing was thrown');
}

/** Asserts `fn` throws a LockringError with `code` (and these details, if given). */
export function expectError(
  fn: () => unknown,
  code: ErrorCode,
  details: Readonly<Record<string, unknown>> = {},
): LockringError {
  const error = catchError(fn);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  for (const [key, value] of Object.entries(details)) assert.deepEqual(error.details[key], value, `details.${key}`);
  return error;
}

/** Events of one type, narrowed. */
export function eventsOf<T extends DomainEvent['type']>(h: Harness, type: T): Extract<DomainEvent, { type: T }>[] {
  return h.events.filter((event): event is Extract<DomainEvent, { type: T }> => event.type === type);
}

/**
 * A Hashing whose h32 has only `range` values, so that points collide often and the
 * tie rule (smaller id by UTF-8 bytes first) decides placement.
 */
export function tinyHashing(range: number): Hashing {
  return hashingWith((text) => realHashing.h32(text) % range);
}

/** The real fingerprint and MD5 with another h32, its batch form made from it. */
export function hashingWith(h32: (text: string) => number): Hashing {
  return {
    h32,
    h32Batch: (texts, out) => {
      for (let i = 0; i < texts.length; i++) out[i] = h32(texts[i]!);
    },
    fingerprint: realHashing.fingerprint,
    md5: realHashing.md5,
  };
}

/** UTF-8 byte order, the contract's order for names and equal points. */
export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
