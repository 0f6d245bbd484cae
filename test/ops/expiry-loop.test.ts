/**
 * The expiry loop's turns on a manual clock and a hand-stepped scheduler: a turn is
 * bounded by the work it does (a unit per deadline plus one per hold it ends) and
 * by its time budget, and it yields to I/O in between.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Cancel, ExpiryLoop, type ExpiryScheduler } from '../../src/ops/expiry-loop.js';
import { type Harness, acquire, build, grantLease } from '../helpers/machine.js';

/** Timers and immediates that run only when the test says so; time moves only when told. */
class SteppedScheduler implements ExpiryScheduler {
  timer: { readonly fn: () => void; readonly delayMs: number } | null = null;
  next: (() => void) | null = null;
  timeMs = 0;

  nowMs(): number {
    return this.timeMs;
  }

  later(fn: () => void, delayMs: number): Cancel {
    const timer = { fn, delayMs };
    this.timer = timer;
    return () => {
      if (this.timer === timer) this.timer = null;
    };
  }

  soon(fn: () => void): Cancel {
    this.next = fn;
    return () => {
      if (this.next === fn) this.next = null;
    };
  }

  fireTimer(): void {
    const timer = this.timer;
    assert.ok(timer !== null, 'a timer is armed');
    this.timer = null;
    timer.fn();
  }

  runNext(): void {
    const next = this.next;
    assert.ok(next !== null, 'a next turn is queued');
    this.next = null;
    next();
  }
}

/** `count` leases due at +1 s, each carrying `holds` holds. */
function leasesWithHolds(h: Harness, count: number, holds: number): void {
  for (let i = 0; i < count; i++) {
    const leaseId = grantLease(h, 1_000);
    for (let j = 0; j < holds; j++) acquire(h, { name: `l${i}-h${j}`, leaseId });
  }
}

describe('expiry loop', () => {
  test('a turn is bounded by work done, not by deadlines counted: a lease with 3 holds is 4 units', () => {
    const h = build({ limits: { expiriesPerTickMax: 12 } });
    leasesWithHolds(h, 6, 3);
    const scheduler = new SteppedScheduler();
    const loop = new ExpiryLoop(h.machine, () => {}, { scheduler, workPerSlice: 4, turnBudgetMs: 1_000 });
    loop.poke();
    assert.equal(scheduler.timer?.delayMs, 1_000, 'armed for the earliest deadline');
    h.clock.advance(1_000);
    scheduler.fireTimer();
    // 12 units: three leases of 4 (counted by deadlines, all six would have gone).
    assert.equal(h.machine.leases.byId.size, 3);
    assert.equal(h.machine.locks.holdCount, 9);
    assert.ok(scheduler.next !== null, 'more were due: the loop yields and comes back');
    scheduler.runNext();
    assert.equal(h.machine.leases.byId.size, 0);
    assert.equal(h.machine.locks.holdCount, 0);
    assert.equal(scheduler.next, null, 'nothing due: no next turn');
    assert.equal(scheduler.timer, null, 'nothing left: no timer');
  });

  test('a turn stops once its time budget is spent, checking the time every slice', () => {
    const h = build();
    for (let i = 0; i < 10; i++) grantLease(h, 1_000);
    const scheduler = new SteppedScheduler();
    // Each expiry "takes" 0.3 ms of the scheduler's time.
    h.machine.subscribe((event) => {
      if (event.type === 'lease_ended') scheduler.timeMs += 0.3;
    });
    const loop = new ExpiryLoop(h.machine, () => {}, { scheduler, workPerSlice: 1, turnBudgetMs: 1 });
    loop.poke();
    h.clock.advance(1_000);
    scheduler.fireTimer();
    // 0.3, 0.6, 0.9, 1.2 ms: the fourth slice crosses 1 ms, the turn ends there.
    assert.equal(h.machine.leases.byId.size, 6);
    scheduler.runNext();
    assert.equal(h.machine.leases.byId.size, 2);
    scheduler.runNext();
    assert.equal(h.machine.leases.byId.size, 0);
    assert.equal(scheduler.next, null);
  });

  test('after a turn the timer is armed for the next deadline; poke moves it earlier; stop cancels everything', () => {
    const h = build();
    grantLease(h, 1_000);
    grantLease(h, 5_000);
    const scheduler = new SteppedScheduler();
    let turns = 0;
    const loop = new ExpiryLoop(h.machine, () => (turns += 1), { scheduler });
    loop.poke();
    assert.equal(scheduler.timer?.delayMs, 1_000);
    h.clock.advance(1_000);
    scheduler.fireTimer();
    assert.equal(turns, 1);
    assert.equal(h.machine.leases.byId.size, 1);
    assert.equal(scheduler.timer?.delayMs, 4_000, 're-armed for the lease still left');
    grantLease(h, 200);
    loop.poke();
    assert.equal(scheduler.timer?.delayMs, 200, 'an earlier deadline moves the timer up');
    loop.stop();
    assert.equal(scheduler.timer, null);
    loop.poke();
    assert.equal(scheduler.timer, null, 'a stopped loop arms nothing');
  });
});
