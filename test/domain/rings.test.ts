import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { advance, build, eventsOf, expectError, grantLease, realHashing, type Harness } from '../helpers/machine.js';

const put = (h: Harness, ring: string, node: string, request: Parameters<Harness['machine']['rings']['putMember']>[2] = {}) =>
  h.machine.run((m) => m.rings.putMember(ring, node, request));
const version = (h: Harness, ring: string) => h.machine.rings.get(ring).version;
const lookup = (h: Harness, ring: string, keys: string[], n = 1, at?: number) =>
  h.machine.run((m) => m.rings.lookup(ring, keys, n, at)).nodes;

describe('the contract test vectors', () => {
  test('h32', () => {
    assert.equal(realHashing.h32(''), 46947589);
    assert.equal(realHashing.h32('a'), 1426945110);
    assert.equal(realHashing.h32('user:42'), 4132429719);
  });

  test('alpha, beta, gamma with n=2', () => {
    const h = build();
    put(h, 'r', 'alpha', { weight: 1 });
    put(h, 'r', 'beta', { weight: 1 });
    put(h, 'r', 'gamma', { weight: 2 });
    assert.deepEqual(lookup(h, 'r', ['user:1', 'user:2', 'user:3', 'order/9', 'ключ'], 2), [
      ['gamma', 'alpha'],
      ['beta', 'gamma'],
      ['gamma', 'beta'],
      ['gamma', 'alpha'],
      ['beta', 'alpha'],
    ]);
    assert.deepEqual(lookup(h, 'r', ['user:1', 'user:2'], 1), [['gamma'], ['beta']]);
  });

  test('the vectors do not depend on the order members were added', () => {
    const h = build();
    put(h, 'r', 'gamma', { weight: 2 });
    put(h, 'r', 'beta', { weight: 5 });
    put(h, 'r', 'alpha', { weight: 1 });
    put(h, 'r', 'beta', { weight: 1 });
    assert.deepEqual(lookup(h, 'r', ['user:1', 'ключ'], 2), [['gamma', 'alpha'], ['beta', 'alpha']]);
  });
});

