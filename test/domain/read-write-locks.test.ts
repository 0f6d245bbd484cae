import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { acquire, advance, build, eventsOf, expectError, grantLease, grantOf, wait, type Harness } from '../helpers/machine.js';
import { lockReaders } from '../../src/domain/lock-extra.js';

const read = (h: Harness, name = 'x', owner = 'r') => acquire(h, { name, ttlMs: 10_000, mode: 'read', owner });
const write = (h: Harness, name = 'x', owner = 'w') => acquire(h, { name, ttlMs: 10_000, owner });
const release = (h: Harness, name: string, token: number) => h.machine.run((m) => m.locks.release(name, token));
const modesOf = (h: Harness, name = 'x') => h.machine.locks.inspect(name).holders.map((holder) => holder.mode);

describe('read-write locks', () => {
  test('readers share a lock, each with its own fencing token', () => {
    const h = build();
    const a = read(h, 'x', 'a');
    const b = read(h, 'x', 'b');
    assert.equal(a.mode, 'read');
    assert.equal(a.limit, 1);
    assert.ok(b.token > a.token, 'every grant takes the next global token');
    assert.deepEqual(modesOf(h), ['read', 'read']);
    assert.equal(lockReaders(h.machine.locks.byName.get('x')!), 2);
  });

  test('a writer is exclusive: refused beside readers, and readers are refused beside it', () => {
    const h = build();
    const r = read(h);
    expectError(() => write(h), 'lock_held', { holders: [{ token: r.token, owner: 'r', mode: 'read', expiresAt: h.clock.wallMs() + 10_000 }] });
    release(h, 'x', r.token);
    const w = write(h);
    assert.equal(w.mode, 'write');
    expectError(() => read(h), 'lock_held');
  });

  test('FIFO across modes: a reader behind a waiting writer waits for it', () => {
    const h = build();
    const r1 = read(h, 'x', 'r1');
    const writer = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, owner: 'w' });
    // The lock is read-held and readers would fit, but a writer is first in line.
    const late = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, mode: 'read', owner: 'r2' });
    assert.equal(late.outcomes.length, 0);
    release(h, 'x', r1.token);
    const w = grantOf(writer);
    assert.equal(late.outcomes.length, 0, 'the reader still waits behind the writer\'s hold');
    release(h, 'x', w.token);
    assert.equal(grantOf(late).mode, 'read');
  });

  test('consecutive readers at the head are granted together, up to the next writer', () => {
    const h = build();
    const w = write(h);
    const r1 = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, mode: 'read' });
    const r2 = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, mode: 'read' });
    const w2 = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000 });
    const r3 = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000, mode: 'read' });
    release(h, 'x', w.token);
    const granted = [grantOf(r1), grantOf(r2)];
    assert.deepEqual(granted.map((g) => g.mode), ['read', 'read']);
    assert.ok(granted[1]!.token === granted[0]!.token + 1, 'one grant, one token each, in queue order');
    assert.equal(w2.outcomes.length, 0);
    assert.equal(r3.outcomes.length, 0);
    assert.equal(h.machine.locks.inspect('x').waiters, 2);
  });

  test('readers are bounded by readersPerLockMax; the next one waits like on a full semaphore', () => {
    const h = build({ limits: { readersPerLockMax: 2 } });
    read(h);
    const second = read(h);
    expectError(() => read(h), 'lock_held');
    const third = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 1_000, mode: 'read' });
    release(h, 'x', second.token);
    assert.equal(grantOf(third).mode, 'read');
    assert.equal(lockReaders(h.machine.locks.byName.get('x')!), 2);
  });

  test('read mode is for locks: with limit above 1 it is invalid_request, on a live semaphore mode_mismatch', () => {
    const h = build();
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'p', ttlMs: 1_000, mode: 'read', limit: 3 })), 'invalid_request', { field: 'mode' });
    acquire(h, { name: 'p', ttlMs: 1_000, limit: 3 });
    const tokenBefore = h.machine.lastToken;
    const leasesBefore = h.machine.leases.byId.size;
    expectError(() => h.machine.run((m) => m.locks.acquire({ name: 'p', ttlMs: 1_000, mode: 'read' })), 'mode_mismatch', { name: 'p', limit: 3, mode: 'read' });
    assert.equal(h.machine.lastToken, tokenBefore, 'a refused acquire takes no token');
    assert.equal(h.machine.leases.byId.size, leasesBefore, 'and leaves no lease');
    // Explicit write on a semaphore is an ordinary permit.
    assert.equal(acquire(h, { name: 'p', ttlMs: 1_000, mode: 'write' }).mode, 'write');
  });

  test('a bad mode is invalid_request naming the field', () => {
    const h = build();
    const bad = { name: 'x', ttlMs: 1_000, mode: 'shared' } as unknown as Parameters<typeof h.machine.locks.acquire>[0];
    expectError(() => h.machine.run((m) => m.locks.acquire(bad)), 'invalid_request', { field: 'mode' });
    expectError(() => h.machine.locks.inspect('x'), 'lock_not_found');
  });

  test('check with a mode holds only in that mode', () => {
    const h = build();
    const r = read(h);
    assert.equal(h.machine.locks.check('x', r.token), true);
    assert.equal(h.machine.locks.check('x', r.token, 'read'), true);
    assert.equal(h.machine.locks.check('x', r.token, 'write'), false);
  });

  test('an expired reader frees its place at the expiry millisecond, and a queued writer gets the lock', () => {
    const h = build();
    const r = acquire(h, { name: 'x', ttlMs: 1_000, mode: 'read' });
    const writer = wait(h, { name: 'x', ttlMs: 10_000, waitMs: 5_000 });
    advance(h, 999);
    assert.equal(writer.outcomes.length, 0);
    advance(h, 1);
    assert.equal(grantOf(writer).mode, 'write');
    assert.equal(h.machine.locks.check('x', r.token), false);
    assert.equal(lockReaders(h.machine.locks.byName.get('x')!), 0);
  });

  test('events carry mode "read" for read holds only; a write hold\'s events are as they were', () => {
    const h = build();
    const r = read(h);
    release(h, 'x', r.token);
    const w = write(h);
    release(h, 'x', w.token);
    const acquired = eventsOf(h, 'lock_acquired');
    const released = eventsOf(h, 'lock_released');
    assert.equal(acquired[0]!.mode, 'read');
    assert.equal('mode' in acquired[1]!, false);
    assert.equal(released[0]!.mode, 'read');
    assert.equal('mode' in released[1]!, false);
  });

  test('a lease may hold reads on several names; revoking it frees them all', () => {
    const h = build();
    const id = grantLease(h, 5_000);
    acquire(h, { name: 'a', leaseId: id, mode: 'read' });
    acquire(h, { name: 'b', leaseId: id, mode: 'read' });
    h.machine.run((m) => m.leases.revoke(id));
    expectError(() => h.machine.locks.inspect('a'), 'lock_not_found');
    expectError(() => h.machine.locks.inspect('b'), 'lock_not_found');
  });
});
