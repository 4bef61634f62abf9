import { test } from "node:test";
import assert from "node:assert/strict";
import { meanStd, metricDelta } from "../src/index";

test("mean and sample standard deviation over seeds", () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, sample variance 32/7.
  const summary = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(summary.mean, 5);
  assert.ok(Math.abs(summary.std - Math.sqrt(32 / 7)) < 1e-12);
  assert.deepEqual([summary.count, summary.min, summary.max], [8, 2, 9]);
  assert.ok(Number.isNaN(meanStd([3]).std));
  assert.throws(() => meanStd([]), /no values/);
  assert.throws(() => meanStd([1, Number.NaN]), /meanStd\(values\)\[1\]/);
});

test("metricDelta: single and paired per-seed", () => {
  assert.deepEqual(metricDelta(100, 110), { original: 100, compressed: 110, delta: 10, relativeDelta: 0.1 });
  const paired = metricDelta([100, 120], [101, 125]);
  assert.deepEqual(paired.perSeed.map((entry) => entry.delta), [1, 5]);
  assert.equal(paired.delta.mean, 3);
  assert.ok(Math.abs(paired.delta.std - Math.sqrt(8)) < 1e-12);
  assert.equal(paired.original.mean, 110);
  assert.throws(() => metricDelta([1, 2], [1]), /paired by seed/);
});