describe('ring versions', () => {
  test('a new ring is version 1, each change adds one, an unchanged PUT keeps it', () => {
    const h = build();
    const created = h.machine.run((m) => m.rings.put('r'));
    assert.equal(created.status, 'created');
    assert.equal(created.ring.version, 1);
    assert.equal(created.ring.vnodes, 160);
    assert.deepEqual(h.machine.run((m) => m.rings.put('r', 160)).status, 'unchanged');
    assert.equal(version(h, 'r'), 1);
    assert.equal(h.machine.run((m) => m.rings.put('r', 100)).status, 'changed');
    assert.equal(version(h, 'r'), 2);

    assert.equal(put(h, 'r', 'n1').status, 'created');
    assert.equal(version(h, 'r'), 3);
    assert.equal(put(h, 'r', 'n1').status, 'unchanged');
    assert.equal(put(h, 'r', 'n1', { weight: 1, meta: {} }).status, 'unchanged');
    assert.equal(version(h, 'r'), 3);
    assert.equal(put(h, 'r', 'n1', { weight: 2 }).status, 'changed');
    assert.equal(version(h, 'r'), 4);
    assert.equal(put(h, 'r', 'n1', { weight: 2, meta: { zone: 'a' } }).status, 'changed');
    assert.equal(version(h, 'r'), 5);
    assert.equal(put(h, 'r', 'n1', { weight: 2, meta: { zone: 'a' } }).status, 'unchanged');
    const id = grantLease(h, 10_000);
    assert.equal(put(h, 'r', 'n1', { weight: 2, meta: { zone: 'a' }, leaseId: id }).status, 'changed');
    assert.equal(version(h, 'r'), 6);
    assert.equal(put(h, 'r', 'n1', { weight: 2, meta: { zone: 'a' }, leaseId: id }).status, 'unchanged');
    assert.equal(put(h, 'r', 'n1', { weight: 2, meta: { zone: 'a' } }).status, 'changed', 'unbinding the lease is a change');
    assert.equal(version(h, 'r'), 7);
    h.machine.run((m) => m.rings.removeMember('r', 'n1'));
    assert.equal(version(h, 'r'), 8);
    assert.deepEqual(
      eventsOf(h, 'ring_configured').map((e) => e.version).concat(eventsOf(h, 'member_put').map((e) => e.version)),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });

  test('a node PUT on a missing ring creates the ring with defaults, then adds the member', () => {
    const h = build();
    const result = put(h, 'r', 'n1');
    assert.equal(result.status, 'created');
    assert.equal(result.ring.vnodes, 160);
    assert.equal(result.ring.version, 2);
    assert.deepEqual(h.events.map((e) => e.type), ['ring_configured', 'member_put']);
  });

  test('a ring lives on when its last member leaves', () => {
    const h = build();
    put(h, 'r', 'n1');
    h.machine.run((m) => m.rings.removeMember('r', 'n1'));
    assert.equal(h.machine.rings.get('r').members.size, 0);
    expectError(() => lookup(h, 'r', ['k']), 'ring_empty', { ring: 'r' });
  });

  test('delete removes the ring; a missing ring is ring_not_found', () => {
    const h = build();
    put(h, 'r', 'n1');
    h.machine.run((m) => m.rings.delete('r'));
    expectError(() => h.machine.rings.get('r'), 'ring_not_found', { ring: 'r' });
    expectError(() => lookup(h, 'r', ['k']), 'ring_not_found');
    expectError(() => h.machine.run((m) => m.rings.delete('r')), 'ring_not_found');
    expectError(() => h.machine.run((m) => m.rings.removeMember('r', 'n1')), 'ring_not_found');
    assert.equal(h.machine.run((m) => m.rings.put('r')).ring.version, 1, 'a recreated ring starts again');
  });

  test('node_not_found', () => {
    const h = build();
    put(h, 'r', 'n1');
    expectError(() => h.machine.run((m) => m.rings.removeMember('r', 'n2')), 'node_not_found', { ring: 'r', node: 'n2' });
    assert.equal(version(h, 'r'), 2);
  });
});

describe('fingerprint', () => {
  test('equal for equal vnodes, ids and weights, whatever the order, meta or lease', () => {
    const h = build();
    const id = grantLease(h, 10_000);
    put(h, 'one', 'a', { weight: 1 });
    put(h, 'one', 'b', { weight: 2.5 });
    put(h, 'two', 'b', { weight: 2.5, meta: { x: 1 }, leaseId: id });
    put(h, 'two', 'a', { weight: 3 });
    put(h, 'two', 'a', { weight: 1 });
    const fp = (ring: string) => h.machine.rings.get(ring).fingerprint();
    assert.match(fp('one'), /^[0-9a-f]{16}$/);
    assert.equal(fp('one'), fp('two'));
    put(h, 'two', 'a', { weight: 1.5 });
    assert.notEqual(fp('one'), fp('two'), 'weight');
    put(h, 'two', 'a', { weight: 1 });
    assert.equal(fp('one'), fp('two'));
    h.machine.run((m) => m.rings.put('two', 161));
    assert.notEqual(fp('one'), fp('two'), 'vnodes');
    h.machine.run((m) => m.rings.put('two', 160));
    put(h, 'two', 'c', { weight: 0 });
    assert.notEqual(fp('one'), fp('two'), 'member ids');
  });

  test('property: fingerprints are equal iff the placement inputs are equal', () => {
    const member = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'ab', 'é'), weight: fc.constantFrom(0, 0.5, 1, 2) });
    const ringArb = fc.record({ vnodes: fc.constantFrom(1, 2, 160), members: fc.uniqueArray(member, { selector: (m) => m.id, maxLength: 4 }) });
    fc.assert(
      fc.property(ringArb, ringArb, (x, y) => {
        const h = build();
        h.machine.run((m) => m.rings.put('x', x.vnodes));
        h.machine.run((m) => m.rings.put('y', y.vnodes));
        for (const mem of x.members) put(h, 'x', mem.id, { weight: mem.weight });
        for (const mem of [...y.members].reverse()) put(h, 'y', mem.id, { weight: mem.weight, meta: { r: 1 } });
        const canon = (r: typeof x) => JSON.stringify([r.vnodes, [...r.members].sort((p, q) => (p.id < q.id ? -1 : 1))]);
        const same = canon(x) === canon(y);
        assert.equal(h.machine.rings.get('x').fingerprint() === h.machine.rings.get('y').fingerprint(), same);
      }),
      { numRuns: 300 },
    );
  });
});

