/**
 * scoRNN's fused recurrence (cells/src/fast/scornn-sequence.ts, the addon's scornnForward / scornnBackward) against
 * stepping: outputs, final state and the gradients of every parameter and of h0 (U's also mapped to dL/dA, the
 * gradient train's OrthogonalUpdater steps), forward and reverse, in training with input dropout; lengths fall back
 * to stepping; no tensors leak. Skipped checks say so where the native kernels are not registered.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng, SCORNN_FORWARD_KERNEL } from "@rnnlab/core";
import { createScoRnn, scan, type ScoRnnCell, type ScoRnnParams } from "../src";
import type { OrthogonalRecurrence } from "../src";

let kernels = false;
before(async () => {
  await selectBackend();
  kernels = Boolean(tf.getKernel(SCORNN_FORWARD_KERNEL, tf.getBackend()));
});

const I = 4, H = 7, B = 3, T = 9;

/**
 * A scoRNN with generic parameters: A moved off the sparse init, W of order 1 and a modReLU bias of both signs, so
 * that some units are clamped to 0 (relu inactive) and others pass with either sign.
 */
function generic(seed: number, inputDropout?: { kind: "elementwise"; rate: number }): { cell: ScoRnnCell; params: ScoRnnParams; orthogonal: OrthogonalRecurrence } {
  const cell = createScoRnn({ inputSize: I, hiddenSize: H, negativeOnes: 3, ...(inputDropout ? { inputDropout } : {}) });
  const { params, orthogonal } = cell.initWithOrthogonal(new Rng(seed));
  const rng = new Rng(seed + 1);
  const skew = new Float64Array(H * H);
  for (let i = 0; i < H; i++) for (let j = i + 1; j < H; j++) { const v = 0.3 * rng.normal(); skew[i * H + j] = v; skew[j * H + i] = -v; }
  orthogonal.neumannUpdate(skew, 3);
  orthogonal.exactRecompute();
  tf.dispose([params.orthogonalRecurrentKernel, params.inputKernel, params.modReluBias]);
  params.orthogonalRecurrentKernel = orthogonal.toTensor();
  params.inputKernel = tf.tensor2d(rng.fillNormal(new Float32Array(I * H), 0, 0.8), [I, H]);
  params.modReluBias = tf.tensor1d(rng.fillNormal(new Float32Array(H), -0.2, 0.4));
  return { cell, params, orthogonal };
}

function inputs(seed: number, steps = T) {
  return tf.tensor3d(new Rng(seed).fillNormal(new Float32Array(steps * B * I)), [steps, B, I]);
}

const NAMES = ["inputKernel", "orthogonalRecurrentKernel", "modReluBias"] as const;

/** [loss, ys, final h, dW, dU, db, dh0] for one scan, every value read back. */
function runScan(cell: ScoRnnCell, params: ScoRnnParams, xs: tf.Tensor3D, h0: tf.Tensor2D, options: { reverse: boolean; training: boolean; fused: boolean; lengths?: number[] }) {
  const weights = tf.tensor3d(new Rng(77).fillNormal(new Float32Array(xs.shape[0] * B * H)), [xs.shape[0], B, H]);
  const out = tf.tidy(() => {
    let ys: tf.Tensor = tf.zeros([1]);
    let h: tf.Tensor = tf.zeros([1]);
    const f = (w: tf.Tensor, u: tf.Tensor, b: tf.Tensor, s: tf.Tensor) => {
      const r = scan(cell, { inputKernel: w, orthogonalRecurrentKernel: u, modReluBias: b } as ScoRnnParams, xs, { h: s as tf.Tensor2D }, { ...options, rng: new Rng(5) });
      ys = tf.keep(r.ys);
      h = tf.keep(r.state.h);
      return tf.add(tf.sum(tf.mul(r.ys, weights)), tf.sum(tf.square(r.state.h)));
    };
    const { value, grads } = tf.valueAndGrads(f)([...NAMES.map((n) => params[n]), h0]);
    return [value, ys, h, ...grads];
  });
  const values = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...out, weights]);
  return values;
}

const LABELS = ["loss", "ys", "final h", "dW", "dU", "db", "dh0"];

function assertAgree(what: string, a: Float32Array[], b: Float32Array[], tol = 2e-5) {
  assert.equal(a.length, b.length);
  a.forEach((x, k) => {
    assert.equal(x.length, b[k].length, `${what} ${LABELS[k]}: length`);
    let scale = 1;
    for (const v of b[k]) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[k][i]))));
    assert.ok(worst / scale < tol, `${what} ${LABELS[k]}: fused and stepping differ by ${worst} (scale ${scale})`);
  });
}

test("scoRNN sequence() is the fused path exactly when the native kernels are registered, and steps for lengths", () => {
  const { cell, params } = generic(11);
  const xs = inputs(12);
  const prepared = cell.prepare(params, { training: false, steps: T, batchSize: B, layerName: "layer0" });
  const projected = cell.project!(params, xs, prepared);
  const h0 = cell.initialState(B);
  const fused = cell.sequence!(params, projected, h0, prepared);
  assert.equal(fused !== undefined, kernels, "fused exactly when SCORNN_FORWARD_KERNEL is registered");
  if (fused) {
    assert.deepEqual(fused.ys.shape, [T, B, H]);
    assert.deepEqual(fused.state.h.shape, [B, H]);
    tf.dispose([fused.ys, fused.state.h]);
  }
  assert.equal(cell.sequence!(params, projected, h0, prepared, new Float32Array(T * B).fill(1)), undefined, "a mask (lengths) is not fused: scan steps");
  tf.dispose([xs, projected, h0.h, ...Object.values(params)]);
});

