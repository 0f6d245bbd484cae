import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MultiAcquireRequest } from '../../src/domain/lock-groups.js';
import type { GroupOutcome, MultiGrant, WaiterGroup } from '../../src/domain/model.js';
import { acquire, advance, build, eventsOf, expectError, grantLease, grantOf, wait, type Harness } from '../helpers/machine.js';

const names = (...list: string[]) => list.map((name) => ({ name }));

function acquireAll(h: Harness, request: MultiAcquireRequest): MultiGrant {
  const result = h.machine.run((m) => m.locks.acquireAll(request));
  assert.ok('granted' in result, 'expected the multi-lock to be granted at once');
  return result.granted;
}

interface GroupWaiting {
  readonly group: WaiterGroup;
  readonly outcomes: GroupOutcome[];
}

function waitAll(h: Harness, request: MultiAcquireRequest): GroupWaiting {
  const result = h.machine.run((m) => m.locks.acquireAll(request));
  assert.ok('group' in result, 'expected the multi-lock to queue');
  const outcomes: GroupOutcome[] = [];
  result.group.onSettle = (outcome) => outcomes.push(outcome);
  return { group: result.group, outcomes };
}

function grantedOf(waiting: GroupWaiting): MultiGrant {
  assert.equal(waiting.outcomes.length, 1, 'settled exactly once');
  const outcome = waiting.outcomes[0]!;
  assert.ok(outcome.ok, `group failed: ${outcome.ok ? '' : outcome.error.code}`);
  return outcome.granted;
}

const holders = (h: Harness, name: string): number[] => {
  const lock = h.machine.locks.byName.get(name);
  return lock === undefined ? [] : h.machine.locks.holdersOf(lock).map((hold) => hold.token);
};
const release = (h: Harness, name: string, token: number) => h.machine.run((m) => m.locks.release(name, token));
const releaseAll = (h: Harness, holds: { name: string; token: number }[]) => h.machine.run((m) => m.locks.releaseAll(holds));

