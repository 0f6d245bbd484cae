/** The expiry loop's histogram: the same text and JSON as prom-client's own, for the same values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from '../../src/ops/metrics.js';

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
