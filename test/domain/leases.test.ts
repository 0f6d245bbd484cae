import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  acquire,
  advance,
  build,
  eventsOf,
  expectError,
  grantLease,
  wait,
  errorOf,
  realHashing,
} from '../helpers/machine.js';
import { StateMachine } from '../../src/domain/state-machine.js';
import { leaseHoldCountMax, makeLimits } from '../../src/limits.js';
import { Lease } from '../../src/domain/model.js';
import { leaseMembers } from '../../src/domain/lease-extra.js';

describe('lease grant, keepalive, revoke, inspect', () => {
  test('grant returns a live lease whose expiresAt is wall time + ttlMs', () => {
    const h = build();
    const lease = h.machine.run((m) => m.leases.grant(1_500));
    assert.equal(lease.ttlMs, 1_500);
    assert.equal(lease.kind, 'plain');
    assert.equal(h.machine.leases.expiresAt(lease), h.clock.wallMs() + 1_500);
    assert.equal(h.machine.leases.live(lease.id), lease);
    assert.deepEqual(eventsOf(h, 'lease_granted'), [{ type: 'lease_granted', leaseId: lease.id, ttlMs: 1_500, kind: 'plain' }]);
  });

  test('expiresAt is one value per deadline: whole-millisecond wall time does not make it wobble; a wall step shows', () => {
    // The system clocks: the monotonic one in fractions, the wall one in whole milliseconds.
    let monoMs = 1_000.25;
    let wallStepMs = 0;
    const clock = { monoMs: () => monoMs, wallMs: () => Math.floor(1_700_000_000_000.6 + monoMs) + wallStepMs };
    const machine = new StateMachine({ clock, limits: makeLimits({}), hashing: realHashing, newLeaseId: () => 'L1' });
    const lease = machine.run((m) => m.leases.grant(1_000));
    const shown = new Set<number | null>();
    for (let i = 0; i < 40; i++) {
      monoMs += 0.37;
      shown.add(machine.leases.expiresAt(lease));
    }
    assert.equal(shown.size, 1, `one deadline shown as ${[...shown].join(', ')}`);
    const [before] = shown;
    wallStepMs = 5_000;
    const stepped = machine.leases.expiresAt(lease)!;
    assert.ok(Math.abs(stepped - (before! + 5_000)) <= 1, `after a 5 s step: ${stepped - before!} ms later`);
  });

  test('ids are distinct', () => {
    const h = build();
    const ids = new Set(Array.from({ length: 50 }, () => grantLease(h)));
    assert.equal(ids.size, 50);
  });

  test('inspect shows the holds and ring members hanging on the lease', () => {
    const h = build();
    const id = grantLease(h);
    const a = acquire(h, { name: 'a', leaseId: id });
    const b = acquire(h, { name: 'b', leaseId: id });
    h.machine.run((m) => m.rings.putMember('r', 'n1', { leaseId: id }));
    const lease = h.machine.leases.live(id);
    assert.deepEqual(
      h.machine.locks.holdsOn(lease).map((hold) => [hold.name, hold.token]),
      [['a', a.token], ['b', b.token]],
    );
    assert.deepEqual([...(leaseMembers(lease) ?? [])].map((m) => [m.ring.name, m.id]), [['r', 'n1']]);
  });

  test('unknown ids are lease_not_found everywhere', () => {
    const h = build();
    expectError(() => h.machine.leases.live('nope'), 'lease_not_found', { leaseId: 'nope' });
    expectError(() => h.machine.run((m) => m.leases.keepalive('nope')), 'lease_not_found');
    expectError(() => h.machine.run((m) => m.leases.revoke('nope')), 'lease_not_found');
  });

  test('revoke ends the lease once; a second revoke is lease_not_found', () => {
    const h = build();
    const id = grantLease(h);
    assert.deepEqual(h.machine.run((m) => m.leases.revoke(id)), { released: [], removed: [] });
    expectError(() => h.machine.run((m) => m.leases.revoke(id)), 'lease_not_found');
    expectError(() => h.machine.run((m) => m.leases.keepalive(id)), 'lease_not_found');
    const ended = eventsOf(h, 'lease_ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.reason, 'revoked');
    assert.equal(ended[0]!.latenessMs, 0);
  });
});

describe('lease expiry to the millisecond', () => {
  test('alive at deadline - 1, expired by tick at the deadline', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    assert.equal(advance(h, 999), 0);
    assert.equal(h.machine.leases.live(id).id, id);
    assert.equal(h.machine.nextDeadlineMs(), h.clock.monoMs() + 1);
    assert.equal(advance(h, 1), 1);
    assert.equal(h.machine.leases.byId.has(id), false);
    expectError(() => h.machine.leases.live(id), 'lease_not_found');
    const ended = eventsOf(h, 'lease_ended');
    assert.deepEqual(ended.map((e) => [e.leaseId, e.reason, e.latenessMs]), [[id, 'expired', 0]]);
  });

  test('a tick that runs late reports its lateness', () => {
    const h = build();
    grantLease(h, 1_000);
    advance(h, 1_250);
    assert.equal(eventsOf(h, 'lease_ended')[0]!.latenessMs, 250);
  });

  test('keepalive exactly at the deadline fails even though tick() has not run', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.clock.advance(1_000);
    expectError(() => h.machine.run((m) => m.leases.keepalive(id)), 'lease_not_found', { leaseId: id });
    // The lazy check processed the expiry: nothing is left for the loop.
    assert.equal(eventsOf(h, 'lease_ended').length, 1);
    assert.equal(eventsOf(h, 'lease_ended')[0]!.reason, 'expired');
    assert.equal(h.machine.tick().processed, 0);
    assert.equal(h.machine.nextDeadlineMs(), undefined);
  });

  test('keepalive after the deadline fails, also with a new ttlMs', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.clock.advance(5_000);
    expectError(() => h.machine.run((m) => m.leases.keepalive(id, 60_000)), 'lease_not_found');
    expectError(() => h.machine.leases.live(id), 'lease_not_found');
  });

  test('revoke after the deadline is lease_not_found and the lease counts as expired', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.clock.advance(1_000);
    expectError(() => h.machine.run((m) => m.leases.revoke(id)), 'lease_not_found');
    assert.deepEqual(eventsOf(h, 'lease_ended').map((e) => e.reason), ['expired']);
  });

  test('keepalive at deadline - 1 moves the deadline to now + ttlMs', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.clock.advance(999);
    const lease = h.machine.run((m) => m.leases.keepalive(id));
    assert.equal(h.machine.leases.expiresAt(lease), h.clock.wallMs() + 1_000);
    assert.equal(advance(h, 999), 0);
    h.machine.leases.live(id);
    assert.equal(advance(h, 1), 1);
    expectError(() => h.machine.leases.live(id), 'lease_not_found');
  });

  test('keepalive with ttlMs changes the ttl for this and later keepalives', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.machine.run((m) => m.leases.keepalive(id, 300));
    assert.equal(h.machine.leases.live(id).ttlMs, 300);
    advance(h, 299);
    h.machine.run((m) => m.leases.keepalive(id));
    advance(h, 299);
    h.machine.leases.live(id);
    advance(h, 1);
    expectError(() => h.machine.leases.live(id), 'lease_not_found');
  });

  test('keepalive can shorten a lease', () => {
    const h = build();
    const id = grantLease(h, 10_000);
    h.machine.run((m) => m.leases.keepalive(id, 100));
    assert.equal(advance(h, 100), 1);
    expectError(() => h.machine.leases.live(id), 'lease_not_found');
  });

  test('a wall-clock jump changes no deadline, only the displayed expiresAt', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    const lease = h.machine.leases.live(id);
    h.clock.jumpWall(3_600_000);
    assert.equal(h.machine.tick().processed, 0);
    h.machine.leases.live(id);
    assert.equal(h.machine.leases.expiresAt(lease), h.clock.wallMs() + 1_000);
    h.clock.jumpWall(-86_400_000);
    assert.equal(advance(h, 999), 0);
    h.machine.run((m) => m.leases.keepalive(id));
    assert.equal(advance(h, 999), 0);
    assert.equal(advance(h, 1), 1);
  });

  test('many leases with the same deadline all expire in one tick, in grant order', () => {
    const h = build();
    const ids = Array.from({ length: 20 }, () => grantLease(h, 500));
    assert.equal(advance(h, 500), 20);
    assert.deepEqual(eventsOf(h, 'lease_ended').map((e) => e.leaseId), ids);
  });

  test('tick honours its budget and reports more', () => {
    const h = build();
    for (let i = 0; i < 5; i++) grantLease(h, 500);
    h.clock.advance(500);
    assert.deepEqual(h.machine.tick(2), { processed: 2, work: 2, more: true });
    assert.deepEqual(h.machine.tick(2), { processed: 2, work: 2, more: true });
    assert.deepEqual(h.machine.tick(2), { processed: 1, work: 1, more: false });
    assert.equal(h.machine.leases.byId.size, 0);
  });
});

