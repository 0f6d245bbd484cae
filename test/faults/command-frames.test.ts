// A command's records share one log frame, so a power cut keeps all of them or none:
// a multi-lock's grants (one lease, a hold per name) never come back in part. The
// log's batches are small here, so a group's records are many times batchBytesMax;
// the cut keeps a random subset of the unsynced frames, as a reordering disk would.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abandonStore } from '../../src/store/store.js';
import { PowerCutDisk } from '../helpers/power-cut-disk.js';
import { random } from '../helpers/random.js';
import { dirsRemovedAfter, open, settle } from '../store/helpers.js';

const fresh = dirsRemovedAfter();
const names = (group: number) => Array.from({ length: 8 }, (_, i) => ({ name: `group-${group}/${'n'.repeat(120)}-${i}` }));

async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('a command is one frame', () => {
  test('a multi-lock comes back whole or not at all after a power cut, whatever frames the disk kept', async () => {
    const rand = random(7);
    let whole = 0;
    let none = 0;
    for (let run = 0; run < 12; run++) {
      const dir = await fresh();
      const disk = new PowerCutDisk();
      const { store, machine } = await open(dir, { openFile: disk.open, batchBytesMax: 256 });
      machine.run((m) => m.locks.acquire({ name: 'first', ttlMs: 60_000 }));
      await settle(store);
      // A running fdatasync held back: full batches are written ahead of it, into the page cache.
      disk.hold();
      machine.run((m) => m.locks.acquire({ name: 'pending', ttlMs: 60_000 }));
      await turns(2);
      for (let group = 0; group < 4; group++) {
        machine.run((m) => m.locks.acquireAll({ locks: names(group), ttlMs: 60_000 }));
        await turns(1);
      }
      await turns(3);
      disk.cut(() => rand() < 0.5);
      await abandonStore(store);

      const { store: reopened, machine: recovered } = await open(dir);
      for (let group = 0; group < 4; group++) {
        const held = names(group).filter(({ name }) => recovered.locks.byName.has(name)).length;
        assert.ok(held === 0 || held === 8, `run ${run}: group ${group} came back with ${held} of its 8 holds`);
        if (held === 8) {
          whole += 1;
          const leases = new Set(names(group).map(({ name }) => recovered.locks.holdersOf(recovered.locks.byName.get(name)!)[0]!.lease.id));
          assert.equal(leases.size, 1, 'one lease for the whole group');
        } else {
          none += 1;
        }
      }
      await reopened.close();
    }
    // Both outcomes happened: the cut really did keep some frames and lose others.
    assert.ok(whole > 0 && none > 0, `whole ${whole}, none ${none}`);
  });

  test('a multi-lock\'s own lease comes back as one (kill -9): released one by one, it ends with its last hold', async () => {
    const dir = await fresh();
    const { store, machine } = await open(dir);
    const granted = machine.run((m) => m.locks.acquireAll({ locks: [{ name: 'g/a' }, { name: 'g/b' }], ttlMs: 60_000 }));
    assert.ok('granted' in granted);
    await settle(store);
    await abandonStore(store);

    const { store: reopened, machine: recovered } = await open(dir);
    const [a, b] = granted.granted.grants;
    recovered.run((m) => m.locks.release('g/a', a!.token));
    assert.ok(recovered.leases.byId.has(granted.granted.leaseId), 'the other hold keeps the lease');
    assert.ok(recovered.locks.check('g/b', b!.token));
    recovered.run((m) => m.locks.release('g/b', b!.token));
    assert.equal(recovered.leases.byId.has(granted.granted.leaseId), false);
    await reopened.close();
  });
});
