import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allows, isAdmin, type Principal } from '../../src/auth/grants.js';
import { AuthFileError, parseTokenFile, tokenDigest } from '../../src/auth/token-file.js';

const teamA: Principal = { name: 'team-a', grants: [{ role: 'lock', prefix: 'a/' }, { role: 'read', prefix: 'shared/' }] };
const ops: Principal = { name: 'ops', grants: [{ role: 'ring-admin' }] };
const root: Principal = { name: 'root', grants: [{ role: 'admin' }] };

test('a lock grant with a prefix covers only names under it', () => {
  assert.ok(allows(teamA, 'lock.write', 'a/job'));
  assert.ok(allows(teamA, 'lock.read', 'a/job'));
  assert.ok(!allows(teamA, 'lock.write', 'b/job'));
  assert.ok(!allows(teamA, 'lock.write', 'a'), 'the prefix itself is not under the prefix "a/"');
});

test('read grants do not allow writes', () => {
  assert.ok(allows(teamA, 'lock.read', 'shared/x'));
  assert.ok(!allows(teamA, 'lock.write', 'shared/x'));
  assert.ok(allows(teamA, 'ring.read', 'shared/ring'));
  assert.ok(!allows(teamA, 'ring.write', 'shared/ring'));
});

test('ring-admin manages rings and leases but not locks', () => {
  assert.ok(allows(ops, 'ring.write', 'cache'));
  assert.ok(allows(ops, 'lease.write'));
  assert.ok(!allows(ops, 'lock.write', 'x'));
  assert.ok(!isAdmin(ops));
});

test('admin allows everything', () => {
  for (const action of ['lock.read', 'lock.write', 'ring.read', 'ring.write', 'lease.write', 'admin'] as const) {
    assert.ok(allows(root, action, 'anything'));
  }
  assert.ok(isAdmin(root));
});

test('the auth file is validated in full', () => {
  const good = { tokens: [{ name: 'team-a', token: 'a'.repeat(32), grants: [{ role: 'lock', prefix: 'a/' }] }] };
  const table = parseTokenFile(good);
  assert.equal(table.byDigest.get(tokenDigest('a'.repeat(32)))?.name, 'team-a');
  const bad: unknown[] = [
    null,
    { tokens: [] },
    { tokens: [], extra: 1 },
    { tokens: [{ name: 'x', token: 'short', grants: [{ role: 'lock' }] }] },
    { tokens: [{ name: 'x', token: 'b'.repeat(32), grants: [{ role: 'root' }] }] },
    { tokens: [{ name: 'x', token: 'b'.repeat(32), grants: [{ role: 'lock', prefix: '' }] }] },
    { tokens: [{ name: 'x', token: 'b'.repeat(32), grants: [{ role: 'lock', scope: 'a' }] }] },
    { tokens: [{ name: 'x', token: 'b'.repeat(32), grants: [] }] },
    { tokens: [
      { name: 'x', token: 'b'.repeat(32), grants: [{ role: 'lock' }] },
      { name: 'x', token: 'c'.repeat(32), grants: [{ role: 'lock' }] },
    ] },
    { tokens: [
      { name: 'x', token: 'b'.repeat(32), grants: [{ role: 'lock' }] },
      { name: 'y', token: 'b'.repeat(32), grants: [{ role: 'lock' }] },
    ] },
  ];
  for (const json of bad) assert.throws(() => parseTokenFile(json), AuthFileError, JSON.stringify(json));
});

test('an auth file error never prints a token', () => {
  const secret = 'z'.repeat(40);
  const json = { tokens: [{ name: 'x', token: secret, grants: [{ role: 'nope' }] }] };
  assert.throws(() => parseTokenFile(json), (error: Error) => !error.message.includes(secret));
});
