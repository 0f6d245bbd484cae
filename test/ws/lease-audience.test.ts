/** Who hears that a lease ended: one listener without a set, several with one, and every way one leaves. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LeaseEndedEvent } from '../../src/domain/events.js';
import { LeaseAudience, type Listener } from '../../src/ws/lease-audience.js';

function listener(): Listener & { readonly heard: unknown[] } {
  const heard: unknown[] = [];
  return { listening: new Set<string>(), heard, notify: (text) => heard.push(JSON.parse(text)) };
}

const revoked = (leaseId: string): LeaseEndedEvent => ({
  type: 'lease_ended', leaseId, kind: 'plain', reason: 'revoked', released: [], removed: [], latenessMs: 0, principal: undefined,
});

test('one listener, then two, then one again: each hears the end once', () => {
  const audience = new LeaseAudience();
  const [a, b] = [listener(), listener()];
  audience.listen(a, 'L1');
  audience.listen(a, 'L1');
  assert.equal(audience.concerns('L1'), true);
  audience.listen(b, 'L1');
  audience.forget(b);
  assert.equal(audience.concerns('L1'), true, 'a still listens');
  audience.listen(b, 'L1');
  audience.leaseEnded(revoked('L1'));
  assert.deepEqual(a.heard, [{ event: 'lease_expired', leaseId: 'L1', reason: 'revoked', released: [] }]);
  assert.deepEqual(b.heard, a.heard);
  assert.equal(audience.concerns('L1'), false);
  assert.equal(a.listening.size + b.listening.size, 0);
});

test('a lone listener that leaves takes the lease out of the audience; a move carries it over', () => {
  const audience = new LeaseAudience();
  const [a, b, c] = [listener(), listener(), listener()];
  audience.listen(a, 'L1');
  audience.forget(a);
  assert.equal(audience.concerns('L1'), false);
  audience.listen(b, 'L2');
  audience.move(b, c);
  assert.deepEqual([...c.listening], ['L2']);
  audience.leaseEnded(revoked('L2'));
  assert.equal(b.heard.length, 0);
  assert.equal(c.heard.length, 1);
  // Forgetting a listener that never listened to a lease leaves the lease's listener alone.
  audience.listen(a, 'L3');
  audience.forget(b);
  assert.equal(audience.concerns('L3'), true);
});
