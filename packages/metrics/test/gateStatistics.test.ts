import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram, Rng } from "@rnnlab/core";
import { GateSaturationAccumulator, gateSaturation, gateSaturationFromHistogram, histogramDensity } from "../src/index";

test("saturation shares from values: hand-counted, strict thresholds, NaN skipped", () => {
  const values = [0.05, 0.1, 0.5, 0.9, 0.95, 0.99, 0.0, Number.NaN];
  const result = gateSaturation(values);
  // below 0.1: 0.05, 0.0 (0.1 itself is not below); above 0.9: 0.95, 0.99 (0.9 is not above); 7 values.
  assert.equal(result.count, 7);
  assert.equal(result.shareBelowLow, 2 / 7);
  assert.equal(result.shareAboveHigh, 2 / 7);
  assert.equal(result.shareSaturated, 4 / 7);
  const streamed = new GateSaturationAccumulator().add(values.slice(0, 3)).add(new Float32Array(values.slice(3))).value();
  assert.equal(streamed.shareSaturated, 4 / 7);
  assert.equal(gateSaturation([0.2, 0.3], { low: 0.25, high: 0.25 }).shareBelowLow, 0.5);
  assert.throws(() => gateSaturation([]), /no values/);
  assert.throws(() => gateSaturation([0.5], { low: 0.9, high: 0.1 }), /low <= high/);
});

test("histogram-based shares equal exact shares when thresholds sit on bin edges", () => {
  const rng = new Rng(7);
  const values = new Float32Array(5000);
  for (let index = 0; index < values.length; index++) {
    // A bimodal mix, like trained G2-LSTM gates: mass near 0 and 1.
    const u = rng.uniform();
    values[index] = u < 0.4 ? 0.2 * rng.uniform() : u < 0.8 ? 1 - 0.2 * rng.uniform() : rng.uniform();
  }
  const histogram = new Histogram(0, 1, 20).add(values);
  const exact = gateSaturation(values);
  const binned = gateSaturationFromHistogram(histogram);
  assert.ok(Math.abs(binned.shareBelowLow - exact.shareBelowLow) < 1e-3, `${binned.shareBelowLow} vs ${exact.shareBelowLow}`);
  assert.ok(Math.abs(binned.shareAboveHigh - exact.shareAboveHigh) < 1e-3, `${binned.shareAboveHigh} vs ${exact.shareAboveHigh}`);
  assert.ok(exact.shareSaturated > 0.35);
  const fromJson = gateSaturationFromHistogram(JSON.parse(JSON.stringify(histogram.toJSON())));
  assert.equal(fromJson.shareSaturated, binned.shareSaturated);
  assert.throws(() => gateSaturationFromHistogram(new Histogram(0, 1, 10)), /empty/);
});

test("histogram density: centres, shares sum to 1, density integrates to 1", () => {
  const density = histogramDensity({ min: 0, max: 1, counts: [1, 3, 0, 4] });
  assert.deepEqual(density.centers, [0.125, 0.375, 0.625, 0.875]);
  assert.deepEqual(density.shares, [0.125, 0.375, 0, 0.5]);
  assert.deepEqual(density.densities, [0.5, 1.5, 0, 2]);
  assert.equal(density.binWidth, 0.25);
  const fromHistogram = histogramDensity(new Histogram(-1, 1, 8).add([-0.9, 0.1, 0.2, 0.9]));
  const integral = fromHistogram.densities.reduce((sum, value) => sum + value * fromHistogram.binWidth, 0);
  assert.ok(Math.abs(integral - 1) < 1e-12);
  assert.throws(() => histogramDensity({ min: 0, max: 1, counts: [0, 0] }), /all bin counts are 0/);
});