describe('lease ttl bounds and limits', () => {
  for (const ttlMs of [99, 0, -1, 86_400_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    test(`grant with ttlMs ${ttlMs} is invalid_request and creates nothing`, () => {
      const h = build();
      const error = expectError(() => h.machine.run((m) => m.leases.grant(ttlMs)), 'invalid_request', { field: 'ttlMs' });
      assert.match(error.message, /100 to 86400000/);
      assert.equal(h.machine.leases.byId.size, 0);
      assert.equal(h.events.length, 0);
    });
  }

  test('ttlMs 100 and 86,400,000 are accepted', () => {
    const h = build();
    grantLease(h, 100);
    grantLease(h, 86_400_000);
    assert.equal(h.machine.leases.byId.size, 2);
  });

  test('keepalive with an out-of-range ttlMs is invalid_request and keeps the deadline', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    h.clock.advance(500);
    expectError(() => h.machine.run((m) => m.leases.keepalive(id, 99)), 'invalid_request');
    expectError(() => h.machine.run((m) => m.leases.keepalive(id, 86_400_001)), 'invalid_request');
    assert.equal(h.machine.leases.live(id).ttlMs, 1_000);
    assert.equal(advance(h, 500), 1);
  });

  test('configured bounds are used', () => {
    const h = build({ limits: { ttlMsMin: 10, ttlMsMax: 50 } });
    grantLease(h, 10);
    expectError(() => h.machine.run((m) => m.leases.grant(51)), 'invalid_request');
  });

  test('leasesMax is limit_exceeded naming the limit; room comes back when a lease ends', () => {
    const h = build({ limits: { leasesMax: 3 } });
    const ids = [grantLease(h), grantLease(h), grantLease(h)];
    expectError(() => h.machine.run((m) => m.leases.grant(1_000)), 'limit_exceeded', { limit: 'leasesMax', max: 3 });
    expectError(() => h.machine.run((m) => m.leases.openSession(1_000)), 'limit_exceeded', { limit: 'leasesMax' });
    // An acquire that would make its own lease is refused too, and leaves no lock behind.
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000 })), 'limit_exceeded', { limit: 'leasesMax' });
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
    h.machine.run((m) => m.leases.revoke(ids[0]!));
    grantLease(h);
    assert.equal(h.machine.leases.byId.size, 3);
  });
});

