import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, expectError, expectInvalid, expectStatus, startApi } from '../helpers/http.js';

describe('HTTP leases', () => {
  let api: Api;
  before(async () => {
    api = await startApi();
  });
  after(() => api.close());

  test('grant answers 201 with id, ttlMs and an integer epoch-ms expiresAt', async () => {
    const reply = await api.call('POST', '/v1/leases', { ttlMs: 1_500 });
    const body = expectStatus(reply, 201);
    assert.deepEqual(Object.keys(body).sort(), ['expiresAt', 'id', 'ttlMs']);
    assert.equal(typeof body.id, 'string');
    assert.ok(body.id.length > 0);
    assert.equal(body.ttlMs, 1_500);
    assert.ok(Number.isInteger(body.expiresAt));
    assert.equal(body.expiresAt, api.clock.wallMs() + 1_500);
    assert.match(String(reply.headers['content-type']), /^application\/json/);
  });

  test('grant accepts the TTL bounds and rejects just outside them', async () => {
    expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 100 }), 201);
    expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 86_400_000 }), 201);
    for (const ttlMs of [99, 86_400_001, 0, -1]) {
      const error = expectInvalid(await api.call('POST', '/v1/leases', { ttlMs }), 'ttlMs');
      assert.match(error.message, /100/);
      assert.match(error.message, /86400000/);
    }
  });

  test('grant rejects a missing, string, float or null ttlMs and unknown fields', async () => {
    expectInvalid(await api.call('POST', '/v1/leases', {}), 'ttlMs');
    expectInvalid(await api.call('POST', '/v1/leases', { ttlMs: '1000' }), 'ttlMs');
    expectInvalid(await api.call('POST', '/v1/leases', { ttlMs: 1000.5 }), 'ttlMs');
    expectInvalid(await api.call('POST', '/v1/leases', { ttlMs: null }), 'ttlMs');
    expectInvalid(await api.call('POST', '/v1/leases', { ttlMs: 1000, ttl: 5 }), 'ttl');
    expectError(await api.call('POST', '/v1/leases'), 400, 'invalid_request');
  });

  test('two grants get distinct ids', async () => {
    const a = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1000 }), 201);
    const b = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1000 }), 201);
    assert.notEqual(a.id, b.id);
  });

  test('inspect shows the lease with its locks and ring members', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 5_000 }), 201);
    const empty = expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
    assert.deepEqual(empty, { id: lease.id, ttlMs: 5_000, expiresAt: lease.expiresAt, locks: [], members: [] });

    const a = expectStatus(await api.call('POST', '/v1/locks/inspect-a/acquire', { leaseId: lease.id }), 200);
    const b = expectStatus(await api.call('POST', '/v1/locks/inspect-b/acquire', { leaseId: lease.id }), 200);
    expectStatus(await api.call('PUT', `/v1/rings/inspect-ring/nodes/n1`, { leaseId: lease.id }), 201);
    const full = expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
    assert.deepEqual(full.locks, [
      { name: 'inspect-a', token: a.token },
      { name: 'inspect-b', token: b.token },
    ]);
    assert.deepEqual(full.members, [{ ring: 'inspect-ring', node: 'n1' }]);
  });

  test('inspect of an unknown lease is 404 lease_not_found', async () => {
    expectError(await api.call('GET', '/v1/leases/no-such-lease'), 404, 'lease_not_found');
  });

  test('keepalive with {} moves the deadline to now + ttlMs', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    api.advance(600);
    const kept = expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, {}), 200);
    assert.deepEqual(kept, { id: lease.id, ttlMs: 1_000, expiresAt: api.clock.wallMs() + 1_000 });
    api.advance(600);
    // Past the original deadline, still alive.
    expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
    api.advance(400);
    expectError(await api.call('GET', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
  });

  test('keepalive with no body at all, and with an empty JSON body', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    api.advance(500);
    const kept = expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`), 200);
    assert.equal(kept.expiresAt, api.clock.wallMs() + 1_000);
    api.advance(500);
    const again = expectStatus(
      await api.call('POST', `/v1/leases/${lease.id}/keepalive`, '', { 'content-type': 'application/json' }),
      200,
    );
    assert.equal(again.expiresAt, api.clock.wallMs() + 1_000);
  });

  test('keepalive with ttlMs changes the TTL from now on', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const kept = expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, { ttlMs: 5_000 }), 200);
    assert.deepEqual(kept, { id: lease.id, ttlMs: 5_000, expiresAt: api.clock.wallMs() + 5_000 });
    api.advance(3_000);
    const later = expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`), 200);
    assert.equal(later.ttlMs, 5_000, 'the new TTL sticks');
    assert.equal(later.expiresAt, api.clock.wallMs() + 5_000);
  });

  test('keepalive rejects bad bodies without touching the lease', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    expectInvalid(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, { ttlMs: 50 }), 'ttlMs');
    expectInvalid(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, { ttlMs: '2000' }), 'ttlMs');
    expectInvalid(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, { extra: true }), 'extra');
    const seen = expectStatus(await api.call('GET', `/v1/leases/${lease.id}`), 200);
    assert.equal(seen.ttlMs, 1_000);
    assert.equal(seen.expiresAt, lease.expiresAt);
  });

  test('keepalive of an unknown lease is 404', async () => {
    expectError(await api.call('POST', '/v1/leases/nope/keepalive', {}), 404, 'lease_not_found');
  });

  test('keepalive after the deadline fails even before expiry is processed', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const held = expectStatus(await api.call('POST', '/v1/locks/late-keepalive/acquire', { leaseId: lease.id }), 200);
    // Move the clock without ticking: nothing has processed the expiry yet.
    api.clock.advance(1_000);
    expectError(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, {}), 404, 'lease_not_found');
    expectError(await api.call('GET', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
    const released = expectError(
      await api.call('POST', '/v1/locks/late-keepalive/release', { token: held.token }),
      409,
      'not_holder',
    );
    assert.equal(released.reason, 'expired');
  });

  test('keepalive one millisecond before the deadline succeeds', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    api.clock.advance(999);
    expectStatus(await api.call('POST', `/v1/leases/${lease.id}/keepalive`, {}), 200);
  });

  test('revoke returns what it released and removed, and the lease is gone', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 10_000 }), 201);
    const a = expectStatus(await api.call('POST', '/v1/locks/revoke-a/acquire', { leaseId: lease.id }), 200);
    const b = expectStatus(await api.call('POST', '/v1/locks/revoke-b/acquire', { leaseId: lease.id, limit: 3 }), 200);
    expectStatus(await api.call('PUT', '/v1/rings/revoke-ring/nodes/m1', { leaseId: lease.id }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/revoke-ring/nodes/m2', { leaseId: lease.id }), 201);
    expectStatus(await api.call('PUT', '/v1/rings/revoke-ring/nodes/fixed', {}), 201);

    const revoked = expectStatus(await api.call('DELETE', `/v1/leases/${lease.id}`), 200);
    assert.equal(revoked.id, lease.id);
    assert.deepEqual(
      [...revoked.released].sort((x: any, y: any) => x.token - y.token),
      [
        { name: 'revoke-a', token: a.token },
        { name: 'revoke-b', token: b.token },
      ],
    );
    assert.deepEqual(
      [...revoked.removed].sort((x: any, y: any) => x.node.localeCompare(y.node)),
      [
        { ring: 'revoke-ring', node: 'm1' },
        { ring: 'revoke-ring', node: 'm2' },
      ],
    );
    expectError(await api.call('GET', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
    expectError(await api.call('GET', '/v1/locks/revoke-a'), 404, 'lock_not_found');
    const ring = expectStatus(await api.call('GET', '/v1/rings/revoke-ring'), 200);
    assert.deepEqual(
      ring.nodes.map((n: any) => n.id),
      ['fixed'],
    );
    const release = expectError(await api.call('POST', '/v1/locks/revoke-a/release', { token: a.token }), 409, 'not_holder');
    assert.equal(release.reason, 'revoked');
    expectError(await api.call('DELETE', `/v1/leases/${lease.id}`), 404, 'lease_not_found');
  });

  test('revoke with a JSON content-type and an empty body still works', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const revoked = expectStatus(
      await api.call('DELETE', `/v1/leases/${lease.id}`, '', { 'content-type': 'application/json' }),
      200,
    );
    assert.deepEqual(revoked, { id: lease.id, released: [], removed: [] });
  });

  test('expiry releases every hold and removes every member at once', async () => {
    const lease = expectStatus(await api.call('POST', '/v1/leases', { ttlMs: 1_000 }), 201);
    const held = expectStatus(await api.call('POST', '/v1/locks/expire-a/acquire', { leaseId: lease.id }), 200);
    expectStatus(await api.call('PUT', '/v1/rings/expire-ring/nodes/e1', { leaseId: lease.id }), 201);
    const before = expectStatus(await api.call('GET', '/v1/rings/expire-ring'), 200);
    api.advance(999);
    expectStatus(await api.call('GET', '/v1/locks/expire-a'), 200);
    api.advance(1);
    expectError(await api.call('GET', '/v1/locks/expire-a'), 404, 'lock_not_found');
    const ring = expectStatus(await api.call('GET', '/v1/rings/expire-ring'), 200);
    assert.deepEqual(ring.nodes, []);
    assert.equal(ring.version, before.version + 1);
    const check = expectStatus(await api.call('POST', '/v1/locks/expire-a/check', { token: held.token }), 200);
    assert.equal(check.held, false);
  });
});
