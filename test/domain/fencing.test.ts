import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FencingCounter } from '../../src/domain/fencing.js';
import { acquire, advance, build, eventsOf, grantLease, grantOf, wait } from '../helpers/machine.js';

describe('fencing tokens', () => {
  test('strictly increasing across names, semaphores, waiters and lease ends', () => {
    const h = build();
    const tokens: number[] = [];
    const id = grantLease(h, 1_000);
    tokens.push(acquire(h, { name: 'a', leaseId: id }).token);
    tokens.push(acquire(h, { name: 'b', ttlMs: 5_000 }).token);
    tokens.push(acquire(h, { name: 's', ttlMs: 5_000, limit: 3 }).token);
    tokens.push(acquire(h, { name: 's', ttlMs: 5_000 }).token);
    const waiting = wait(h, { name: 'a', ttlMs: 5_000, waitMs: 10_000 });
    advance(h, 1_000);
    tokens.push(grantOf(waiting).token);
    h.machine.run((m) => m.locks.release('b', tokens[1]!));
    tokens.push(acquire(h, { name: 'b', ttlMs: 5_000 }).token);
    tokens.push(acquire(h, { name: 'a2', ttlMs: 5_000 }).token);
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} went up`);
    assert.deepEqual(eventsOf(h, 'lock_acquired').map((e) => e.token), tokens);
    assert.equal(h.machine.lastToken, tokens.at(-1));
  });

  test('a refused acquire takes no token and a released token is never reused', () => {
    const h = build();
    const first = acquire(h, { name: 'x', ttlMs: 1_000 });
    assert.throws(() => h.machine.run((m) => m.locks.acquire({ name: 'x', ttlMs: 1_000 })));
    h.machine.run((m) => m.locks.release('x', first.token));
    assert.equal(acquire(h, { name: 'x', ttlMs: 1_000 }).token, first.token + 1);
  });

  test('the counter resumes above a restored last token', () => {
    const h = build({ lastToken: 41 });
    assert.equal(acquire(h, { name: 'x', ttlMs: 1_000 }).token, 42);
  });

  test('advanceTo never moves the counter down', () => {
    const counter = new FencingCounter(10);
    counter.advanceTo(5);
    assert.equal(counter.last, 10);
    counter.advanceTo(20);
    assert.equal(counter.next(), 21);
  });

  test('the counter refuses to pass MAX_SAFE_INTEGER', () => {
    const counter = new FencingCounter(Number.MAX_SAFE_INTEGER - 1);
    assert.equal(counter.next(), Number.MAX_SAFE_INTEGER);
    assert.throws(() => counter.next(), /fencing counter exhausted/);
    assert.equal(counter.last, Number.MAX_SAFE_INTEGER);
  });
});
