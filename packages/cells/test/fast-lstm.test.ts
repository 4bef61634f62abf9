/**
 * The fast path (src/fast) against autodiff of the plain equations, finite differences, and leak checks.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { lstmSequence, lstmStack, softmaxCrossEntropy } from "../src/fast";
import { createLstm, scan, stackScan, type LstmParams, type LstmState } from "../src";

before(async () => {
  await selectBackend();
});

function randn(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * scale), shape);
}

function makeCase(seed: number, T: number, B: number, I: number, H: number) {
  const rng = new Rng(seed);
  const params: LstmParams = {
    inputKernel: randn(rng, [I, 4 * H], 0.5) as tf.Tensor2D,
    recurrentKernel: randn(rng, [H, 4 * H], 0.5) as tf.Tensor2D,
    bias: randn(rng, [4 * H], 0.5) as tf.Tensor1D,
  };
  const xs = randn(rng, [T, B, I]) as tf.Tensor3D;
  const state: LstmState = { h: randn(rng, [B, H], 0.5) as tf.Tensor2D, c: randn(rng, [B, H], 0.5) as tf.Tensor2D };
  const weights = randn(rng, [T, B, H]); // a fixed linear read-out so the loss depends on every output
  const weightsH = randn(rng, [B, H]);
  const weightsC = randn(rng, [B, H]);
  return { params, xs, state, weights, weightsH, weightsC };
}

/** The plain equations with tf.tanh, differentiated by TF.js autodiff. */
function referenceLstm(p: LstmParams, xs: tf.Tensor3D, s: LstmState) {
  const T = xs.shape[0];
  let h = s.h;
  let c = s.c;
  const ys: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const x = tf.squeeze(tf.slice(xs, [t, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
    const z = tf.add(tf.add(tf.matMul(x, p.inputKernel), tf.matMul(h, p.recurrentKernel)), p.bias) as tf.Tensor2D;
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(zf), c), tf.mul(tf.sigmoid(zi), tf.tanh(zg))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(zo), tf.tanh(c)) as tf.Tensor2D;
    ys.push(h);
  }
  return { ys: tf.stack(ys) as tf.Tensor3D, state: { h, c } };
}

type Fn = typeof lstmSequence;