describe('multi-lock: all or nothing', () => {
  test('free names are granted at once on one lease, one rising token per name, in request order', () => {
    const h = build();
    const granted = acquireAll(h, { locks: [{ name: 'b' }, { name: 'a', mode: 'read' }, { name: 's', limit: 3 }], ttlMs: 2_000, owner: 'coord' });
    assert.deepEqual(granted.grants.map((g) => [g.name, g.mode, g.limit, g.leaseId, g.owner]), [
      ['b', 'write', 1, granted.leaseId, 'coord'], ['a', 'read', 1, granted.leaseId, 'coord'], ['s', 'write', 3, granted.leaseId, 'coord'],
    ]);
    assert.deepEqual(granted.grants.map((g) => g.token), [1, 2, 3]);
    const lease = h.machine.leases.byId.get(granted.leaseId)!;
    assert.equal(lease.kind, 'group');
    assert.equal(lease.holdCount, 3);
  });

  test('one held name refuses the whole group: nothing is granted, no lease nor token is spent, lock_held names it', () => {
    const h = build();
    const other = acquire(h, { name: 'b', ttlMs: 2_000, owner: 'other' });
    const leases = h.machine.leases.byId.size;
    const error = expectError(() => h.machine.run((m) => m.locks.acquireAll({ locks: names('a', 'b', 'c'), ttlMs: 2_000 })), 'lock_held', {
      name: 'b', names: ['b'],
    });
    const locks = error.details['locks'] as { name: string; holders: { token: number }[] }[];
    assert.deepEqual(locks.map((l) => [l.name, l.holders.map((x) => x.token)]), [['b', [other.token]]]);
    assert.deepEqual(holders(h, 'a'), []);
    assert.deepEqual(holders(h, 'c'), []);
    assert.equal(h.machine.leases.byId.size, leases);
    assert.equal(h.machine.lastToken, other.token);
  });

  test('bad input is invalid_request naming the field, and changes nothing', () => {
    const h = build({ limits: { namesPerAcquireMax: 3 } });
    const attempt = (request: MultiAcquireRequest) => () => h.machine.run((m) => m.locks.acquireAll(request));
    expectError(attempt({ locks: [], ttlMs: 1_000 }), 'invalid_request', { field: 'locks' });
    expectError(attempt({ locks: names('a', 'b', 'c', 'd'), ttlMs: 1_000 }), 'invalid_request', { field: 'locks' });
    expectError(attempt({ locks: names('a', 'b', 'a'), ttlMs: 1_000 }), 'invalid_request', { field: 'locks.2.name' });
    expectError(attempt({ locks: [{ name: 'a' }, { name: '' }], ttlMs: 1_000 }), 'invalid_request', { field: 'locks.1.name' });
    expectError(attempt({ locks: [{ name: 'a' }, { name: 'b', mode: 'read', limit: 2 }], ttlMs: 1_000 }), 'invalid_request', { field: 'locks.1.mode' });
    expectError(attempt({ locks: [{ name: 'a', limit: 0 }], ttlMs: 1_000 }), 'invalid_request', { field: 'locks.0.limit' });
    expectError(attempt({ locks: names('a'), ttlMs: 1_000, leaseId: 'x' }), 'invalid_request', { field: 'ttlMs' });
    expectError(attempt({ locks: names('a'), ttlMs: 1_000, waitMs: -1 }), 'invalid_request', { field: 'waitMs' });
    assert.equal(h.machine.locks.byName.size, 0);
    assert.equal(h.machine.leases.byId.size, 0);
    assert.equal(h.machine.lastToken, 0);
  });

  test('a limit or mode mismatch on any name refuses the group as for one name', () => {
    const h = build();
    acquire(h, { name: 's', ttlMs: 1_000, limit: 3 });
    expectError(() => h.machine.run((m) => m.locks.acquireAll({ locks: [{ name: 'a' }, { name: 's', limit: 2 }], ttlMs: 1_000 })), 'limit_mismatch', { name: 's' });
    expectError(() => h.machine.run((m) => m.locks.acquireAll({ locks: [{ name: 'a' }, { name: 's', mode: 'read' }], ttlMs: 1_000 })), 'mode_mismatch', { name: 's' });
    assert.equal(h.machine.locks.byName.has('a'), false);
  });

  test('limits are checked for the whole group before anything changes', () => {
    const h = build({ limits: { locksMax: 2, holdsPerLeaseMax: 2 } });
    acquire(h, { name: 'x', ttlMs: 1_000 });
    expectError(() => h.machine.run((m) => m.locks.acquireAll({ locks: names('a', 'b', 'c'), ttlMs: 1_000 })), 'limit_exceeded', { limit: 'holdsPerLeaseMax' });
    expectError(() => h.machine.run((m) => m.locks.acquireAll({ locks: names('a', 'b'), ttlMs: 1_000, leaseId: undefined, owner: 'o' })), 'limit_exceeded', { limit: 'locksMax' });
    assert.deepEqual([...h.machine.locks.byName.keys()], ['x']);
  });

  test('a group on a named lease adds its holds to that lease', () => {
    const h = build();
    const id = grantLease(h);
    const granted = acquireAll(h, { locks: names('a', 'b'), leaseId: id });
    assert.equal(granted.leaseId, id);
    assert.equal(h.machine.leases.byId.get(id)!.holdCount, 2);
  });
});

