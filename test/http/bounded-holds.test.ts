import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Api, expectError, expectInvalid, expectStatus, startApi } from '../helpers/http.js';

describe('HTTP bounded holds (maxHoldMs)', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ limits: { maxHoldMsMax: 60_000 } });
  });
  after(() => api.close());

  test('the grant shows maxHoldMs; keepalives do not stretch it; release after it is not_holder max_hold', async () => {
    const grant = expectStatus(await api.call('POST', '/v1/locks/bounded/acquire', { ttlMs: 1_000, maxHoldMs: 1_500 }), 200);
    assert.equal(grant.maxHoldMs, 1_500);
    api.advance(800);
    expectStatus(await api.call('POST', `/v1/leases/${grant.leaseId}/keepalive`, {}), 200);
    api.advance(699);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/bounded/check', { token: grant.token }), 200).held, true);
    api.advance(1);
    assert.equal(expectStatus(await api.call('POST', '/v1/locks/bounded/check', { token: grant.token }), 200).held, false);
    const refused = expectError(await api.call('POST', '/v1/locks/bounded/release', { token: grant.token }), 409, 'not_holder');
    assert.equal(refused.reason, 'max_hold');
    expectError(await api.call('GET', `/v1/leases/${grant.leaseId}`), 404, 'lease_not_found');
  });

  test('an unbounded grant has no maxHoldMs; out-of-range values are invalid_request', async () => {
    const plain = expectStatus(await api.call('POST', '/v1/locks/plain/acquire', { ttlMs: 1_000 }), 200);
    assert.equal('maxHoldMs' in plain, false);
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, maxHoldMs: 0 }), 'maxHoldMs');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, maxHoldMs: 60_001 }), 'maxHoldMs');
    expectInvalid(await api.call('POST', '/v1/locks/bad/acquire', { ttlMs: 1_000, maxHoldMs: '100' }), 'maxHoldMs');
  });
});
