import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HoldTable, noHold } from '../../src/domain/hold-table.js';
import { lockHolderMap } from '../../src/domain/lock-extra.js';
import { addHolder, holderList, holderOf, removeHolder } from '../../src/domain/lock-holders.js';
import { Lease, Lock } from '../../src/domain/model.js';
import { build } from '../helpers/machine.js';

function bareLock(name: string, limit = 3): Lock {
  return new Lock(name, limit);
}

function bareLease(id: string): Lease {
  return new Lease(id, 'plain', 1_000, undefined, false);
}

describe('hold table', () => {
  test('a row keeps every field of its hold; a free row is reused, and the old token no longer names it', () => {
    const table = new HoldTable();
    const lock = bareLock('n');
    const lease = bareLease('L');
    const extra = { lockDelayMs: 5, priority: 2, principal: 'team', maxHold: null, yieldRequest: null };
    const a = table.add(lock, lease, 7, 'read', 'me', 1_700_000_000_123, extra);
    assert.deepEqual(table.record(a), {
      name: 'n', mode: 'read', token: 7, owner: 'me', lease, acquiredAtWallMs: 1_700_000_000_123, principal: 'team',
      lockDelayMs: 5, priority: 2, maxHold: null, yieldRequest: null,
    });
    assert.equal(table.holds(a, 7), true);
    assert.equal(table.holds(a, 8), false);
    table.remove(a);
    assert.equal(table.size, 0);
    assert.equal(table.holds(a, 7), false, 'an ended hold is no longer held');
    const b = table.add(lock, lease, 9, 'write', '', 1, null);
    assert.equal(b, a, 'the freed row is reused');
    assert.equal(table.holds(b, 7), false, 'the reused row does not answer for the old token');
    assert.equal(table.holds(b, 9), true);
    assert.deepEqual([table.mode(b), table.owner(b), table.principal(b), table.lockDelayMs(b), table.priority(b)], ['write', '', undefined, 0, 0]);
  });

  test('grows past its first rows and keeps what they held', () => {
    const table = new HoldTable();
    const lease = bareLease('L');
    const locks = Array.from({ length: 5_000 }, (_, i) => bareLock(`n${i}`));
    const slots = locks.map((lock, i) => table.add(lock, lease, i + 1, i % 2 === 0 ? 'write' : 'read', `o${i}`, 1_000 + i, null));
    assert.equal(table.size, 5_000);
    for (const i of [0, 1023, 1024, 1535, 1536, 4999]) {
      const slot = slots[i]!;
      assert.deepEqual([table.token(slot), table.name(slot), table.owner(slot), table.acquiredAtWallMs(slot), table.mode(slot)],
        [i + 1, `n${i}`, `o${i}`, 1_000 + i, i % 2 === 0 ? 'write' : 'read']);
    }
    assert.equal(lease.holdCount, 5_000);
    assert.deepEqual(table.onLease(lease).slice(1020, 1030), slots.slice(1020, 1030));
  });
});

