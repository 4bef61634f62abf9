/** structuredDropoutGroupedMatMul (src/fast/structured-dropout.ts) against a dense masked reference. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { structuredDropoutGroupedMatMul, structuredDropoutSequenceProjection } from "../src/fast";

before(async () => {
  await selectBackend();
});

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

function keepSets(rng: Rng, groups: number, features: number, kept: number): Int32Array[] {
  return Array.from({ length: groups }, () => Int32Array.from(rng.sampleWithoutReplacement(features, kept)));
}

/** (x ⊙ M) · W / (1−p) with M[r, j] = 1 when j is kept in row r's group: plain ops, autodiff. */
function reference(x: tf.Tensor2D, w: tf.Tensor2D, sets: Int32Array[], rate: number): tf.Tensor2D {
  const [rows, features] = x.shape;
  const per = rows / sets.length;
  const mask = new Float32Array(rows * features);
  for (let r = 0; r < rows; r++) for (const j of sets[Math.floor(r / per)]) mask[r * features + j] = 1;
  return tf.div(tf.matMul(tf.mul(x, tf.tensor2d(mask, [rows, features])), w), 1 - rate) as tf.Tensor2D;
}

function diff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const groups of [1, 3, 6]) {
  test(`grouped structured matMul (groups=${groups}) equals the masked dense product, with gradients`, () => {
    const rng = new Rng(10 + groups);
    const x = randn(rng, [12, 7]) as tf.Tensor2D;
    const w = randn(rng, [7, 5]) as tf.Tensor2D;
    const up = randn(rng, [12, 5]);
    const bias = randn(rng, [5]) as tf.Tensor1D;
    const sets = keepSets(rng, groups, 7, 3);
    const run = (f: typeof reference) =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, b as tf.Tensor2D, sets, 0.5), up)) as tf.Scalar)([x, w]);
        return [f(x, w, sets, 0.5), value, ...grads];
      });
    const fast = run((a, b, k, r) => structuredDropoutGroupedMatMul(a, b, bias, k, r));
    const ref = run((a, b, k, r) => tf.add(reference(a, b, k, r), bias) as tf.Tensor2D);
    for (let i = 0; i < fast.length; i++) assert.ok(diff(fast[i], ref[i]) < 1e-4, `output ${i} differs by ${diff(fast[i], ref[i])}`);
    // Dropped features get no gradient in x.
    const dx = fast[2].arraySync() as number[][];
    for (let r = 0; r < 12; r++) for (let j = 0; j < 7; j++) if (!sets[Math.floor(r / (12 / groups))].includes(j)) assert.equal(dx[r][j], 0);
    tf.dispose([...fast, ...ref, x, w, up, bias]);
  });
}

test("structured projection at rate 0 with every feature kept equals the dense projection; bad groups are rejected", () => {
  const rng = new Rng(20);
  const xs = randn(rng, [4, 2, 3]) as tf.Tensor3D;
  const w = randn(rng, [3, 5]) as tf.Tensor2D;
  const b = randn(rng, [5]) as tf.Tensor1D;
  const all = [Int32Array.from([0, 1, 2]), Int32Array.from([2, 0, 1])];
  const d = tf.tidy(() => diff(structuredDropoutSequenceProjection(xs, w, b, all, 0), tf.add(tf.reshape(tf.matMul(tf.reshape(xs, [8, 3]), w), [4, 2, 5]), b)));
  assert.ok(d < 1e-5, `differs by ${d}`);
  assert.throws(() => structuredDropoutSequenceProjection(xs, w, b, [all[0], all[0], all[0]], 0.5), /do not divide 4 time steps/);
  assert.throws(() => structuredDropoutGroupedMatMul(tf.zeros([8, 3]) as tf.Tensor2D, w, undefined, [Int32Array.from([3])], 0.5), /keep index 3/);
  assert.throws(() => structuredDropoutGroupedMatMul(tf.zeros([8, 3]) as tf.Tensor2D, w, undefined, [all[0], all[1]], 0.5, { groupRows: [6, 3] }), /groupRows \[6,3\] must give one positive row count per keep set \(2\) summing to the 8 rows/);
  // Uneven groups: rows 0-5 keep {0,1,2} (all, p = 0 so nothing is scaled), rows 6-7 the same set permuted: equals the dense product.
  const uneven = tf.tidy(() => diff(structuredDropoutGroupedMatMul(tf.reshape(xs, [8, 3]) as tf.Tensor2D, w, b, all, 0, { groupRows: [6, 2] }), tf.add(tf.matMul(tf.reshape(xs, [8, 3]), w), b)));
  assert.ok(uneven < 1e-5, `uneven groups differ by ${uneven}`);
});

test("structured matMul leaks no tensors across training steps", () => {
  const rng = new Rng(30);
  const x = randn(rng, [6, 4]) as tf.Tensor2D;
  const w = tf.variable(randn(rng, [4, 3]));
  const step = () => {
    const sets = keepSets(rng, 2, 4, 2);
    const { value, grads } = tf.variableGrads(() => tf.sum(structuredDropoutGroupedMatMul(x, w as unknown as tf.Tensor2D, undefined, sets, 0.5)) as tf.Scalar, [w]);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
});
