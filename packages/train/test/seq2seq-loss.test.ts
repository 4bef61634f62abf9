import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf, Rng } from "@rnnlab/core";
import { maskedCrossEntropy, maskedTokenLosses } from "../src/seq2seq-loss";

before(async () => {
  await selectBackend();
});

function randomLogits(rng: Rng, rows: number, columns: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: rows * columns }, () => rng.normal(0, 2)), [rows, columns]);
}

const targets = tf.tensor1d([2, 0, 4, 1, 3], "int32");
const weights = tf.tensor1d([1, 1, 0, 1, 0]); // rows 2 and 4 are padding

test("masked cross-entropy equals the log-softmax formula over real rows only", () => {
  const logits = randomLogits(new Rng(1), 5, 6);
  const { mean, count } = maskedCrossEntropy(logits, targets, weights);
  const logp = tf.logSoftmax(logits).arraySync() as number[][];
  const t = targets.arraySync();
  const expected = -(logp[0][t[0]] + logp[1][t[1]] + logp[3][t[3]]) / 3;
  assert.ok(Math.abs(mean.dataSync()[0] - expected) < 1e-5, `${mean.dataSync()[0]} vs ${expected}`);
  assert.equal(count.dataSync()[0], 3);
  const perToken = maskedTokenLosses(logits, targets, weights).arraySync();
  assert.ok(Math.abs(perToken[1] + logp[1][t[1]]) < 1e-5);
  assert.equal(perToken[2], 0);
  tf.dispose([logits, mean, count]);
});

test("custom gradient matches autodiff of the log-softmax form and central finite differences", () => {
  const logits = randomLogits(new Rng(2), 5, 6);
  const f = (z: tf.Tensor) => maskedCrossEntropy(z as tf.Tensor2D, targets, weights).mean;
  const reference = (z: tf.Tensor) =>
    tf.div(tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(targets, 6, 1, 0, "float32")), 1), weights))), tf.sum(weights)) as tf.Scalar;
  const custom = tf.grad(f)(logits).arraySync() as number[][];
  const auto = tf.grad(reference)(logits).arraySync() as number[][];
  const z = logits.arraySync() as number[][];
  const h = 1e-2;
  for (let r = 0; r < 5; r++) {
    for (let c = 0; c < 6; c++) {
      assert.ok(Math.abs(custom[r][c] - auto[r][c]) < 1e-5, `[${r},${c}] custom ${custom[r][c]} vs autodiff ${auto[r][c]}`);
      const plus = z.map((row) => row.slice());
      const minus = z.map((row) => row.slice());
      plus[r][c] += h;
      minus[r][c] -= h;
      const fd = (tf.tidy(() => f(tf.tensor2d(plus)).dataSync()[0]) - tf.tidy(() => f(tf.tensor2d(minus)).dataSync()[0])) / (2 * h);
      assert.ok(Math.abs(custom[r][c] - fd) < 2e-3, `[${r},${c}] custom ${custom[r][c]} vs finite difference ${fd}`);
    }
  }
  // Padding rows get exactly zero gradient.
  assert.ok(custom[2].every((g) => g === 0) && custom[4].every((g) => g === 0));
  logits.dispose();
});

test("what the padding rows hold changes neither the loss nor the real rows' gradients", () => {
  const rng = new Rng(3);
  const a = randomLogits(rng, 5, 6).arraySync() as number[][];
  const b = a.map((row, r) => (r === 2 || r === 4 ? row.map(() => rng.normal(0, 50)) : row));
  const la = tf.tensor2d(a);
  const lb = tf.tensor2d(b);
  const f = (z: tf.Tensor) => maskedCrossEntropy(z as tf.Tensor2D, targets, weights).mean;
  assert.equal(f(la).dataSync()[0], f(lb).dataSync()[0]);
  assert.deepEqual(tf.grad(f)(la).arraySync(), tf.grad(f)(lb).arraySync());
  tf.dispose([la, lb]);
});

test("shape mismatch is an error naming the sizes", () => {
  const logits = tf.zeros([4, 6]) as tf.Tensor2D;
  assert.throws(() => maskedCrossEntropy(logits, targets, weights), /4 rows but targets have 5/);
  logits.dispose();
});
