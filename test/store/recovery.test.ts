// Recovery brings back every acknowledged lease, hold and ring member.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { abandonStore } from '../../src/store/store.js';
import { digest, open, removeDir, settle, tempDir } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});
async function fresh(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

type Machine = Awaited<ReturnType<typeof open>>['machine'];

/** A bit of everything: leases of each kind, holds on own and shared leases, semaphores, rings. */
function populate(machine: Machine): void {
  machine.run((m) => {
    const plain = m.leases.grant(30_000, 'plain', 'team-a');
    const session = m.leases.openSession(10_000);
    m.locks.acquire({ name: 'alpha', ttlMs: 5_000, owner: 'worker-1', lockDelayMs: 250, principal: 'team-b' });
    m.locks.acquire({ name: 'beta', leaseId: plain.id, owner: 'worker-2' });
    m.locks.acquire({ name: 'sem', leaseId: plain.id, limit: 3, owner: 'a' });
    m.locks.acquire({ name: 'sem', leaseId: session.id, owner: 'b' });
    m.locks.acquire({ name: 'ключ/ü', ttlMs: 1_000, owner: 'ünïcödé' });
    const released = m.locks.acquire({ name: 'gone', ttlMs: 1_000 });
    if (!('granted' in released)) throw new Error('expected a grant');
    m.locks.release('gone', released.granted.token);
    m.rings.put('cache', 200);
    m.rings.putMember('cache', 'node-a', { weight: 1, meta: { zone: 'eu', port: 7000 } });
    m.rings.putMember('cache', 'node-b', { weight: 2.5 });
    m.rings.putMember('cache', 'node-c', { weight: 0, leaseId: plain.id });
    m.rings.putMember('cache', 'node-b', { weight: 3 });
    m.rings.putMember('other', 'x', { leaseId: session.id, meta: { nested: { deep: [1, 2, 'three'] } } });
    m.rings.removeMember('cache', 'node-a');
    m.rings.put('doomed');
    m.rings.putMember('doomed', 'y', {});
    m.rings.delete('doomed');
  });
}

/** Ends three holds three ways (released, revoked, expired); returns name -> token. */
function endThreeWays(opened: Awaited<ReturnType<typeof open>>): Map<string, number> {
  const tokens = new Map<string, number>();
  const grant = (name: string, ttlMs: number): { token: number; leaseId: string } => opened.machine.run((m) => {
    const result = m.locks.acquire({ name, ttlMs });
    if (!('granted' in result)) throw new Error('expected a grant');
    tokens.set(name, result.granted.token);
    return result.granted;
  });
  const released = grant('ended/released', 5_000);
  opened.machine.run((m) => m.locks.release('ended/released', released.token));
  const revoked = grant('ended/revoked', 5_000);
  opened.machine.run((m) => m.leases.revoke(revoked.leaseId));
  grant('ended/expired', 100);
  opened.clock.advance(200);
  opened.machine.tick();
  return tokens;
}

/** The not_holder reason a late release of each token gets. */
function lateReasons(machine: Machine, tokens: Map<string, number>): Record<string, unknown> {
  const reasons: Record<string, unknown> = {};
  for (const [name, token] of tokens) {
    try {
      machine.run((m) => m.locks.release(name, token));
      reasons[name] = 'released again?';
    } catch (error) {
      reasons[name] = (error as { details?: { reason?: unknown } }).details?.reason;
    }
  }
  return reasons;
}

describe('recovery', () => {
  test('how ended holds ended comes back: from the log after a crash, from the snapshot after a clean close', async () => {
    const expected = { 'ended/released': 'released', 'ended/revoked': 'revoked', 'ended/expired': 'expired' };
    const dir = await fresh();
    const first = await open(dir);
    const tokens = endThreeWays(first);
    assert.deepEqual(lateReasons(first.machine, tokens), expected);
    await settle(first.store);
    await abandonStore(first.store);

    const afterCrash = await open(dir);
    assert.equal(afterCrash.store.recovery.snapshotLoaded, false);
    assert.deepEqual(lateReasons(afterCrash.machine, tokens), expected, 'replayed from the log');
    await afterCrash.store.close();

    const afterClose = await open(dir);
    assert.equal(afterClose.store.recovery.snapshotLoaded, true);
    assert.deepEqual(lateReasons(afterClose.machine, tokens), expected, 'loaded from the snapshot');
    const more = endThreeWays(afterClose);
    await settle(afterClose.store);
    await abandonStore(afterClose.store);

    const both = await open(dir);
    assert.deepEqual(lateReasons(both.machine, tokens), expected, 'the snapshot, then the log after it');
    assert.deepEqual(lateReasons(both.machine, more), expected);
    await both.store.close();
  });

  test('after a crash, leases, holds, rings, versions and tokens come back', async () => {
    const dir = await fresh();
    const first = await open(dir);
    assert.equal(first.store.recovery.snapshotLoaded, false);
    populate(first.machine);
    await settle(first.store);
    const before = digest(first.machine);
    await abandonStore(first.store);

    assert.ok(before.leases.some((l) => l.endsWith('by=team-a')) && before.holds.some((h) => h.endsWith('by=team-b')));

    const second = await open(dir);
    assert.deepEqual(digest(second.machine), before, 'auth principals of leases and holds included');
    assert.equal(second.store.recovery.snapshotLoaded, false);
    assert.ok(second.store.recovery.records > 10);
    assert.equal(second.store.recovery.holds, before.holds.length);
    assert.equal(second.store.recovery.leases, before.leases.length);
    assert.equal(second.store.recovery.members, 3);
    assert.equal(second.store.epoch, first.store.epoch + 1);
    await second.store.close();
  });

  test('after a clean close, the snapshot alone brings everything back', async () => {
    const dir = await fresh();
    const first = await open(dir);
    populate(first.machine);
    const before = digest(first.machine);
    await first.store.close();
    const files = (await readdir(dir)).sort();
    assert.deepEqual(files.filter((f) => f.endsWith('.seg')), [], 'close snapshots and drops every segment');
    assert.equal(files.filter((f) => f.endsWith('.snap')).length, 1);
    assert.ok(!files.includes('LOCK'));

    const second = await open(dir);
    assert.equal(second.store.recovery.snapshotLoaded, true);
    assert.equal(second.store.recovery.records, 0);
    assert.deepEqual(digest(second.machine), before);
    await second.store.close();
  });

  test('every token issued after recovery is above every token issued before', async () => {
    const dir = await fresh();
    let highest = 0;
    for (let run = 0; run < 4; run++) {
      const { store, machine } = await open(dir);
      assert.ok(machine.lastToken >= highest, `run ${run}: counter ${machine.lastToken} below ${highest}`);
      for (let i = 0; i < 50; i++) {
        const result = machine.run((m) => m.locks.acquire({ name: `t${i % 7}`, ttlMs: 1_000 }));
        if ('granted' in result) {
          assert.ok(result.granted.token > highest);
          highest = result.granted.token;
          // Released holds leave no trace but the counter: it must survive too.
          machine.run((m) => m.locks.release(`t${i % 7}`, result.granted.token));
        }
      }
      await settle(store);
      if (run % 2 === 0) await abandonStore(store);
      else await store.close();
    }
    const { store, machine } = await open(dir);
    const next = machine.run((m) => m.locks.acquire({ name: 'last', ttlMs: 1_000 }));
    assert.ok('granted' in next && next.granted.token > highest);
    await store.close();
  });

  test('restored leases get their full TTL from recovery; sessions come back detached', async () => {
    const dir = await fresh();
    const first = await open(dir);
    const { lease, session } = first.machine.run((m) => ({ lease: m.leases.grant(2_000), session: m.leases.openSession(3_000) }));
    first.machine.run((m) => m.locks.acquire({ name: 'held', leaseId: lease.id }));
    first.clock.advance(1_900);
    await settle(first.store);
    await abandonStore(first.store);

    const second = await open(dir);
    const restored = second.machine.leases.byId.get(lease.id)!;
    assert.equal(second.machine.deadlineOf(restored), second.clock.monoMs() + 2_000);
    const restoredSession = second.machine.leases.byId.get(session.id)!;
    assert.equal(restoredSession.attached, false);
    assert.equal(restoredSession.kind, 'session');
    assert.equal(second.machine.deadlineOf(restoredSession), second.clock.monoMs() + 3_000);
    // The holder still holds, with the same token, until the restored lease runs out.
    const token = second.machine.locks.holdsOn(restored)[0]!.token;
    assert.equal(second.machine.locks.check('held', token), true);
    second.clock.advance(2_000);
    second.machine.tick();
    assert.equal(second.machine.locks.check('held', token), false);
    await second.store.close();

    // The expiry after recovery was logged too.
    const third = await open(dir);
    assert.equal(third.machine.leases.byId.has(lease.id), false);
    assert.equal(third.machine.locks.byName.has('held'), false);
    await third.store.close();
  });

  test('expiries, revokes and releases are replayed: what ended stays ended', async () => {
    const dir = await fresh();
    const first = await open(dir);
    const m = first.machine;
    const short = m.run((x) => x.leases.grant(100));
    const revoked = m.run((x) => x.leases.grant(10_000));
    m.run((x) => {
      x.locks.acquire({ name: 'exp', leaseId: short.id });
      x.rings.putMember('r', 'bound', { leaseId: short.id });
      x.locks.acquire({ name: 'rev', leaseId: revoked.id });
    });
    first.clock.advance(100);
    m.tick();
    m.run((x) => x.leases.revoke(revoked.id));
    const before = digest(m);
    assert.deepEqual(before.holds, []);
    await settle(first.store);
    await abandonStore(first.store);

    const second = await open(dir);
    assert.deepEqual(digest(second.machine), before);
    assert.equal(second.machine.rings.get('r').members.size, 0);
    assert.equal(second.machine.rings.get('r').version, 3);
    await second.store.close();
  });

  test('records appended but never made durable are not recovered (they were never acknowledged)', async () => {
    const dir = await fresh();
    const first = await open(dir);
    first.machine.run((m) => m.locks.acquire({ name: 'durable', ttlMs: 10_000 }));
    await settle(first.store);
    first.machine.run((m) => m.locks.acquire({ name: 'lost', ttlMs: 10_000 }));
    assert.notEqual(first.store.settled(), undefined);
    await abandonStore(first.store);

    const second = await open(dir);
    assert.ok(second.machine.locks.byName.has('durable'));
    assert.ok(!second.machine.locks.byName.has('lost'));
    await second.store.close();
  });
});

describe('recovery of a changed TTL', () => {
  test('a keepalive that changes ttlMs is logged, so recovery restores the new TTL', async () => {
    const dir = await fresh();
    const first = await open(dir);
    const lease = first.machine.run((m) => m.leases.grant(1_000, 'plain', 'team-a'));
    first.machine.run((m) => m.leases.keepalive(lease.id, 45_000));
    await settle(first.store);
    await abandonStore(first.store);
    const second = await open(dir);
    const restored = second.machine.leases.byId.get(lease.id);
    assert.equal(restored?.ttlMs, 45_000);
    assert.equal(restored?.principal, 'team-a');
    await second.store.close();
  });
});
