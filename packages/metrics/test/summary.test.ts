import { test } from "node:test";
import assert from "node:assert/strict";
import { meanStd, metricDelta, studentTQuantile, studentTTwoSidedP, confidenceInterval, pairedTTest } from "../src/index";

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

test("Student t, 95% intervals and the paired test match scipy.stats (issue 17)", () => {
  // scipy 1.x: t.ppf(0.975, df); 2*t.sf(t, df); ttest_rel; the interval mean ± t.ppf(0.975, n-1)·std/√n.
  const quantiles: [number, number][] = [[1, 12.706204736174707], [2, 4.302652729749464], [4, 2.7764451051977934], [30, 2.0422724563012378]];
  for (const [df, expected] of quantiles) assert.ok(Math.abs(studentTQuantile(0.975, df) - expected) < 1e-8, `t(0.975, ${df}) = ${studentTQuantile(0.975, df)}`);
  assert.ok(Math.abs(studentTTwoSidedP(2, 5) - 0.10193947882985835) < 1e-10);
  assert.ok(Math.abs(studentTTwoSidedP(-2.5, 9) - 0.033861827682985735) < 1e-10);
  const ci = confidenceInterval([3.1, 2.9, 3.4]);
  assert.ok(Math.abs(ci.lower - 2.508172385395756) < 1e-9 && Math.abs(ci.upper - 3.758494281270911) < 1e-9, `[${ci.lower}, ${ci.upper}]`);
  assert.ok(Number.isNaN(confidenceInterval([1]).halfWidth), "one seed has no interval");
  const paired = pairedTTest([1, 2, 3, 4], [1.5, 2.1, 3.9, 4.2]);
  assert.ok(Math.abs(paired.t - 2.365068368376859) < 1e-9 && Math.abs(paired.p - 0.09894459695402409) < 1e-9, `t ${paired.t} p ${paired.p}`);
  assert.equal(paired.degreesOfFreedom, 3);
  assert.throws(() => pairedTTest([1, 2], [1]), /paired by seed/);
});
