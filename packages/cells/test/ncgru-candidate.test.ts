/**
 * NC-GRU's candidate-form options (issue 24 / 17): "resetAfterProduct" ĉ = x W_c + r ⊙ (h U_c) and a zero modReLU
 * bias (the authors' PyTorch char-PTB code), against hand equations, stepping vs fused, finite differences;
 * and the default form unchanged.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng, NCGRU_FORWARD_KERNEL } from "@rnnlab/core";
import { OrthogonalRecurrence, createCell, createNcGru, scan, type NcGruCell, type NcGruParams } from "../src";
import { assertClose } from "./helpers";

before(async () => {
  await selectBackend();
});

const I = 3, H = 5, B = 2, T = 4;

function inputs(seed: number, steps = T) {
  return tf.tensor3d(new Rng(seed).fillNormal(new Float32Array(steps * B * I)), [steps, B, I]);
}

test("default options are the TF form: explicit resetBeforeProduct / uniform gives the same parameters and outputs", () => {
  const plain = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2 });
  const explicit = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, candidate: "resetBeforeProduct", candidateBiasInit: "uniform" });
  assert.equal(plain.options.candidate, "resetBeforeProduct");
  assert.equal(plain.options.candidateBiasInit, "uniform");
  const a = plain.init(new Rng(31));
  const b = explicit.init(new Rng(31));
  for (const k of Object.keys(a) as (keyof NcGruParams)[]) assertClose(b[k]!, a[k]!, 0, k);
  const xs = inputs(32);
  assertClose(scan(explicit, b, xs, explicit.initialState(B)).ys, scan(plain, a, xs, plain.initialState(B)).ys, 0, "outputs");
  tf.dispose([xs, ...Object.values(a), ...Object.values(b)] as tf.Tensor[]);
});

test("candidateBiasInit zero: b_c = 0 and every other parameter draw unchanged (with and without U_r)", () => {
  for (const orthogonalReset of [false, true]) {
    const uniform = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset }).init(new Rng(33));
    const zero = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset, candidateBiasInit: "zero" }).init(new Rng(33));
    assert.deepEqual(Array.from(zero.modReluBias.dataSync()), new Array(H).fill(0));
    assert.ok(tf.max(tf.abs(uniform.modReluBias)).dataSync()[0] > 0, "the default draws a non-zero b_c");
    for (const k of Object.keys(uniform) as (keyof NcGruParams)[]) if (k !== "modReluBias") assertClose(zero[k]!, uniform[k]!, 0, `${k} (orthogonalReset=${orthogonalReset})`);
    tf.dispose([...Object.values(uniform), ...Object.values(zero)] as tf.Tensor[]);
  }
});

test("bad candidate options name the option and the allowed values", () => {
  assert.throws(() => createNcGru({ inputSize: I, hiddenSize: H, candidate: "rh" as never }), /"candidate" must be one of resetBeforeProduct, resetAfterProduct/);
  assert.throws(() => createNcGru({ inputSize: I, hiddenSize: H, candidateBiasInit: "normal" as never }), /"candidateBiasInit" must be one of uniform, zero/);
});

test("resetAfterProduct step matches r ⊙ (h U_c) computed by hand (float64 JS), and differs from the default form", () => {
  for (const orthogonalReset of [false, true]) {
    const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset, candidate: "resetAfterProduct" });
    const params = cell.init(new Rng(34));
    const rng = new Rng(35);
    const x = Array.from({ length: B }, () => Array.from({ length: I }, () => rng.normal()));
    const h0 = Array.from({ length: B }, () => Array.from({ length: H }, () => rng.normal() * 0.5));
    const out = scan(cell, params, tf.tensor3d([x]), { h: tf.tensor2d(h0) });
    const P = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, (v as tf.Tensor).arraySync()])) as Record<string, any>;
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const resetKernel = orthogonalReset ? P.resetRecurrentKernel : P.recurrentKernel;
    const zOffset = orthogonalReset ? 0 : H;
    const got = out.state.h.arraySync() as number[][];
    for (let b = 0; b < B; b++) {
      const xw = (col: number) => x[b].reduce((s, xi, i) => s + xi * P.inputKernel[i][col], 0);
      for (let j = 0; j < H; j++) {
        const r = sigmoid(xw(j) + h0[b].reduce((s, hk, k) => s + hk * resetKernel[k][j], 0) + P.bias[j]);
        const z = sigmoid(xw(H + j) + h0[b].reduce((s, hk, k) => s + hk * P.recurrentKernel[k][zOffset + j], 0) + P.bias[H + j]);
        const cHat = xw(2 * H + j) + r * h0[b].reduce((s, hk, k) => s + hk * P.candidateRecurrentKernel[k][j], 0);
        const c = Math.sign(cHat) * Math.max(0, Math.abs(cHat) + P.modReluBias[j]);
        const expected = z * h0[b][j] + (1 - z) * c;
        assert.ok(Math.abs(got[b][j] - expected) < 1e-5, `orthogonalReset=${orthogonalReset} h[${b}][${j}] ${got[b][j]} vs ${expected}`);
      }
    }
    const before = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset });
    const other = scan(before, params, tf.tensor3d([x]), { h: tf.tensor2d(h0) });
    assert.ok(tf.max(tf.abs(tf.sub(other.state.h, out.state.h))).dataSync()[0] > 1e-3, "the two forms give different states");
  }
});

test("fused vs stepping for both candidate forms (forward, reverse, gradients); the fused kernel covers both", () => {
  const kernels = Boolean(tf.getKernel(NCGRU_FORWARD_KERNEL, tf.getBackend()));
  for (const candidate of ["resetBeforeProduct", "resetAfterProduct"] as const) {
    for (const orthogonalReset of [false, true]) {
      const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset, candidate });
      const params = cell.init(new Rng(36));
      const xs = inputs(37, 6);
      const projected = tf.tidy(() => cell.project!(params, xs, cell.prepare(params, { training: false, steps: 6, batchSize: B, layerName: "layer0" })));
      const fused = cell.sequence!(params, projected, cell.initialState(B), cell.prepare(params, { training: false, steps: 6, batchSize: B, layerName: "layer0" }));
      assert.equal(fused !== undefined, kernels, `${candidate}: fused exactly when the native kernels are registered`);
      if (fused) tf.dispose([fused.ys, fused.state.h]);
      projected.dispose();
      for (const reverse of [false, true]) {
        const run = (useFused: boolean) =>
          tf.tidy(() => {
            const names = Object.keys(params);
            const f = (...ps: tf.Tensor[]) => {
              const p = Object.fromEntries(names.map((n, k) => [n, ps[k]]));
              const out = scan(cell, p as any, xs, cell.initialState(B), { reverse, fused: useFused });
              return tf.add(tf.sum(tf.mul(out.ys, out.ys)), tf.sum(out.state.h));
            };
            const { value, grads } = tf.valueAndGrads(f)(names.map((n) => (params as any)[n]));
            return [value, ...grads];
          });
        const a = run(true);
        const b = run(false);
        a.forEach((t, k) => {
          const d = tf.max(tf.abs(tf.sub(t, b[k]))).dataSync()[0];
          const scale = Math.max(1, tf.max(tf.abs(b[k])).dataSync()[0]);
          assert.ok(d / scale < 2e-5, `${candidate} U_r=${orthogonalReset} reverse=${reverse}: output ${k} differs by ${d}`);
        });
        tf.dispose([...a, ...b]);
      }
      tf.dispose([xs, ...Object.values(params)] as tf.Tensor[]);
    }
  }
});

/** Central finite differences of a scalar loss in a few entries of one parameter, vs autodiff. */
function checkParameterGradient(cell: NcGruCell, params: NcGruParams, name: keyof NcGruParams, entries: number[], lossWith: (p: NcGruParams) => tf.Scalar) {
  const base = params[name]!;
  const v = tf.variable(base);
  const { grads } = tf.variableGrads(() => lossWith({ ...params, [name]: v }), [v]);
  const analytic = grads[v.name].dataSync();
  const eps = 1e-3; // small: modReLU has kinks at |ĉ| = −b_c, which a larger step can cross
  let worst = 0;
  for (const e of entries) {
    const value = (sign: number) => {
      const data = Float32Array.from(base.dataSync());
      data[e] += sign * eps;
      const moved = tf.tensor(data, base.shape);
      const loss = lossWith({ ...params, [name]: moved }).dataSync()[0];
      moved.dispose();
      return loss;
    };
    const numeric = (value(1) - value(-1)) / (2 * eps);
    worst = Math.max(worst, Math.abs(numeric - analytic[e]) / Math.max(1, Math.abs(numeric)));
  }
  assert.ok(worst < 3e-3, `${cell.options.candidate} ${String(name)}: max relative error ${worst}`);
  v.dispose();
  tf.dispose(Object.values(grads));
}

