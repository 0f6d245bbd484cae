import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseTable } from '../../src/domain/lease-table.js';
import { Lease } from '../../src/domain/model.js';
import { leaseIdSource } from '../../src/server.js';
import { build, slotLeaseId } from '../helpers/machine.js';

/** A bare lease record with `id`: the table reads only its id and slot. */
function lease(id: string): Lease {
  return new Lease(id, 'plain', 1_000, undefined, false);
}

describe('lease table', () => {
  test('server-made ids take slots in order; an ended lease frees its slot for a new id, and its own id finds nothing', () => {
    const h = build({ slotIds: true });
    const [a, b, c] = [1, 2, 3].map(() => h.machine.run((m) => m.leases.grant(10_000)));
    assert.deepEqual([a!.slot, b!.slot, c!.slot], [0, 1, 2]);
    assert.equal(a!.id.slice(0, 8), '00000000');
    h.machine.run((m) => m.leases.revoke(b!.id));
    const d = h.machine.run((m) => m.leases.grant(10_000));
    assert.equal(d.slot, 1, 'the freed slot is reused');
    assert.notEqual(d.id, b!.id);
    assert.equal(h.machine.leases.byId.get(b!.id), undefined, 'the ended lease id names a slot that is someone else\'s now');
    assert.equal(h.machine.leases.byId.get(d.id), d);
    assert.equal(h.machine.leases.byId.size, 3);
    assert.deepEqual([...h.machine.leases.byId.keys()].sort(), [a!.id, c!.id, d.id].sort());
  });

  test('ids that name no slot (a test source, an older version) live beside the slots and work the same', () => {
    const table = new LeaseTable(100);
    const foreign = lease('L1');
    const made = lease(slotLeaseId(table.nextSlot(), 1));
    table.add(foreign);
    table.add(made);
    assert.equal(foreign.slot, -1);
    assert.equal(made.slot, 0);
    assert.equal(table.get('L1'), foreign);
    assert.equal(table.get(made.id), made);
    assert.equal(table.size, 2);
    assert.deepEqual([...table.values()], [made, foreign]);
    table.remove(foreign);
    assert.equal(table.get('L1'), undefined);
    assert.equal(table.size, 1);
  });

  test('a restored lease takes the slot its id names, out of order; new slots skip it', () => {
    const table = new LeaseTable(100);
    const restored = lease(slotLeaseId(5, 1));
    table.add(restored);
    assert.equal(restored.slot, 5);
    const taken: number[] = [];
    for (let i = 0; i < 6; i++) {
      const slot = table.nextSlot();
      table.add(lease(slotLeaseId(slot, 10 + i)));
      taken.push(slot);
    }
    assert.deepEqual(taken, [0, 1, 2, 3, 4, 6]);
    assert.equal(table.size, 7);
  });

  test('a freed slot taken back by a restored lease is not handed out again', () => {
    const table = new LeaseTable(100);
    const leases = [0, 1, 2].map((slot) => lease(slotLeaseId(slot, slot)));
    for (const each of leases) table.add(each);
    table.remove(leases[1]!);
    const restored = lease(slotLeaseId(1, 99));
    table.add(restored);
    assert.equal(restored.slot, 1);
    assert.equal(table.nextSlot(), 3);
  });

  test('an id naming a slot already taken, or past the table\'s bound, is kept beside: both leases are found', () => {
    const table = new LeaseTable(16);
    const first = lease(slotLeaseId(2, 1));
    const clash = lease(slotLeaseId(2, 2));
    const far = lease(slotLeaseId(16, 3));
    const upper = lease(`0000000A${'0'.repeat(24)}`);
    for (const each of [first, clash, far, upper]) table.add(each);
    assert.deepEqual([first.slot, clash.slot, far.slot, upper.slot], [2, -1, -1, -1]);
    for (const each of [first, clash, far, upper]) assert.equal(table.get(each.id), each);
    table.remove(first);
    assert.equal(table.get(clash.id), clash, 'the clash stays found after the slot empties');
    assert.equal(table.get(first.id), undefined);
  });

  test('the server\'s ids: 32 lowercase hex, the slot first, 96 random bits after it', () => {
    const next = leaseIdSource();
    const ids = [next(0), next(0), next(0x1234abcd)];
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(ids[0]!.slice(0, 8), '00000000');
    assert.equal(ids[2]!.slice(0, 8), '1234abcd');
    assert.notEqual(ids[0], ids[1], 'the same slot twice gets different ids');
    // A thousand ids for one slot: the random part never repeats.
    const many = new Set(Array.from({ length: 1_000 }, () => next(7).slice(8)));
    assert.equal(many.size, 1_000);
  });
});