describe('lease end releases everything at once', () => {
  function loaded() {
    const h = build();
    const id = grantLease(h, 1_000);
    const other = grantLease(h, 60_000);
    const a = acquire(h, { name: 'a', leaseId: id, owner: 'me' });
    const b = acquire(h, { name: 'b', leaseId: id, limit: 3 });
    const shared = acquire(h, { name: 'b', leaseId: other });
    h.machine.run((m) => {
      m.rings.putMember('r1', 'n1', { leaseId: id });
      m.rings.putMember('r1', 'keep', {});
      m.rings.putMember('r2', 'n2', { leaseId: id, weight: 2 });
    });
    const versions = [h.machine.rings.get('r1').version, h.machine.rings.get('r2').version];
    return { h, id, a, b, shared, versions };
  }

  function assertAllGone(ctx: ReturnType<typeof loaded>, reason: 'revoked' | 'expired') {
    const { h, a, b, shared, versions } = ctx;
    expectError(() => h.machine.locks.inspect('a'), 'lock_not_found');
    assert.deepEqual(h.machine.locks.inspect('b').holders.map((x) => x.token), [shared.token]);
    assert.deepEqual([...h.machine.rings.get('r1').members.keys()], ['keep']);
    assert.deepEqual([...h.machine.rings.get('r2').members.keys()], []);
    assert.equal(h.machine.rings.get('r1').version, versions[0]! + 1);
    assert.equal(h.machine.rings.get('r2').version, versions[1]! + 1);
    expectError(() => h.machine.run((m) => m.locks.release('a', a.token)), 'not_holder', { reason });
    expectError(() => h.machine.run((m) => m.locks.release('b', b.token)), 'not_holder', { reason });
    assert.equal(h.machine.locks.check('b', shared.token), true);
    const released = eventsOf(h, 'lock_released');
    assert.deepEqual(released.map((e) => [e.name, e.token, e.reason]), [['a', a.token, reason], ['b', b.token, reason]]);
  }

  test('revoke returns every hold and member, and they are gone', () => {
    const ctx = loaded();
    const { h, id, a, b } = ctx;
    const ending = h.machine.run((m) => m.leases.revoke(id));
    assert.deepEqual(ending.released, [{ name: 'a', token: a.token }, { name: 'b', token: b.token }]);
    assert.deepEqual(ending.removed, [{ ring: 'r1', node: 'n1' }, { ring: 'r2', node: 'n2' }]);
    assertAllGone(ctx, 'revoked');
    const ended = eventsOf(h, 'lease_ended');
    assert.equal(ended.length, 1);
    assert.deepEqual(ended[0]!.released, ending.released);
    assert.deepEqual(ended[0]!.removed, ending.removed);
  });

  test('expiry does the same, in one event', () => {
    const ctx = loaded();
    const { h, id, a, b } = ctx;
    assert.equal(advance(h, 1_000), 1);
    const ended = eventsOf(h, 'lease_ended');
    assert.deepEqual(
      ended.map((e) => [e.leaseId, e.reason, e.released, e.removed]),
      [[id, 'expired', [{ name: 'a', token: a.token }, { name: 'b', token: b.token }], [{ ring: 'r1', node: 'n1' }, { ring: 'r2', node: 'n2' }]]],
    );
    assertAllGone(ctx, 'expired');
  });

  test('lazy expiry (found dead by an inspect) releases everything too', () => {
    const ctx = loaded();
    const { h } = ctx;
    h.clock.advance(1_000);
    expectError(() => h.machine.locks.inspect('a'), 'lock_not_found');
    assertAllGone(ctx, 'expired');
    assert.equal(h.machine.tick().processed, 0);
  });
});