test("scoRNN fused vs stepping: outputs, final state, dW, dU, db and dh0 agree, forward and reverse, with input dropout in training", (t) => {
  if (!kernels) return t.skip("native scoRNN kernels not registered (no addon): sequence() steps");
  for (const dropout of [undefined, { kind: "elementwise" as const, rate: 0.3 }]) {
    const { cell, params } = generic(21, dropout);
    const xs = inputs(22);
    const h0 = tf.tensor2d(new Rng(23).fillNormal(new Float32Array(B * H), 0, 0.5), [B, H]);
    for (const reverse of [false, true]) {
      for (const training of dropout ? [false, true] : [false]) {
        const a = runScan(cell, params, xs, h0, { reverse, training, fused: true });
        const b = runScan(cell, params, xs, h0, { reverse, training, fused: false });
        const what = `dropout=${Boolean(dropout)} reverse=${reverse} training=${training}`;
        assertAgree(what, a, b);
        // The test means something: some units are clamped by modReLU, the rest pass, and every gradient is non-zero.
        const zeros = a[1].filter((v) => v === 0).length;
        assert.ok(zeros > 0 && zeros < a[1].length / 2, `${what}: ${zeros} of ${a[1].length} outputs clamped`);
        for (const k of [3, 4, 5, 6]) assert.ok(a[k].some((v) => Math.abs(v) > 1e-3), `${what}: ${LABELS[k]} is non-zero`);
      }
    }
    tf.dispose([xs, h0, ...Object.values(params)]);
  }
});

test("scoRNN fused vs stepping: U's gradient mapped to dL/dA (what the orthogonal updater steps) agrees", (t) => {
  if (!kernels) return t.skip("native scoRNN kernels not registered (no addon)");
  const { cell, params, orthogonal } = generic(31);
  const xs = inputs(32, 25);
  const h0 = cell.initialState(B);
  const gradA = (fused: boolean) => {
    const U = tf.variable(params.orthogonalRecurrentKernel);
    const { value, grads } = tf.variableGrads(() => {
      const out = scan(cell, { ...params, orthogonalRecurrentKernel: U }, xs, h0, { fused });
      return tf.mean(tf.square(tf.sub(out.ys, 0.3))) as tf.Scalar;
    }, [U]);
    const a = orthogonal.gradientA(grads[U.name].dataSync());
    tf.dispose([value, U, ...Object.values(grads)]);
    return a;
  };
  const fused = gradA(true);
  const stepped = gradA(false);
  let worst = 0;
  let largest = 0;
  for (let i = 0; i < H; i++)
    for (let j = 0; j < H; j++) {
      largest = Math.max(largest, Math.abs(stepped.get(i, j)));
      worst = Math.max(worst, Math.abs(fused.get(i, j) - stepped.get(i, j)));
    }
  assert.ok(largest > 1e-4, `dL/dA is non-trivial (largest ${largest})`);
  assert.ok(worst / Math.max(largest, 1e-3) < 1e-4, `dL/dA: fused and stepping differ by ${worst} (largest ${largest})`);
  tf.dispose([xs, h0.h, ...Object.values(params)]);
});

test("scoRNN with lengths: scan steps (fused: true equals fused: false), forward and reverse", () => {
  const { cell, params } = generic(41);
  const xs = inputs(42);
  const h0 = cell.initialState(B);
  for (const reverse of [false, true]) {
    const a = runScan(cell, params, xs, h0.h, { reverse, training: false, fused: true, lengths: [T, 4, 0] });
    const b = runScan(cell, params, xs, h0.h, { reverse, training: false, fused: false, lengths: [T, 4, 0] });
    assertAgree(`lengths reverse=${reverse}`, a, b, 1e-7);
  }
  tf.dispose([xs, h0.h, ...Object.values(params)]);
});

test("scoRNN fused path: no tensors leak across repeated forward/backward calls, and a one-step sequence works", (t) => {
  if (!kernels) return t.skip("native scoRNN kernels not registered (no addon)");
  const { cell, params } = generic(51);
  const vars = Object.fromEntries(NAMES.map((n) => [n, tf.variable(params[n])])) as unknown as ScoRnnParams;
  for (const steps of [T, 1]) {
    const xs = inputs(52, steps);
    const counts: number[] = [];
    for (let k = 0; k < 4; k++) {
      const before = tf.memory().numTensors;
      const h0 = cell.initialState(B);
      const out = scan(cell, vars, xs, h0, { fused: true });
      assert.equal(tf.memory().numTensors - before, 1 + 2, "scan leaves h0, ys and the final h only");
      tf.dispose([out.ys, out.state.h]);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(scan(cell, vars, xs, h0, { fused: true }).ys)) as tf.Scalar);
      assert.equal(Object.keys(grads).length, NAMES.length, "every parameter has a gradient");
      tf.dispose([value, h0.h, ...Object.values(grads)]);
      counts.push(tf.memory().numTensors);
    }
    assert.equal(new Set(counts).size, 1, `T=${steps}: tensor count changed across calls: ${counts}`);
    xs.dispose();
  }
  tf.dispose([...Object.values(vars), ...Object.values(params)] as tf.Tensor[]);
});
