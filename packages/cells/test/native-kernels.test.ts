/**
 * The native kernels behind cells' norms and fused recurrences (core's blas-kernels.ts, addon
 * @rnnlab/native-blas) against the TF.js ops they replace, in one process: each case runs with the
 * native products on, then off (setNativeMatmul(false) removes the kernels, so the same calls take the
 * TF.js path), and values and gradients must agree. Skipped where the native products are not active.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, setNativeMatmul, tf } from "@rnnlab/core";
import { assortedTimeNorm, layerNorm } from "../src";

let ready = false;
before(async () => {
  ready = (await selectBackend()).matmul === "blas";
});

function both(f: () => tf.Tensor[]): [number[][], number[][]] {
  const run = () => tf.tidy(() => f().map((t) => Array.from(t.dataSync())));
  const native = run();
  setNativeMatmul(false);
  try {
    return [native, run()];
  } finally {
    setNativeMatmul(true);
  }
}

function assertAgree(label: string, [a, b]: [number[][], number[][]], tol = 2e-5): void {
  assert.equal(a.length, b.length);
  a.forEach((x, k) => {
    let worst = 0;
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k][i]) / Math.max(1, Math.abs(b[k][i])))));
    assert.ok(worst <= tol, `${label}: output ${k} differs by ${worst}`);
  });
}

test("layer norm kernel: values and gradients equal the TF.js ops", (t) => {
  if (!ready) return t.skip("native products not active");
  const rng = new Rng(1);
  const [B, F] = [5, 12];
  const a = tf.tensor2d(rng.fillNormal(new Float32Array(B * F), 0.3, 2), [B, F]);
  const gain = tf.tensor1d(rng.fillNormal(new Float32Array(F), 1, 0.2));
  const bias = tf.tensor1d(rng.fillNormal(new Float32Array(F), 0, 0.2));
  const weights = tf.tensor2d(rng.fillNormal(new Float32Array(B * F)), [B, F]);
  assertAgree("layerNorm", both(() => {
    const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(layerNorm(x as tf.Tensor2D, g, b), weights));
    const { value, grads } = tf.valueAndGrads(f)([a, gain, bias]);
    return [layerNorm(a, gain, bias), value, ...grads];
  }));
});

test("assorted-time norm kernel: values, shifted windows and gradients (into the windows too) equal the TF.js ops", (t) => {
  if (!ready) return t.skip("native products not active");
  const rng = new Rng(2);
  const [B, F, P] = [4, 10, 3];
  const a = tf.tensor2d(rng.fillNormal(new Float32Array(B * F), 0.5, 1.5), [B, F]);
  const gain = tf.tensor1d(rng.fillNormal(new Float32Array(F), 1, 0.2));
  const bias = tf.tensor1d(rng.fillNormal(new Float32Array(F), 0, 0.2));
  const wsum = tf.tensor2d(rng.fillNormal(new Float32Array(B * P), 2, 3), [B, P]);
  const wsq = tf.tensor2d(rng.fillUniform(new Float32Array(B * P), 10, 40), [B, P]);
  const count = tf.tensor2d([0, 1, 2, 7], [B, 1]); // empty, partly and fully valid windows
  const w1 = tf.tensor2d(rng.fillNormal(new Float32Array(B * F)), [B, F]);
  const w2 = tf.tensor2d(rng.fillNormal(new Float32Array(B * P)), [B, P]);
  assertAgree("assortedTimeNorm", both(() => {
    const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, s: tf.Tensor, q: tf.Tensor) => {
      const r = assortedTimeNorm(x as tf.Tensor2D, g, b, { sum: s as tf.Tensor2D, squares: q as tf.Tensor2D }, count);
      return tf.addN([tf.sum(tf.mul(r.normalized, w1)), tf.sum(tf.mul(r.window.sum, w2)), tf.mul(tf.sum(tf.mul(r.window.squares, w2)), 0.01)]);
    };
    const { value, grads } = tf.valueAndGrads(f)([a, gain, bias, wsum, wsq]);
    const r = assortedTimeNorm(a, gain, bias, { sum: wsum, squares: wsq }, count);
    return [r.normalized, r.window.sum, r.window.squares, value, ...grads];
  }), 1e-4);
});
