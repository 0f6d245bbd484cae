import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerSet } from '../../src/client/server-set.js';

describe('the replicas a client follows', () => {
  test('a comma-separated list is split and trimmed; the first URL goes first', () => {
    const servers = new ServerSet(' http://a:1/ , http://b:2,http://c:3');
    assert.deepEqual(servers.urls, ['http://a:1', 'http://b:2', 'http://c:3']);
    assert.equal(servers.current, 'http://a:1');
    assert.equal(servers.single, false);
  });

  test('a standby naming the active sends the client there; one naming none moves on', () => {
    const servers = new ServerSet('http://a:1,http://b:2,http://c:3');
    servers.follow('http://a:1', 'http://c:3/');
    assert.equal(servers.current, 'http://c:3');
    servers.follow('http://c:3', null);
    assert.equal(servers.current, 'http://a:1');
  });

  test('an unreachable replica sends the client to the next, wrapping around', () => {
    const servers = new ServerSet(['http://a:1', 'http://b:2']);
    servers.unreachable('http://a:1');
    assert.equal(servers.current, 'http://b:2');
    servers.unreachable('http://b:2');
    assert.equal(servers.current, 'http://a:1');
  });

  test('a stale report (about a URL no longer current) changes nothing', () => {
    const servers = new ServerSet('http://a:1,http://b:2');
    servers.unreachable('http://a:1');
    servers.unreachable('http://a:1');
    servers.follow('http://a:1', 'http://a:1');
    assert.equal(servers.current, 'http://b:2');
  });

  test('an active outside the list is followed, and dropped once unreachable', () => {
    const servers = new ServerSet('http://a:1');
    servers.follow('http://a:1', 'http://elsewhere:9');
    assert.equal(servers.current, 'http://elsewhere:9');
    assert.equal(servers.single, false);
    servers.unreachable('http://elsewhere:9');
    assert.equal(servers.current, 'http://a:1');
  });

  test('an empty list is refused', () => {
    assert.throws(() => new ServerSet(' , '), RangeError);
  });
});