test("resetAfterProduct gradients by finite differences: dL/dA through U_c's Cayley map, and the other parameters", () => {
  const cell = createNcGru({ inputSize: I, hiddenSize: 4, negativeOnes: 1, candidate: "resetAfterProduct", candidateBiasInit: "zero" });
  const { params, orthogonal } = cell.initWithOrthogonal(new Rng(38));
  // Move A off the sparse scoRNN init and b_c off 0 so that every path is generic.
  const rng = new Rng(39);
  const skew = new Float64Array(16);
  for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) { const v = 0.2 * rng.normal(); skew[i * 4 + j] = v; skew[j * 4 + i] = -v; }
  orthogonal.neumannUpdate(skew, 3);
  orthogonal.exactRecompute();
  params.candidateRecurrentKernel.dispose();
  params.candidateRecurrentKernel = orthogonal.toTensor();
  params.modReluBias.dispose();
  params.modReluBias = tf.tensor1d([0.05, -0.1, 0.02, -0.03]);
  const xs = inputs(40);
  const weights = tf.tensor3d(new Rng(41).fillNormal(new Float32Array(T * B * 4)), [T, B, 4]);
  const lossWith = (p: NcGruParams) => tf.tidy(() => tf.sum(tf.mul(scan(cell, p, xs, cell.initialState(B)).ys, weights)) as tf.Scalar);

  const U = tf.variable(params.candidateRecurrentKernel);
  const { grads } = tf.variableGrads(() => lossWith({ ...params, candidateRecurrentKernel: U }), [U]);
  const analytic = orthogonal.gradientA(grads[U.name].dataSync());
  const eps = 1e-2;
  let worst = 0;
  let largest = 0;
  for (const [i, j] of [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]) {
    const value = (sign: number) => {
      const A = orthogonal.A.clone();
      A.set(i, j, A.get(i, j) + sign * eps);
      A.set(j, i, A.get(j, i) - sign * eps);
      const moved = new OrthogonalRecurrence(A, 1).toTensor();
      const loss = lossWith({ ...params, candidateRecurrentKernel: moved }).dataSync()[0];
      moved.dispose();
      return loss;
    };
    const numeric = (value(1) - value(-1)) / (2 * eps);
    largest = Math.max(largest, Math.abs(numeric));
    worst = Math.max(worst, Math.abs(numeric - analytic.get(i, j)) / Math.max(1, Math.abs(numeric)));
  }
  assert.ok(largest > 1e-2, `the loss depends on U_c (largest |dL/da| ${largest})`);
  assert.ok(worst < 2e-3, `dL/dA: max relative error ${worst}`);
  U.dispose();
  tf.dispose(Object.values(grads));
  checkParameterGradient(cell, params, "recurrentKernel", [0, 3, 9, 14, 21, 30], lossWith); // U_r and U_z entries
  checkParameterGradient(cell, params, "inputKernel", [0, 5, 9, 17, 22, 35], lossWith); // r, z and c blocks
  checkParameterGradient(cell, params, "modReluBias", [0, 1, 2, 3], lossWith);
  tf.dispose([xs, weights, ...Object.values(params)] as tf.Tensor[]);
});

test("createCell passes the candidate options through", () => {
  const cell = createCell({ kind: "nc-gru", candidate: "resetAfterProduct", candidateBiasInit: "zero" }, I, H) as unknown as NcGruCell;
  assert.equal(cell.options.candidate, "resetAfterProduct");
  assert.equal(cell.options.candidateBiasInit, "zero");
});
