import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram } from "../src";

test("values land in the right bins; edges, out-of-range and NaN are accounted for", () => {
  const h = new Histogram(0, 1, 10);
  h.add([0, 0.05, 0.1, 0.55, 0.999, 1, -0.5, 2, Number.NaN]);
  assert.deepEqual(Array.from(h.counts), [3, 1, 0, 0, 0, 1, 0, 0, 0, 3]);
  assert.equal(h.total, 8);
  assert.equal(h.underflow, 1);
  assert.equal(h.overflow, 1);
  assert.equal(h.nan, 1);
});

test("shareBelow / shareAbove: exact at bin edges, linear inside a bin", () => {
  const h = new Histogram(0, 1, 10);
  h.add([0.01, 0.02, 0.5, 0.95, 0.96]);
  assert.equal(h.shareBelow(0.1), 2 / 5);
  assert.equal(h.shareAbove(0.9), 2 / 5);
  assert.ok(Math.abs(h.shareBelow(0.55) - 2.5 / 5) < 1e-12);
  assert.equal(h.shareBelow(-1), 0);
  assert.equal(h.shareAbove(5), 0);
  assert.equal(new Histogram(0, 1, 4).shareBelow(0.5), 0);
});

test("merge adds counts; mismatched ranges are rejected; JSON round trip", () => {
  const a = new Histogram(-1, 1, 4).add([-0.9, 0.1]);
  const b = new Histogram(-1, 1, 4).add([0.9, 0.95, -2]);
  a.merge(b);
  assert.deepEqual(Array.from(a.counts), [2, 0, 1, 2]);
  assert.equal(a.total, 5);
  assert.equal(a.underflow, 1);
  assert.throws(() => a.merge(new Histogram(0, 1, 4)), /ranges differ/);
  const back = Histogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  assert.deepEqual(back.toJSON(), a.toJSON());
  assert.throws(() => new Histogram(1, 1, 3), /min < max/);
  assert.throws(() => new Histogram(0, 1, 0), /bins/);
});

test("memory is fixed: a million values, still 50 bins", () => {
  const h = new Histogram(0, 1, 50);
  const values = new Float32Array(1_000_000);
  for (let i = 0; i < values.length; i++) values[i] = (i % 1000) / 1000;
  h.add(values);
  assert.equal(h.counts.length, 50);
  assert.equal(h.total, 1_000_000);
  assert.ok(Math.abs(h.shareBelow(0.1) - 0.1) < 1e-9);
});