describe('lookups', () => {
  test('stale_ring when the given version is not current', () => {
    const h = build();
    put(h, 'r', 'a');
    assert.deepEqual(lookup(h, 'r', ['k'], 1, 2), [['a']]);
    put(h, 'r', 'b');
    expectError(() => lookup(h, 'r', ['k'], 1, 2), 'stale_ring', { ring: 'r', version: 3 });
    expectError(() => lookup(h, 'r', ['k'], 1, 4), 'stale_ring');
    assert.equal(h.machine.run((m) => m.rings.lookup('r', ['k'], 1, 3)).version, 3);
  });

  test('ring_empty with no members or only weight-0 members', () => {
    const h = build();
    h.machine.run((m) => m.rings.put('r'));
    expectError(() => lookup(h, 'r', ['k']), 'ring_empty', { ring: 'r' });
    put(h, 'r', 'zero', { weight: 0 });
    expectError(() => lookup(h, 'r', ['k']), 'ring_empty');
    put(h, 'r', 'zero', { weight: 0.001 });
    expectError(() => lookup(h, 'r', ['k']), 'ring_empty');
    put(h, 'r', 'zero', { weight: 0.004 });
    assert.deepEqual(lookup(h, 'r', ['k']), [['zero']], 'floor(160 * 0.004 + 0.5) = 1 point');
  });

  test('a weight-0 member gets no keys, also as a replica', () => {
    const h = build();
    put(h, 'r', 'a');
    put(h, 'r', 'zero', { weight: 0 });
    put(h, 'r', 'b');
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${i}`);
    const owners = lookup(h, 'r', keys, 3);
    for (const nodes of owners) {
      assert.equal(nodes.length, 2);
      assert.ok(!nodes.includes('zero'));
    }
    put(h, 'r', 'zero', { weight: 1 });
    assert.ok(lookup(h, 'r', keys, 1).some(([owner]) => owner === 'zero'), 'reweighted up, it gets keys');
  });

  test('n larger than the node count returns each node once, owner first', () => {
    const h = build();
    for (const id of ['a', 'b', 'c']) put(h, 'r', id);
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const many = lookup(h, 'r', keys, 16);
    const one = lookup(h, 'r', keys, 1);
    many.forEach((nodes, i) => {
      assert.equal(nodes.length, 3);
      assert.equal(new Set(nodes).size, 3);
      assert.equal(nodes[0], one[i]![0]);
    });
  });

  test('a batch answers in key order', () => {
    const h = build();
    for (const id of ['a', 'b', 'c', 'd']) put(h, 'r', id);
    const keys = ['x', 'y', 'z', 'x'];
    const batch = lookup(h, 'r', keys, 2);
    keys.forEach((key, i) => assert.deepEqual(batch[i], lookup(h, 'r', [key], 2)[0]));
    assert.deepEqual(lookup(h, 'r', []), []);
  });
});

describe('lease-bound members', () => {
  test('a member bound to a lease leaves when the lease expires', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    put(h, 'r', 'static');
    put(h, 'r', 'bound', { leaseId: id });
    assert.equal(version(h, 'r'), 3);
    assert.equal(advance(h, 999), 0);
    assert.ok(h.machine.rings.get('r').members.has('bound'));
    advance(h, 1);
    assert.deepEqual([...h.machine.rings.get('r').members.keys()], ['static']);
    assert.equal(version(h, 'r'), 4);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    assert.ok(lookup(h, 'r', keys).every(([owner]) => owner === 'static'));
    assert.deepEqual(eventsOf(h, 'member_removed'), [{ type: 'member_removed', ring: 'r', node: 'bound', version: 4 }]);
  });

  test('a member moved to another lease follows the new lease only', () => {
    const h = build();
    const first = grantLease(h, 1_000);
    const second = grantLease(h, 5_000);
    put(h, 'r', 'n', { leaseId: first });
    put(h, 'r', 'n', { leaseId: second });
    advance(h, 1_000);
    assert.ok(h.machine.rings.get('r').members.has('n'));
    advance(h, 4_000);
    assert.ok(!h.machine.rings.get('r').members.has('n'));
  });

  test('unbinding a member keeps it after its old lease ends', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    put(h, 'r', 'n', { leaseId: id });
    put(h, 'r', 'n');
    const ending = h.machine.run((m) => m.leases.revoke(id));
    assert.deepEqual(ending.removed, []);
    assert.ok(h.machine.rings.get('r').members.has('n'));
  });

  test('a deleted ring is not touched when the lease ends', () => {
    const h = build();
    const id = grantLease(h, 1_000);
    put(h, 'r', 'n', { leaseId: id });
    h.machine.run((m) => m.rings.delete('r'));
    put(h, 'r', 'n');
    const ending = h.machine.run((m) => m.leases.revoke(id));
    assert.deepEqual(ending.removed, []);
    assert.ok(h.machine.rings.get('r').members.has('n'), 'the member of the new ring stays');
  });

  test('binding to an unknown or dead lease is lease_not_found and changes nothing', () => {
    const h = build();
    expectError(() => put(h, 'r', 'n', { leaseId: 'nope' }), 'lease_not_found');
    expectError(() => h.machine.rings.get('r'), 'ring_not_found');
    const id = grantLease(h, 1_000);
    h.clock.advance(1_000);
    expectError(() => put(h, 'r', 'n', { leaseId: id }), 'lease_not_found');
  });
});

describe('ring validation and limits', () => {
  for (const vnodes of [0, 1_001, 1.5, Number.NaN]) {
    test(`vnodes ${vnodes} is invalid_request`, () => {
      const h = build();
      expectError(() => h.machine.run((m) => m.rings.put('r', vnodes)), 'invalid_request', { field: 'vnodes' });
      expectError(() => h.machine.rings.get('r'), 'ring_not_found');
    });
  }

  for (const weight of [-1, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    test(`weight ${weight} is invalid_request`, () => {
      const h = build();
      expectError(() => put(h, 'r', 'n', { weight }), 'invalid_request', { field: 'weight' });
      expectError(() => h.machine.rings.get('r'), 'ring_not_found');
    });
  }

  test('weights 0 and 100 are accepted; meta over 1 KiB is invalid_request', () => {
    const h = build();
    put(h, 'r', 'a', { weight: 0 });
    put(h, 'r', 'b', { weight: 100 });
    expectError(() => put(h, 'r', 'c', { meta: { pad: 'x'.repeat(1_024) } }), 'invalid_request', { field: 'meta' });
    put(h, 'r', 'c', { meta: { pad: 'x'.repeat(1_024 - 10) } });
  });

  test('ringsMax and nodesPerRingMax', () => {
    const h = build({ limits: { ringsMax: 2, nodesPerRingMax: 2 } });
    put(h, 'r1', 'a');
    put(h, 'r1', 'b');
    expectError(() => put(h, 'r1', 'c'), 'limit_exceeded', { limit: 'nodesPerRingMax', max: 2 });
    put(h, 'r1', 'b', { weight: 3 });
    h.machine.run((m) => m.rings.put('r2'));
    expectError(() => h.machine.run((m) => m.rings.put('r3')), 'limit_exceeded', { limit: 'ringsMax' });
    expectError(() => put(h, 'r3', 'a'), 'limit_exceeded', { limit: 'ringsMax' });
  });

  test('point limits are checked before anything changes', () => {
    const h = build({ limits: { pointsPerRingMax: 400, pointsTotalMax: 500 } });
    put(h, 'r1', 'a', { weight: 2 });
    expectError(() => put(h, 'r1', 'b', { weight: 1 }), 'limit_exceeded', { limit: 'pointsPerRingMax' });
    expectError(() => h.machine.run((m) => m.rings.put('r1', 201)), 'limit_exceeded', { limit: 'pointsPerRingMax' });
    put(h, 'r2', 'a', { weight: 1 });
    expectError(() => put(h, 'r2', 'b', { weight: 1 }), 'limit_exceeded', { limit: 'pointsTotalMax' });
    h.machine.run((m) => m.rings.delete('r1'));
    put(h, 'r2', 'b', { weight: 1 });
  });

  test('a vnodes change is counted at the new vnodes in pointsTotalMax', () => {
    const h = build({ limits: { pointsPerRingMax: 400, pointsTotalMax: 500 } });
    put(h, 'r1', 'a');
    h.machine.run((m) => m.rings.put('r1', 300));
    assert.equal(h.machine.rings.get('r1').placement.size, 300);
    put(h, 'r2', 'a');
    put(h, 'r2', 'b', { weight: 0.25 });
    // 300 + 160 + 40 = 500 points: one more point is over the total.
    expectError(() => put(h, 'r2', 'c', { weight: 0.01 }), 'limit_exceeded', { limit: 'pointsTotalMax' });
    h.machine.run((m) => m.rings.put('r1', 100));
    put(h, 'r2', 'c', { weight: 0.01 });
  });
});
