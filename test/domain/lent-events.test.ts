/**
 * Ending a lease allocates nothing: its `lease_ended` and `lock_released` events and
 * the list of released holds are refilled and lent to the sinks. What a sink reads
 * during the call is right; what the machine hands back to callers is its own copy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DomainEvent, type HoldRef, copyEvent } from '../../src/domain/events.js';
import { acquire, build, grantLease } from '../helpers/machine.js';

/** What a sink sees during each call, read there and then. */
function watch(h: ReturnType<typeof build>): { seen: DomainEvent[]; objects: DomainEvent[] } {
  const seen: DomainEvent[] = [];
  const objects: DomainEvent[] = [];
  h.machine.subscribe((event) => {
    if (event.type !== 'lease_ended' && event.type !== 'lock_released') return;
    seen.push(copyEvent(event));
    objects.push(event);
  });
  return { seen, objects };
}

describe('lent events', () => {
  test('every expiry reads right during the call, though the event object is the same', () => {
    const h = build();
    const { seen, objects } = watch(h);
    const a = grantLease(h, 1_000);
    const b = grantLease(h, 2_000);
    acquire(h, { name: 'x', leaseId: b });
    acquire(h, { name: 'y', leaseId: b });
    h.clock.advance(1_000);
    h.machine.tick();
    h.clock.advance(1_000);
    h.machine.tick();
    const ends = seen.filter((event) => event.type === 'lease_ended');
    assert.deepEqual(ends.map((event) => event.type === 'lease_ended' && [event.leaseId, event.released]), [
      [a, []],
      [b, [{ name: 'x', token: 1 }, { name: 'y', token: 2 }]],
    ]);
    const released = seen.filter((event) => event.type === 'lock_released');
    assert.deepEqual(released.map((event) => event.type === 'lock_released' && [event.name, event.reason]), [['x', 'expired'], ['y', 'expired']]);
    const endObjects = objects.filter((event) => event.type === 'lease_ended');
    assert.equal(endObjects[0], endObjects[1], 'one object, refilled');
  });

  test('revoke answers with its own lists: a later lease end does not change them', () => {
    const h = build();
    const first = grantLease(h);
    acquire(h, { name: 'a', leaseId: first });
    const second = grantLease(h);
    acquire(h, { name: 'b', leaseId: second });
    const answer = h.machine.run((m) => m.leases.revoke(first));
    h.machine.run((m) => m.leases.revoke(second));
    assert.deepEqual(answer, { released: [{ name: 'a', token: 1 }], removed: [] });
  });

  test('a lease with more holds than the kept lists still reports every one', () => {
    const h = build();
    const leaseId = grantLease(h, 1_000);
    const names = Array.from({ length: 12 }, (_, i) => `n${i}`);
    for (const name of names) acquire(h, { name, leaseId });
    let released: HoldRef[] = [];
    h.machine.subscribe((event) => {
      if (event.type === 'lease_ended') released = event.released.map((ref) => ({ ...ref }));
    });
    h.clock.advance(1_000);
    assert.equal(h.machine.tick().work, 13);
    assert.deepEqual(released.map((ref) => ref.name), names);
    assert.equal(h.machine.locks.holdCount, 0);
  });

  test('copyEvent leaves out an absent principal, as events without auth always did', () => {
    const h = build();
    grantLease(h, 1_000);
    h.clock.advance(1_000);
    h.machine.tick();
    const ended = h.events.find((event) => event.type === 'lease_ended')!;
    assert.equal('principal' in ended, false);
  });
});