function lossAndGrads(fn: Fn | typeof referenceLstm, k: ReturnType<typeof makeCase>) {
  return tf.tidy(() => {
    const f = (wih: tf.Tensor, whh: tf.Tensor, b: tf.Tensor, xs: tf.Tensor, h0: tf.Tensor, c0: tf.Tensor) => {
      const r = fn({ inputKernel: wih as tf.Tensor2D, recurrentKernel: whh as tf.Tensor2D, bias: b as tf.Tensor1D }, xs as tf.Tensor3D, {
        h: h0 as tf.Tensor2D,
        c: c0 as tf.Tensor2D,
      });
      return tf.addN([tf.sum(tf.mul(r.ys, k.weights)), tf.sum(tf.mul(r.state.h, k.weightsH)), tf.sum(tf.mul(r.state.c, k.weightsC))]) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(f)([k.params.inputKernel, k.params.recurrentKernel, k.params.bias, k.xs, k.state.h, k.state.c]);
    return { loss: value.dataSync()[0], grads: grads.map((g) => Array.from(g.dataSync())) };
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test("lstmSequence equals autodiff of the plain equations: outputs, state and all six gradients", () => {
  const k = makeCase(1, 5, 3, 4, 6);
  const fast = tf.tidy(() => {
    const r = lstmSequence(k.params, k.xs, k.state);
    return [r.ys, r.state.h, r.state.c].map((t) => Array.from(t.dataSync()));
  });
  const ref = tf.tidy(() => {
    const r = referenceLstm(k.params, k.xs, k.state);
    return [r.ys, r.state.h, r.state.c].map((t) => Array.from(t.dataSync()));
  });
  for (let i = 0; i < 3; i++) assert.ok(maxAbsDiff(fast[i], ref[i]) < 1e-5, `output ${i}: ${maxAbsDiff(fast[i], ref[i])}`);
  const gf = lossAndGrads(lstmSequence, k);
  const gr = lossAndGrads(referenceLstm, k);
  assert.ok(Math.abs(gf.loss - gr.loss) < 1e-4);
  const names = ["inputKernel", "recurrentKernel", "bias", "xs", "h0", "c0"];
  for (let i = 0; i < 6; i++) {
    const d = maxAbsDiff(gf.grads[i], gr.grads[i]);
    assert.ok(d < 2e-5, `gradient of ${names[i]} differs by ${d}`);
    assert.ok(gf.grads[i].some((v) => v !== 0), `gradient of ${names[i]} is all zero`);
  }
});

test("lstmSequence equals the readable path (scan over createLstm) on the same parameters, outputs and gradients", () => {
  const k = makeCase(6, 4, 3, 5, 4);
  const cell = createLstm({ inputSize: 5, hiddenSize: 4 });
  const readable = (p: LstmParams, xs: tf.Tensor3D, s: LstmState) => {
    const r = scan(cell, p, xs, s, { fused: false });
    return { ys: r.ys, state: { h: r.state.h, c: r.state.c } };
  };
  const gf = lossAndGrads(lstmSequence, k);
  const gr = lossAndGrads(readable as typeof referenceLstm, k);
  assert.ok(Math.abs(gf.loss - gr.loss) < 1e-4, `${gf.loss} vs ${gr.loss}`);
  for (let i = 0; i < 6; i++) assert.ok(maxAbsDiff(gf.grads[i], gr.grads[i]) < 2e-5, `gradient ${i} differs by ${maxAbsDiff(gf.grads[i], gr.grads[i])}`);
});

test("lstmSequence gradients match central finite differences (float32, small sizes)", () => {
  const k = makeCase(2, 3, 2, 3, 2);
  const { grads } = lossAndGrads(lstmSequence, k);
  const inputs = [k.params.inputKernel, k.params.recurrentKernel, k.params.bias, k.xs, k.state.h, k.state.c];
  const lossAt = (which: number, values: Float32Array) =>
    tf.tidy(() => {
      const t = inputs.map((x, i) => (i === which ? tf.tensor(values, x.shape) : x));
      const r = lstmSequence({ inputKernel: t[0] as tf.Tensor2D, recurrentKernel: t[1] as tf.Tensor2D, bias: t[2] as tf.Tensor1D }, t[3] as tf.Tensor3D, {
        h: t[4] as tf.Tensor2D,
        c: t[5] as tf.Tensor2D,
      });
      return tf.addN([tf.sum(tf.mul(r.ys, k.weights)), tf.sum(tf.mul(r.state.h, k.weightsH)), tf.sum(tf.mul(r.state.c, k.weightsC))]).dataSync()[0];
    });
  const eps = 1e-2;
  for (let which = 0; which < inputs.length; which++) {
    const base = Float32Array.from(inputs[which].dataSync());
    for (let j = 0; j < base.length; j += Math.max(1, Math.floor(base.length / 5))) {
      const plus = base.slice();
      plus[j] += eps;
      const minus = base.slice();
      minus[j] -= eps;
      const numeric = (lossAt(which, plus) - lossAt(which, minus)) / (2 * eps);
      const err = Math.abs(numeric - grads[which][j]);
      assert.ok(err < 2e-3 * Math.max(1, Math.abs(numeric)), `input ${which} entry ${j}: numeric ${numeric} vs analytic ${grads[which][j]}`);
    }
  }
});

test("softmaxCrossEntropy equals log-softmax autodiff, is finite for extreme logits, and matches finite differences", () => {
  const rng = new Rng(3);
  const logits = randn(rng, [6, 5], 2) as tf.Tensor2D;
  const labels = tf.tensor1d([0, 4, 2, 2, 1, 3], "int32");
  const [fast, ref] = [
    tf.valueAndGrad((z: tf.Tensor) => softmaxCrossEntropy(z as tf.Tensor2D, labels)),
    tf.valueAndGrad((z: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(labels, 5).toFloat()), 1))) as tf.Scalar),
  ].map((vg) =>
    tf.tidy(() => {
      const { value, grad } = vg(logits);
      return { value: value.dataSync()[0], grad: Array.from(grad.dataSync()) };
    }),
  );
  assert.ok(Math.abs(fast.value - ref.value) < 1e-5, `${fast.value} vs ${ref.value}`);
  assert.ok(maxAbsDiff(fast.grad, ref.grad) < 1e-6);
  // The label's probability underflows float32 here; the loss must stay finite and exact (= 200).
  const extreme = tf.tidy(() => softmaxCrossEntropy(tf.tensor2d([[100, -100, 0]]), tf.tensor1d([1], "int32")).dataSync()[0]);
  assert.ok(Math.abs(extreme - 200) < 1e-3, `extreme logits gave ${extreme}`);
  assert.throws(() => softmaxCrossEntropy(logits, tf.tensor1d([0, 1, 2, 3, 4, 0])), /labels must be int32/);
  const eps = 1e-2;
  const base = Float32Array.from(logits.dataSync());
  for (const j of [0, 7, 29]) {
    const at = (v: number) => {
      const x = base.slice();
      x[j] = v;
      return tf.tidy(() => softmaxCrossEntropy(tf.tensor2d(x, [6, 5]), labels).dataSync()[0]);
    };
    const numeric = (at(base[j] + eps) - at(base[j] - eps)) / (2 * eps);
    assert.ok(Math.abs(numeric - fast.grad[j]) < 1e-3, `entry ${j}: ${numeric} vs ${fast.grad[j]}`);
  }
});

test("lstmSequence rejects wrong shapes with a message that names the tensor", () => {
  const k = makeCase(4, 2, 2, 3, 2);
  assert.throws(() => lstmSequence(k.params, tf.zeros([2, 2, 5]) as tf.Tensor3D, k.state), /xs has 5 features but inputKernel expects 3/);
  assert.throws(() => lstmSequence(k.params, k.xs, { h: k.state.h, c: tf.zeros([3, 2]) as tf.Tensor2D }), /state\.c must be \[2, 2\]/);
});

test("no tensor leaks across repeated training steps (truncated BPTT with carried state)", () => {
  const k = makeCase(5, 4, 2, 3, 3);
  let state: LstmState = { h: tf.zeros([2, 3]) as tf.Tensor2D, c: tf.zeros([2, 3]) as tf.Tensor2D };
  const vars = [tf.variable(k.params.inputKernel), tf.variable(k.params.recurrentKernel), tf.variable(k.params.bias)];
  const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32");
  const step = () => {
    const { value, grads } = tf.variableGrads(() => {
      const r = lstmSequence({ inputKernel: vars[0] as unknown as tf.Tensor2D, recurrentKernel: vars[1] as unknown as tf.Tensor2D, bias: vars[2] as unknown as tf.Tensor1D }, k.xs, state);
      const next = { h: tf.keep(r.state.h), c: tf.keep(r.state.c) };
      tf.dispose([state.h, state.c]);
      state = next;
      return softmaxCrossEntropy(tf.reshape(r.ys, [8, 3]) as tf.Tensor2D, labels);
    }, vars);
    tf.tidy(() => vars.forEach((v) => v.assign(tf.sub(v, tf.mul(grads[v.name], 0.1)))));
    tf.dispose([value, ...Object.values(grads)]);
  };
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) step();
  assert.equal(tf.memory().numTensors, before);
});

