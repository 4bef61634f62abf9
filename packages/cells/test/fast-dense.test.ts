/** dense / addBias / weightGradient (src/fast/dense.ts) against autodiff of x·W + b. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { addBias, denseProjection } from "../src/fast";

before(async () => {
  await selectBackend();
});

function randn(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

for (const columnBlock of [0, 3, 4]) {
  test(`denseProjection (columnBlock=${columnBlock}) equals autodiff of x·W + b: value and all gradients`, () => {
    const rng = new Rng(40 + columnBlock);
    const x = randn(rng, [6, 5]);
    const w = randn(rng, [5, 10]);
    const b = randn(rng, [10]);
    const up = randn(rng, [6, 10]);
    const run = (f: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D) =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor2D, c as tf.Tensor2D, d as tf.Tensor1D), up)) as tf.Scalar)([x, w, b]);
        return [f(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D), value, ...grads];
      });
    const fast = run((a, c, d) => denseProjection(a, c, d, { columnBlock }));
    const ref = run((a, c, d) => tf.add(tf.matMul(a, c), d) as tf.Tensor2D);
    for (let i = 0; i < fast.length; i++) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(fast[i], ref[i]))).dataSync()[0]);
      assert.ok(d < 1e-4, `output ${i} differs by ${d}`);
    }
    tf.dispose([...fast, ...ref, x, w, b, up]);
  });
}

test("addBias gradient is the column sum; denseProjection rejects mismatched shapes; no leaks", () => {
  const g = tf.tidy(() => Array.from(tf.grad((b: tf.Tensor) => tf.sum(tf.mul(addBias(tf.ones([3, 2]) as tf.Tensor2D, b as tf.Tensor1D), tf.tensor2d([[1, 2], [3, 4], [5, 6]]))))(tf.zeros([2])).dataSync()));
  assert.deepEqual(g, [9, 12]);
  assert.throws(() => denseProjection(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 2]) as tf.Tensor2D), /kernel must have 3 rows/);
  const w = tf.variable(tf.ones([3, 4]));
  const x = tf.ones([2, 3]) as tf.Tensor2D;
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(denseProjection(x, w as unknown as tf.Tensor2D, undefined, { columnBlock: 2 })) as tf.Scalar, [w]);
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const before = tf.memory().numTensors;
  step();
  step();
  assert.equal(tf.memory().numTensors, before);
});

test("denseProjection gradients match central finite differences (with column blocks and bias)", () => {
  const rng = new Rng(50);
  const inputs = [randn(rng, [3, 4]), randn(rng, [4, 5]), randn(rng, [5])];
  const up = randn(rng, [3, 5]);
  const loss = (t: tf.Tensor[]) => tf.sum(tf.mul(denseProjection(t[0] as tf.Tensor2D, t[1] as tf.Tensor2D, t[2] as tf.Tensor1D, { columnBlock: 2 }), up)) as tf.Scalar;
  const analytic = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => loss([a, b, c]))(inputs).map((g) => Array.from(g.dataSync())));
  const eps = 1e-2;
  for (let which = 0; which < 3; which++) {
    const base = Float32Array.from(inputs[which].dataSync());
    for (let j = 0; j < base.length; j += 2) {
      const at = (v: number) =>
        tf.tidy(() => {
          const x = base.slice();
          x[j] = v;
          return loss(inputs.map((t, i) => (i === which ? tf.tensor(x, t.shape) : t))).dataSync()[0];
        });
      const numeric = (at(base[j] + eps) - at(base[j] - eps)) / (2 * eps);
      assert.ok(Math.abs(numeric - analytic[which][j]) < 2e-3 * Math.max(1, Math.abs(numeric)), `input ${which} entry ${j}: ${numeric} vs ${analytic[which][j]}`);
    }
  }
  tf.dispose([...inputs, up]);
});
