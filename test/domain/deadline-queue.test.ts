import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeadlineQueue, type DeadlineEntry } from '../../src/domain/deadline-queue.js';

interface Item extends DeadlineEntry {
  readonly label: number;
}

const item = (label: number): Item => ({ label, heapIndex: -1 });

function drain(queue: DeadlineQueue<Item>, nowMs = Number.MAX_SAFE_INTEGER): number[] {
  const labels: number[] = [];
  for (let next = queue.popDue(nowMs); next !== undefined; next = queue.popDue(nowMs)) {
    assert.equal(next.heapIndex, -1, 'a popped entry is no longer queued');
    labels.push(next.label);
  }
  return labels;
}

describe('DeadlineQueue', () => {
  test('pops in deadline order', () => {
    const queue = new DeadlineQueue<Item>();
    const deadlines = [50, 10, 40, 30, 20, 60, 0];
    deadlines.forEach((deadline, i) => queue.schedule(item(i), deadline));
    assert.equal(queue.size, 7);
    assert.equal(queue.peek()!.label, 6);
    assert.equal(queue.deadlineOf(queue.peek()!), 0);
    assert.deepEqual(drain(queue), [6, 1, 4, 3, 2, 0, 5]);
    assert.equal(queue.size, 0);
    assert.equal(queue.peek(), undefined);
  });

  test('popDue returns only entries due at now, inclusive', () => {
    const queue = new DeadlineQueue<Item>();
    queue.schedule(item(1), 100);
    queue.schedule(item(2), 101);
    assert.equal(queue.popDue(99), undefined);
    assert.equal(queue.popDue(100)!.label, 1);
    assert.equal(queue.popDue(100), undefined);
    assert.equal(queue.size, 1);
  });

  test('equal deadlines fire in the order they were scheduled', () => {
    const queue = new DeadlineQueue<Item>();
    for (let i = 0; i < 20; i++) queue.schedule(item(i), 5);
    assert.deepEqual(drain(queue), Array.from({ length: 20 }, (_, i) => i));
  });

  test('rescheduling moves an entry, and to the back of its new deadline', () => {
    const queue = new DeadlineQueue<Item>();
    const entries = [item(0), item(1), item(2), item(3)];
    entries.forEach((entry, i) => queue.schedule(entry, 10 * (i + 1)));
    queue.schedule(entries[3]!, 5);
    queue.schedule(entries[0]!, 30);
    assert.equal(queue.size, 4, 'rescheduling does not duplicate');
    assert.deepEqual(drain(queue), [3, 1, 2, 0]);
  });

  test('remove takes an entry out wherever it is; removing twice is a no-op', () => {
    const queue = new DeadlineQueue<Item>();
    const entries = Array.from({ length: 10 }, (_, i) => item(i));
    entries.forEach((entry, i) => queue.schedule(entry, (i * 7) % 10));
    queue.remove(entries[4]!);
    queue.remove(entries[4]!);
    queue.remove(entries[0]!);
    assert.equal(entries[4]!.heapIndex, -1);
    assert.equal(queue.size, 8);
    const expected = entries.filter((_, i) => i !== 4 && i !== 0).sort((a, b) => queue.deadlineOf(a) - queue.deadlineOf(b)).map((e) => e.label);
    assert.deepEqual(drain(queue), expected);
    queue.remove(item(99));
    assert.equal(queue.size, 0);
  });

  test('an entry removed and scheduled again is queued once', () => {
    const queue = new DeadlineQueue<Item>();
    const entry = item(1);
    queue.schedule(entry, 10);
    queue.remove(entry);
    queue.schedule(entry, 20);
    assert.equal(queue.size, 1);
    assert.deepEqual(drain(queue), [1]);
  });

  test('a deadline between two milliseconds falls due at the next whole one, never before', () => {
    const queue = new DeadlineQueue<Item>();
    const early = item(1);
    const late = item(2);
    queue.schedule(late, 100.7);
    queue.schedule(early, 100.2);
    assert.equal(queue.deadlineOf(early), 100.2, 'the deadline is kept as scheduled');
    assert.equal(queue.peekDeadlineMs(), 101);
    assert.equal(queue.popDue(100.5), undefined, 'due at 100.2, but its millisecond has not ended');
    assert.equal(queue.popDue(100.99), undefined);
    // One millisecond: the two fire in the order they were scheduled, each with its own deadline.
    assert.equal(queue.popDue(101), late);
    assert.equal(queue.poppedDeadlineMs, 100.7);
    assert.equal(queue.popDue(101), early);
    assert.equal(queue.poppedDeadlineMs, 100.2);
    assert.equal(queue.size, 0);
  });

  test('a move within its millisecond keeps the entry queued once, at the back', () => {
    const queue = new DeadlineQueue<Item>();
    const a = item(1);
    const b = item(2);
    queue.schedule(a, 10.1);
    queue.schedule(b, 10.5);
    queue.schedule(a, 10.9);
    assert.equal(queue.size, 2);
    assert.equal(queue.deadlineOf(a), 10.9);
    assert.deepEqual(drain(queue), [2, 1]);
  });

  test('property: any mix of schedule, reschedule, remove and pop matches a sorted model', () => {
    // Quarter milliseconds: whole ones, equal ones and several in one millisecond.
    matchesModel(fc.integer({ min: 0, max: 80 }).map((quarters) => quarters / 4), fc.integer({ min: 0, max: 20 }));
  });

  test('property: milliseconds 65,536 apart (one place of the direct bucket index) are kept apart', () => {
    const apart = (whole: number, part: number): number => whole * 65_536 + part;
    matchesModel(
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 8 })).map(([whole, quarters]) => apart(whole, quarters / 4)),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([whole, part]) => apart(whole, part)),
    );
  });
});