describe('session leases', () => {
  test('no expiry while attached; expires ttlMs after detach', () => {
    const h = build();
    const session = h.machine.run((m) => m.leases.openSession(1_000));
    assert.equal(session.kind, 'session');
    assert.equal(h.machine.leases.expiresAt(session), null);
    assert.equal(h.machine.nextDeadlineMs(), undefined);
    assert.equal(advance(h, 10 * 86_400_000), 0);
    h.machine.leases.live(session.id);
    h.machine.run((m) => m.leases.keepalive(session.id));
    assert.equal(h.machine.leases.expiresAt(session), null, 'keepalive does not start a countdown');

    h.machine.run((m) => m.leases.detach(session.id));
    assert.equal(h.machine.leases.expiresAt(session), h.clock.wallMs() + 1_000);
    assert.equal(advance(h, 999), 0);
    h.machine.leases.live(session.id);
    assert.equal(advance(h, 1), 1);
    expectError(() => h.machine.leases.live(session.id), 'lease_not_found');
  });

  test('attach stops the countdown again; detach restarts it from now', () => {
    const h = build();
    const session = h.machine.run((m) => m.leases.openSession(1_000));
    const hold = acquire(h, { name: 'x', leaseId: session.id });
    h.machine.run((m) => m.leases.detach(session.id));
    advance(h, 999);
    h.machine.run((m) => m.leases.attach(session.id));
    assert.equal(h.machine.leases.expiresAt(session), null);
    assert.equal(advance(h, 5_000), 0);
    assert.equal(h.machine.locks.check('x', hold.token), true);
    h.machine.run((m) => m.leases.detach(session.id));
    assert.equal(advance(h, 999), 0);
    assert.equal(advance(h, 1), 1);
    assert.equal(h.machine.locks.check('x', hold.token), false);
  });

  test('attach after the detached deadline is lease_not_found, even before tick', () => {
    const h = build();
    const session = h.machine.run((m) => m.leases.openSession(1_000));
    h.machine.run((m) => m.leases.detach(session.id));
    h.clock.advance(1_000);
    expectError(() => h.machine.run((m) => m.leases.attach(session.id)), 'lease_not_found');
  });

  test('attach of a non-session lease is invalid_request and changes nothing', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    expectError(() => h.machine.run((m) => m.leases.attach(id)), 'invalid_request', { field: 'leaseId' });
    assert.equal(advance(h, 1_000), 1, 'the plain lease still expires on time');
  });

  test('a hold lease (acquire with ttlMs) cannot be attached', () => {
    const h = build();
    const grant = acquire(h, { name: 'x', ttlMs: 1_000 });
    expectError(() => h.machine.run((m) => m.leases.attach(grant.leaseId)), 'invalid_request');
  });

  test('detach of an unknown or already detached lease is a no-op', () => {
    const h = build();
    h.machine.run((m) => m.leases.detach('nope'));
    const session = h.machine.run((m) => m.leases.openSession(1_000));
    h.machine.run((m) => m.leases.detach(session.id));
    advance(h, 600);
    h.machine.run((m) => m.leases.detach(session.id));
    assert.equal(advance(h, 400), 1, 'a second detach did not restart the countdown');
  });

  test('a session can be revoked while attached', () => {
    const h = build();
    const session = h.machine.run((m) => m.leases.openSession(1_000));
    const hold = acquire(h, { name: 'x', leaseId: session.id });
    const ending = h.machine.run((m) => m.leases.revoke(session.id));
    assert.deepEqual(ending.released, [{ name: 'x', token: hold.token }]);
  });
});