test("lstmStack (2 layers) equals stackScan over createLstm cells, with gradients w.r.t. every parameter", () => {
  const rng = new Rng(7);
  const sizes = [3, 4, 5];
  const params: LstmParams[] = [0, 1].map((l) => ({
    inputKernel: randn(rng, [sizes[l], 4 * sizes[l + 1]], 0.5) as tf.Tensor2D,
    recurrentKernel: randn(rng, [sizes[l + 1], 4 * sizes[l + 1]], 0.5) as tf.Tensor2D,
    bias: randn(rng, [4 * sizes[l + 1]], 0.5) as tf.Tensor1D,
  }));
  const xs = randn(rng, [4, 2, 3]) as tf.Tensor3D;
  const states: LstmState[] = [1, 2].map((l) => ({ h: randn(rng, [2, sizes[l]]) as tf.Tensor2D, c: randn(rng, [2, sizes[l]]) as tf.Tensor2D }));
  const up = randn(rng, [4, 2, 5]);
  const flat = params.flatMap((p) => [p.inputKernel, p.recurrentKernel, p.bias]);
  const unflat = (t: tf.Tensor[]): LstmParams[] => [0, 1].map((l) => ({ inputKernel: t[3 * l] as tf.Tensor2D, recurrentKernel: t[3 * l + 1] as tf.Tensor2D, bias: t[3 * l + 2] as tf.Tensor1D }));
  const cells = [0, 1].map((l) => createLstm({ inputSize: sizes[l], hiddenSize: sizes[l + 1] }));
  const run = (f: (p: LstmParams[]) => tf.Tensor) =>
    tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((...t: tf.Tensor[]) => tf.sum(tf.mul(f(unflat(t)), up)) as tf.Scalar)(flat);
      return [value.dataSync()[0], ...grads.map((g) => Array.from(g.dataSync()))] as [number, ...number[][]];
    });
  const fast = run((p) => lstmStack(p, xs, states).ys);
  const readable = run((p) => stackScan(cells.map((cell, l) => ({ cell, params: p[l] })), xs, states, { fused: false }).ys);
  assert.ok(Math.abs(fast[0] - readable[0]) < 1e-4, `${fast[0]} vs ${readable[0]}`);
  for (let i = 1; i < fast.length; i++) assert.ok(maxAbsDiff(fast[i] as number[], readable[i] as number[]) < 2e-5, `gradient ${i - 1}`);
});
