import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AccuracyAccumulator,
  LossAccumulator,
  WeightedMeanAccumulator,
  accuracy,
  bitsPerCharacter,
  countCorrect,
  perplexity,
} from "../src/index";

test("loss accumulator weights batches by token count, not a mean of means", () => {
  // Two batches: 10 tokens at mean NLL 2.0 and 30 tokens at mean NLL 4.0: (20 + 120) / 40 = 3.5.
  const losses = new LossAccumulator().add(2.0, 10).add(4.0, 30);
  assert.equal(losses.meanLoss(), 3.5);
  assert.notEqual(losses.meanLoss(), 3.0); // the unweighted mean of the two batch means
  assert.equal(losses.count, 40);
  assert.ok(Math.abs(losses.perplexity() - Math.exp(3.5)) < 1e-12);
  assert.ok(Math.abs(losses.bitsPerCharacter() - 3.5 / Math.log(2)) < 1e-12);
  const summed = new LossAccumulator().addSum(20, 10).addSum(120, 30);
  assert.equal(summed.meanLoss(), 3.5);
});

test("perplexity and bits per character: hand values", () => {
  // A uniform model over V symbols has NLL ln V: perplexity V, ln V / ln 2 bits.
  assert.ok(Math.abs(perplexity(Math.log(10000)) - 10000) < 1e-8);
  assert.ok(Math.abs(bitsPerCharacter(Math.log(256)) - 8) < 1e-12);
  assert.equal(perplexity(0), 1);
  assert.throws(() => perplexity(Number.NaN), /perplexity\(meanNllNats\)/);
});

test("accuracy with and without mask; accumulator divides once", () => {
  assert.equal(accuracy([1, 2, 3, 4], [1, 2, 0, 0]), 0.5);
  assert.equal(accuracy([1, 2, 3, 4], [1, 2, 0, 0], [1, 1, 1, 0]), 2 / 3);
  assert.deepEqual(countCorrect(new Int32Array([5, 5]), new Int32Array([5, 6])), { correct: 1, total: 2 });
  const accumulator = new AccuracyAccumulator().addPredictions([1], [1]).add(1, 3);
  assert.equal(accumulator.value(), 0.5);
  assert.throws(() => accuracy([1], [1, 2]), /same length/);
  assert.throws(() => new AccuracyAccumulator().value(), /no positions/);
  assert.throws(() => new WeightedMeanAccumulator().value(), /no items/);
  assert.throws(() => new WeightedMeanAccumulator().add(1, -1), /count/);
});