/** Runs random schedules, removals and pops against a model sorted by (millisecond due, order scheduled). */
function matchesModel(deadlines: fc.Arbitrary<number>, nows: fc.Arbitrary<number>): void {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('schedule' as const), label: fc.integer({ min: 0, max: 15 }), deadline: deadlines }),
    fc.record({ kind: fc.constant('remove' as const), label: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('pop' as const), now: nows }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const queue = new DeadlineQueue<Item>();
      const entries = Array.from({ length: 16 }, (_, i) => item(i));
      // The model: label -> [the millisecond it falls due in, order of its last schedule].
      const model = new Map<number, [number, number]>();
      let order = 0;
      const earliest = (): number | undefined => {
        let best: [number, [number, number]] | undefined;
        for (const entry of model) {
          if (best === undefined || entry[1][0] < best[1][0] || (entry[1][0] === best[1][0] && entry[1][1] < best[1][1])) best = entry;
        }
        return best?.[0];
      };
      for (const step of ops) {
        if (step.kind === 'schedule') {
          queue.schedule(entries[step.label]!, step.deadline);
          model.set(step.label, [Math.ceil(step.deadline), order++]);
          assert.equal(queue.deadlineOf(entries[step.label]!), step.deadline);
        } else if (step.kind === 'remove') {
          queue.remove(entries[step.label]!);
          model.delete(step.label);
        } else {
          const want = earliest();
          const due = want !== undefined && model.get(want)![0] <= step.now ? want : undefined;
          assert.equal(queue.popDue(step.now)?.label, due);
          if (due !== undefined) {
            assert.ok(queue.poppedDeadlineMs <= step.now, 'never before its deadline');
            model.delete(due);
          }
        }
        assert.equal(queue.size, model.size);
        assert.equal(queue.peek()?.label, earliest());
        for (const entry of entries) assert.equal(entry.heapIndex >= 0, model.has(entry.label));
      }
      const rest = [...model].sort((a, b) => a[1][0] - b[1][0] || a[1][1] - b[1][1]).map(([label]) => label);
      assert.deepEqual(drain(queue), rest);
    }),
    { numRuns: 500 },
  );
}

describe('DeadlineQueue at size', () => {
  test('thousands of entries past its first capacity, rescheduled and removed, pop in order; slots are reused', () => {
    const queue = new DeadlineQueue<Item>();
    const count = 5_000;
    const entries = Array.from({ length: count }, (_, i) => item(i));
    // A fixed permutation of deadlines, then every third entry moved and every fifth removed.
    entries.forEach((entry, i) => queue.schedule(entry, (i * 7919) % count));
    entries.forEach((entry, i) => {
      if (i % 3 === 0) queue.schedule(entry, (i * 104729) % (2 * count));
    });
    entries.forEach((entry, i) => {
      if (i % 5 === 0) queue.remove(entry);
    });
    const left = entries.filter((_, i) => i % 5 !== 0);
    assert.equal(queue.size, left.length);
    assert.equal(queue.peekDeadlineMs(), Math.min(...left.map((entry) => queue.deadlineOf(entry))));
    // Equal deadlines pop in scheduling order: the moved entries were scheduled last.
    const order = (entry: Item): number => (entry.label % 3 === 0 ? count + entry.label : entry.label);
    const expected = [...left].sort((a, b) => queue.deadlineOf(a) - queue.deadlineOf(b) || order(a) - order(b)).map((entry) => entry.label);
    assert.deepEqual(drain(queue), expected);
    assert.equal(queue.peekDeadlineMs(), Infinity);
    // Everything left: a new round takes the freed slots, in order again.
    entries.forEach((entry, i) => queue.schedule(entry, count - i));
    assert.deepEqual(drain(queue), entries.map((entry) => entry.label).reverse());
  });

  test('an entry queued elsewhere is not taken for one of this queue', () => {
    const mine = new DeadlineQueue<Item>();
    const other = new DeadlineQueue<Item>();
    const a = item(1);
    const b = item(2);
    mine.schedule(a, 10);
    other.schedule(b, 20);
    assert.equal(a.heapIndex, b.heapIndex, 'both hold slot 0 of their own queue');
    mine.remove(b);
    assert.equal(mine.size, 1);
    assert.equal(mine.peek(), a);
  });
});