// The two structures that replaced a Set per lease and a Map per lock, on real holds.
describe('holders of a lock', () => {
  test('one holder sits in the lock; a second brings a Map in grant order, kept until the name goes', () => {
    const h = build();
    const table = h.machine.locks.holdTable;
    const first = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000, limit: 3 }));
    assert.ok('granted' in first);
    const lock = h.machine.locks.byName.get('s')!;
    assert.equal(lockHolderMap(lock), null);
    assert.equal(table.token(lock.holder), first.granted.token);
    assert.equal(holderOf(table, lock, first.granted.token + 1), noHold, 'another token is not the lone holder');
    const second = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000 }));
    const third = h.machine.run((m) => m.locks.acquire({ name: 's', ttlMs: 10_000 }));
    assert.ok('granted' in second && 'granted' in third);
    assert.equal(lock.holder, noHold);
    assert.deepEqual(holderList(lock).map((hold) => table.token(hold)), [first.granted.token, second.granted.token, third.granted.token]);
    h.machine.run((m) => m.locks.release('s', second.granted.token));
    h.machine.run((m) => m.locks.release('s', third.granted.token));
    assert.equal(lock.holderCount, 1);
    assert.notEqual(lockHolderMap(lock), null, 'the Map stays while the name lives');
    assert.equal(table.token(holderOf(table, lock, first.granted.token)), first.granted.token);
    h.machine.run((m) => m.locks.release('s', first.granted.token));
    assert.equal(h.machine.locks.byName.has('s'), false);
    assert.equal(table.size, 0);
  });

  test('adding and removing by hand keeps count and order', () => {
    const h = build();
    const table = h.machine.locks.holdTable;
    const granted = ['n1', 'n2', 'n3'].map((name) => h.machine.run((m) => m.locks.acquire({ name, ttlMs: 10_000 })));
    const holds = granted.map((result) => {
      assert.ok('granted' in result);
      return h.machine.locks.byName.get(result.granted.name)!.holder;
    });
    const lock = bareLock('x');
    for (const hold of holds) addHolder(table, lock, hold);
    removeHolder(lock, table.token(holds[0]!));
    assert.equal(lock.holderCount, 2);
    assert.deepEqual(holderList(lock), [holds[1], holds[2]]);
  });
});

describe('holds on a lease', () => {
  test('grant order, unlinking at the head, the middle and the tail, and the end of the lease takes the rest', () => {
    const h = build();
    const table = h.machine.locks.holdTable;
    const lease = h.machine.run((m) => m.leases.grant(10_000));
    const tokens = ['a', 'b', 'c', 'd', 'e'].map((name) => {
      const result = h.machine.run((m) => m.locks.acquire({ name, leaseId: lease.id }));
      assert.ok('granted' in result);
      return result.granted.token;
    });
    const onLease = (): number[] => h.machine.locks.holdsOn(lease).map((hold) => hold.token);
    assert.deepEqual(onLease(), tokens);
    h.machine.run((m) => m.locks.release('c', tokens[2]!));
    h.machine.run((m) => m.locks.release('a', tokens[0]!));
    h.machine.run((m) => m.locks.release('e', tokens[4]!));
    assert.deepEqual(onLease(), [tokens[1], tokens[3]]);
    assert.equal(lease.holdCount, 2);
    assert.equal(table.token(lease.firstHold), tokens[1]);
    assert.equal(table.nextOnLease(lease.lastHold), noHold);
    assert.equal(table.nextOnLease(lease.firstHold), lease.lastHold);
    const ended = h.machine.run((m) => m.leases.revoke(lease.id));
    assert.deepEqual(ended.released.map((ref) => ref.token), [tokens[1], tokens[3]]);
    assert.equal(lease.holdCount, 0);
    assert.equal(lease.firstHold, noHold);
    assert.equal(lease.lastHold, noHold);
  });

  test('a release of several holds where one ends the lease another is on answers both and ends each once', () => {
    const h = build();
    const own = h.machine.run((m) => m.locks.acquire({ name: 'a', ttlMs: 10_000 }));
    assert.ok('granted' in own);
    const onIt = h.machine.run((m) => m.locks.acquire({ name: 'b', leaseId: own.granted.leaseId }));
    assert.ok('granted' in onIt);
    const other = h.machine.run((m) => m.locks.acquire({ name: 'c', ttlMs: 10_000 }));
    assert.ok('granted' in other);
    const grants = h.machine.run((m) => m.locks.releaseAll([
      { name: 'a', token: own.granted.token }, { name: 'b', token: onIt.granted.token }, { name: 'c', token: other.granted.token },
    ]));
    assert.deepEqual(grants.map((grant) => grant.token), [own.granted.token, onIt.granted.token, other.granted.token]);
    assert.equal(h.machine.locks.holdCount, 0);
    assert.equal(h.machine.locks.holdTable.size, 0);
    assert.equal(h.machine.locks.byName.size, 0);
    // The machine still works on the rows it freed.
    const again = h.machine.run((m) => m.locks.acquire({ name: 'b', ttlMs: 10_000 }));
    assert.ok('granted' in again);
    assert.equal(h.machine.locks.byName.get('b')!.holderCount, 1);
  });
});