describe('multi-lock: waiting', () => {
  test('a group waits without holding anything, and is granted all at once when the last name frees', () => {
    const h = build();
    const a = acquire(h, { name: 'a', ttlMs: 5_000 });
    const c = acquire(h, { name: 'c', ttlMs: 5_000 });
    const group = waitAll(h, { locks: names('a', 'b', 'c'), ttlMs: 1_000, waitMs: 10_000 });
    assert.deepEqual(holders(h, 'b'), [], 'no partial hold while waiting');
    assert.equal(h.machine.locks.inspect('b').waiters, 1);
    release(h, 'a', a.token);
    assert.equal(group.outcomes.length, 0);
    assert.deepEqual(holders(h, 'a'), []);
    release(h, 'c', c.token);
    const granted = grantedOf(group);
    assert.deepEqual(granted.grants.map((g) => g.name), ['a', 'b', 'c']);
    for (const grant of granted.grants) assert.deepEqual(holders(h, grant.name), [grant.token]);
    assert.equal(h.machine.locks.waiterCount, 0);
  });

  test('a group at the head of a queue holds it (FIFO): a single behind it waits even when its name is free', () => {
    const h = build();
    const b = acquire(h, { name: 'b', ttlMs: 5_000 });
    const group = waitAll(h, { locks: names('a', 'b'), ttlMs: 1_000, waitMs: 10_000 });
    const single = wait(h, { name: 'a', ttlMs: 1_000, waitMs: 10_000 });
    assert.deepEqual(holders(h, 'a'), [], 'a is free, yet the single waits behind the group');
    release(h, 'b', b.token);
    const granted = grantedOf(group);
    assert.equal(single.outcomes.length, 0);
    release(h, 'a', granted.grants[0]!.token);
    assert.ok(grantOf(single).token > granted.grants[1]!.token);
  });

  test('singles and groups mixed are granted in arrival order', () => {
    const h = build();
    const a = acquire(h, { name: 'a', ttlMs: 5_000 });
    const b = acquire(h, { name: 'b', ttlMs: 5_000 });
    const first = wait(h, { name: 'b', ttlMs: 1_000, waitMs: 10_000 });
    const g1 = waitAll(h, { locks: names('a', 'b'), ttlMs: 1_000, waitMs: 10_000 });
    const second = wait(h, { name: 'a', ttlMs: 1_000, waitMs: 10_000 });
    const g2 = waitAll(h, { locks: names('b', 'a'), ttlMs: 1_000, waitMs: 10_000 });
    const order: string[] = [];
    release(h, 'b', b.token);
    const b1 = grantOf(first);
    order.push('first');
    release(h, 'a', a.token);
    assert.equal(g1.outcomes.length, 0, 'g1 still lacks b');
    assert.equal(second.outcomes.length, 0, 'second queues behind g1 on a');
    release(h, 'b', b1.token);
    const granted1 = grantedOf(g1);
    order.push('g1');
    for (const grant of granted1.grants) release(h, grant.name, grant.token);
    const a2 = grantOf(second);
    order.push('second');
    assert.equal(g2.outcomes.length, 0);
    release(h, 'a', a2.token);
    grantedOf(g2);
    order.push('g2');
    assert.deepEqual(order, ['first', 'g1', 'second', 'g2']);
  });

  test('two groups naming the same names in opposite orders never deadlock', () => {
    const h = build();
    const x = acquire(h, { name: 'x', ttlMs: 5_000 });
    const g1 = waitAll(h, { locks: names('x', 'y'), ttlMs: 1_000, waitMs: 10_000 });
    const g2 = waitAll(h, { locks: names('y', 'x'), ttlMs: 1_000, waitMs: 10_000 });
    assert.deepEqual(holders(h, 'y'), []);
    release(h, 'x', x.token);
    const first = grantedOf(g1);
    assert.equal(g2.outcomes.length, 0);
    releaseAll(h, first.grants.map((g) => ({ name: g.name, token: g.token })));
    assert.deepEqual(grantedOf(g2).grants.map((g) => g.name), ['y', 'x']);
  });

  test('readers in a group share with readers; a group fits a semaphore only when every name has room', () => {
    const h = build();
    acquire(h, { name: 'r', ttlMs: 5_000, mode: 'read' });
    const s1 = acquire(h, { name: 's', ttlMs: 5_000, limit: 2 });
    acquire(h, { name: 's', ttlMs: 5_000, limit: 2 });
    const group = waitAll(h, { locks: [{ name: 'r', mode: 'read' }, { name: 's', limit: 2 }], ttlMs: 1_000, waitMs: 10_000 });
    assert.equal(group.outcomes.length, 0);
    release(h, 's', s1.token);
    assert.equal(holders(h, 'r').length, 2);
    assert.equal(grantedOf(group).grants[0]!.mode, 'read');
  });

  test('a timeout takes every entry out at once and answers lock_held naming the names that blocked', () => {
    const h = build();
    acquire(h, { name: 'b', ttlMs: 50_000 });
    const group = waitAll(h, { locks: names('a', 'b', 'c'), ttlMs: 1_000, waitMs: 500 });
    const behind = wait(h, { name: 'a', ttlMs: 1_000, waitMs: 10_000 });
    advance(h, 499);
    assert.equal(group.outcomes.length, 0);
    advance(h, 1);
    const outcome = group.outcomes[0]!;
    assert.equal(group.outcomes.length, 1);
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.code, 'lock_held');
    assert.deepEqual(outcome.error.details['names'], ['b']);
    assert.equal(h.machine.locks.byName.has('c'), false, 'its entry on c left, and c with it');
    grantOf(behind);
    assert.equal(eventsOf(h, 'waiter_left').filter((e) => e.reason === 'timeout').length, 3);
  });

  test('a cancel takes every entry out at once; the queues behind move', () => {
    const h = build();
    const b = acquire(h, { name: 'b', ttlMs: 50_000 });
    const group = waitAll(h, { locks: names('a', 'b'), ttlMs: 1_000, waitMs: 10_000 });
    const behind = wait(h, { name: 'a', ttlMs: 1_000, waitMs: 10_000 });
    h.machine.run((m) => m.locks.cancelAll(group.group));
    assert.equal(group.outcomes.length, 0, 'a cancelled wait is not answered by the domain');
    grantOf(behind);
    release(h, 'b', b.token);
    assert.equal(h.machine.locks.byName.has('b'), false);
    assert.equal(h.machine.locks.waiterCount, 0);
  });

  test('the end of the lease a group waits on takes the group out: lease_not_found', () => {
    const h = build();
    acquire(h, { name: 'b', ttlMs: 50_000 });
    const id = grantLease(h, 300);
    const group = waitAll(h, { locks: names('a', 'b'), leaseId: id, waitMs: 10_000 });
    advance(h, 300);
    assert.equal(group.outcomes.length, 1);
    const outcome = group.outcomes[0]!;
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.code, 'lease_not_found');
    assert.equal(h.machine.locks.waiterCount, 0);
    assert.equal(h.machine.locks.byName.has('a'), false);
  });

  test('a single waiter left alone on a name a group left is granted', () => {
    const h = build();
    const b = acquire(h, { name: 'b', ttlMs: 50_000 });
    const group = waitAll(h, { locks: names('a', 'b'), ttlMs: 1_000, waitMs: 100 });
    const single = wait(h, { name: 'a', ttlMs: 1_000, waitMs: 10_000 });
    advance(h, 100);
    assert.equal(group.outcomes.length, 1);
    assert.ok(grantOf(single).token > b.token);
  });
});

