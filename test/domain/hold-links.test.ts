import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { holdsOnLease, linkHold, unlinkHold } from '../../src/domain/lease-holds.js';
import { addHolder, holderList, holderOf, removeHolder } from '../../src/domain/lock-holders.js';
import { build } from '../helpers/machine.js';
import { lockHolderMap } from '../../src/domain/lock-extra.js';

// The two structures that replaced a Set per lease and a Map per lock, on real holds.
describe('holders of a lock', () => {
  test('one holder sits in the lock; a second brings a Map in grant order, kept until the name goes', () => {
    const h = build();
    const first = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000, limit: 3 }));
    assert.ok('granted' in first);
    const lock = h.machine.locks.byName.get('s')!;
    assert.equal(lockHolderMap(lock), null);
    assert.equal(lock.holder?.token, first.granted.token);
    assert.equal(holderOf(lock, first.granted.token + 1), undefined, 'another token is not the lone holder');
    const second = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000 }));
    const third = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000 }));
    assert.ok('granted' in second && 'granted' in third);
    assert.equal(lock.holder, null);
    assert.deepEqual(holderList(lock).map((hold) => hold.token), [first.granted.token, second.granted.token, third.granted.token]);
    h.machine.run((m) => m.locks.release('s', second.granted.token));
    h.machine.run((m) => m.locks.release('s', third.granted.token));
    assert.equal(lock.holderCount, 1);
    assert.notEqual(lockHolderMap(lock), null, 'the Map stays while the name lives');
    assert.equal(holderOf(lock, first.granted.token)?.token, first.granted.token);
    h.machine.run((m) => m.locks.release('s', first.granted.token));
    assert.equal(h.machine.locks.byName.has('s'), false);
  });

  test('adding and removing by hand keeps count and order', () => {
    const h = build();
    const granted = ['n1', 'n2', 'n3'].map((name) => h.machine.run((m) => m.locks.acquire({ name, ttlMs: 10_000 })));
    const holds = granted.map((result) => {
      assert.ok('granted' in result);
      return h.machine.locks.byName.get(result.granted.name)!.holder!;
    });
    const lock = { name: 'x', limit: 3, holder: null, holderCount: 0, waiterHead: null, waiterTail: null, waiterCount: 0, extra: null };
    for (const hold of holds) addHolder(lock, hold);
    removeHolder(lock, holds[0]!);
    assert.equal(lock.holderCount, 2);
    assert.deepEqual(holderList(lock), [holds[1], holds[2]]);
  });
});

describe('holds on a lease', () => {
  test('grant order, unlinking at the head, the middle and the tail, and the end of the lease takes the rest', () => {
    const h = build();
    const lease = h.machine.run((m) => m.leases.grant(10_000));
    const tokens = ['a', 'b', 'c', 'd', 'e'].map((name) => {
      const result = h.machine.run((m) => m.locks.acquire({ name, leaseId: lease.id }));
      assert.ok('granted' in result);
      return result.granted.token;
    });
    const onLease = (): number[] => holdsOnLease(lease).map((hold) => hold.token);
    assert.deepEqual(onLease(), tokens);
    h.machine.run((m) => m.locks.release('c', tokens[2]!));
    h.machine.run((m) => m.locks.release('a', tokens[0]!));
    h.machine.run((m) => m.locks.release('e', tokens[4]!));
    assert.deepEqual(onLease(), [tokens[1], tokens[3]]);
    assert.equal(lease.holdCount, 2);
    assert.equal(lease.firstHold?.leasePrev, null);
    assert.equal(lease.lastHold?.leaseNext, null);
    const ended = h.machine.run((m) => m.leases.revoke(lease.id));
    assert.deepEqual(ended.released.map((ref) => ref.token), [tokens[1], tokens[3]]);
    assert.equal(lease.holdCount, 0);
    assert.equal(lease.firstHold, null);
  });

  test('unlink then link again puts a hold at the tail', () => {
    const h = build();
    const lease = h.machine.run((m) => m.leases.grant(10_000));
    for (const name of ['a', 'b']) h.machine.run((m) => m.locks.acquire({ name, leaseId: lease.id }));
    const [a, b] = holdsOnLease(lease);
    unlinkHold(lease, a!);
    assert.deepEqual(holdsOnLease(lease), [b]);
    linkHold(lease, a!);
    assert.deepEqual(holdsOnLease(lease), [b, a]);
    assert.equal(lease.holdCount, 2);
  });
});