describe('lease end and waiters', () => {
  test('a waiter on a revoked lease gets lease_not_found', () => {
    const h = build();
    acquire(h, { name: 'x', ttlMs: 10_000 });
    const id = grantLease(h, 10_000);
    const waiting = wait(h, { name: 'x', leaseId: id, waitMs: 5_000 });
    h.machine.run((m) => m.leases.revoke(id));
    assert.equal(errorOf(waiting).code, 'lease_not_found');
    assert.equal(h.machine.locks.inspect('x').waiters, 0);
  });
});

describe('a lease record', () => {
  test('its hold count and its kind and flags share one integer without touching each other', () => {
    const lease = new Lease('L', 'session', 1_000, undefined, true);
    lease.holdCount = leaseHoldCountMax;
    assert.equal(lease.kind, 'session');
    assert.equal(lease.attached, true);
    assert.equal(lease.ended, false);
    lease.attached = false;
    lease.ended = true;
    assert.equal(lease.holdCount, leaseHoldCountMax, 'flags leave the count alone');
    lease.holdCount -= 1;
    assert.equal(lease.holdCount, leaseHoldCountMax - 1);
    assert.deepEqual([lease.kind, lease.attached, lease.ended], ['session', false, true], 'the count leaves the flags alone');
    lease.holdCount = 0;
    assert.deepEqual([lease.holdCount, lease.kind, lease.attached, lease.ended], [0, 'session', false, true]);
  });
});