describe('multi-lock: release', () => {
  test('released one by one, its own lease lives until the last hold goes', () => {
    const h = build();
    const granted = acquireAll(h, { locks: names('a', 'b', 'c'), ttlMs: 2_000 });
    const [a, b, c] = granted.grants;
    release(h, 'b', b!.token);
    assert.ok(h.machine.leases.byId.has(granted.leaseId), 'the lease stays while holds remain');
    assert.deepEqual(holders(h, 'a'), [a!.token]);
    release(h, 'a', a!.token);
    assert.ok(h.machine.leases.byId.has(granted.leaseId));
    release(h, 'c', c!.token);
    assert.equal(h.machine.leases.byId.has(granted.leaseId), false, 'the lease ends with its last hold');
    assert.deepEqual(eventsOf(h, 'lease_ended').map((e) => e.reason), ['released']);
  });

  test('a single acquire with ttlMs still takes its lease with its release, and any hold taken on it', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 2_000 });
    const other = acquire(h, { name: 'y', leaseId: grant.leaseId });
    release(h, 'x', grant.token);
    assert.equal(h.machine.leases.byId.size, 0);
    assert.deepEqual(holders(h, 'y'), [], `hold ${other.token} went with the lease`);
  });

  test('released together, atomically: all or, when one is not held, none', () => {
    const h = build();
    const granted = acquireAll(h, { locks: names('a', 'b'), ttlMs: 2_000 });
    const refs = granted.grants.map((g) => ({ name: g.name, token: g.token }));
    expectError(() => releaseAll(h, [...refs, { name: 'c', token: 99 }]), 'not_holder', { name: 'c', token: 99 });
    assert.deepEqual(holders(h, 'a'), [refs[0]!.token], 'nothing released on a refusal');
    expectError(() => releaseAll(h, [refs[0]!, refs[0]!]), 'invalid_request', { field: 'holds.1' });
    expectError(() => releaseAll(h, []), 'invalid_request', { field: 'holds' });
    const released = releaseAll(h, refs);
    assert.deepEqual(released.map((g) => g.name), ['a', 'b']);
    assert.equal(h.machine.locks.byName.size, 0);
    assert.equal(h.machine.leases.byId.size, 0);
  });

  test('an expiry ends every hold of the group at once; a late release is not_holder (expired)', () => {
    const h = build();
    const granted = acquireAll(h, { locks: names('a', 'b'), ttlMs: 1_000 });
    advance(h, 1_000);
    assert.equal(h.machine.locks.byName.size, 0);
    expectError(() => releaseAll(h, granted.grants.map((g) => ({ name: g.name, token: g.token }))), 'not_holder', { name: 'a', reason: 'expired' });
  });

  test('maxHoldMs ends each hold; the group lease ends with the last', () => {
    const h = build();
    const granted = acquireAll(h, { locks: names('a', 'b'), ttlMs: 10_000, maxHoldMs: 500 });
    release(h, 'a', granted.grants[0]!.token);
    advance(h, 500);
    assert.equal(h.machine.locks.byName.size, 0);
    assert.equal(h.machine.leases.byId.size, 0);
    assert.deepEqual(eventsOf(h, 'lock_released').map((e) => [e.name, e.reason]), [['a', 'released'], ['b', 'max_hold']]);
  });
});
