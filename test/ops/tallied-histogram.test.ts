/** The hot-path metrics (tallied histograms and counters): the same text and JSON as prom-client's own, for the same values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { TalliedCounter, TalliedHistogram } from '../../src/ops/metrics.js';

const buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
// Below the first bound, on bounds, between them, past the last one.
const values = [0, 0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.003, 0.01, 0.2, 0.25, 0.9, 1, 1.5, 42];

function pair(): { tallied: TalliedHistogram; reference: Histogram; mine: Registry; theirs: Registry } {
  const mine = new Registry();
  const theirs = new Registry();
  const config = { name: 'lockring_test_lateness_seconds', help: 'Test.', buckets };
  return {
    tallied: new TalliedHistogram({ ...config, registers: [mine] }),
    reference: new Histogram({ ...config, registers: [theirs] }),
    mine,
    theirs,
  };
}

test('recorded values scrape as prom-client observes them, in text and JSON', async () => {
  const { tallied, reference, mine, theirs } = pair();
  assert.equal(await mine.metrics(), await theirs.metrics(), 'empty');
  for (const value of values) {
    tallied.record(value);
    reference.observe(value);
  }
  assert.equal(await mine.metrics(), await theirs.metrics());
  // JSON: the same samples (prom-client adds an empty `exemplar` to its own).
  const samples = async (registry: Registry) =>
    (await registry.getMetricsAsJSON()).map(({ values: samples, ...metric }) => ({
      ...metric,
      values: samples.map((sample) => ({ value: sample.value, labels: sample.labels, metricName: (sample as { metricName?: string }).metricName })),
    }));
  assert.deepEqual(await samples(mine), await samples(theirs));
  assert.match(await mine.metrics(), /lockring_test_lateness_seconds_count 14/);
});

test('reset empties the tally', async () => {
  const { tallied, reference, mine, theirs } = pair();
  tallied.record(0.003);
  tallied.reset();
  reference.observe(0.003);
  reference.reset();
  reference.zero({});
  assert.equal(await mine.metrics(), await theirs.metrics());
});

test('labelled tallies scrape as prom-client children, per label set in order of first use', async () => {
  const mine = new Registry();
  const theirs = new Registry();
  const config = { name: 'lockring_test_request_seconds', help: 'Test.', buckets, labelNames: ['route', 'status'] };
  const tallied = new TalliedHistogram({ ...config, registers: [mine] });
  const reference = new Histogram({ ...config, registers: [theirs] });
  assert.equal(await mine.metrics(), await theirs.metrics(), 'empty: no series before the first value');
  const sets = [{ route: '/a', status: '200' }, { route: '/b', status: '409' }, { route: '/a', status: '500' }];
  values.forEach((value, i) => {
    const labels = sets[i % sets.length]!;
    tallied.child(labels).record(value);
    reference.labels(labels).observe(value);
  });
  assert.equal(await mine.metrics(), await theirs.metrics());
  assert.equal(tallied.child({ route: '/a', status: '200' }), tallied.child({ status: '200', route: '/a' }), 'one tally per label set');
});

test('a tallied counter scrapes the sums of its label values, zeros included', async () => {
  const mine = new Registry();
  const theirs = new Registry();
  const config = { name: 'lockring_test_frames_total', help: 'Test.' };
  const tallied = new TalliedCounter({ ...config, registers: [mine], label: 'direction', values: ['in', 'out', 'lost'] as const });
  const reference = new Counter({ ...config, labelNames: ['direction'], registers: [theirs] });
  for (const direction of ['in', 'out', 'lost'] as const) reference.inc({ direction }, 0);
  const frameIn = tallied.counting('in');
  for (let i = 0; i < 5; i++) {
    frameIn.inc();
    reference.inc({ direction: 'in' });
  }
  tallied.add('out', 3);
  reference.inc({ direction: 'out' }, 3);
  assert.equal(await mine.metrics(), await theirs.metrics());
  // A second scrape adds nothing twice.
  assert.equal(await mine.metrics(), await theirs.metrics());
  tallied.add('in');
  reference.inc({ direction: 'in' });
  assert.equal(await mine.metrics(), await theirs.metrics());
});
