/** scoRNN cell (Helfrich et al. 2018): hand equations, init, gradients by finite differences (dL/dA through the Cayley map). */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { OrthogonalRecurrence, createCell, createScoRnn, scan, type ScoRnnParams } from "../src";

before(async () => {
  await selectBackend();
});

const I = 3, H = 4, B = 2, T = 5;

test("scoRNN step matches modReLU(x W + h U, b) computed by hand (float64 JS); init as the scoRNN code", () => {
  const cell = createScoRnn({ inputSize: I, hiddenSize: H, negativeOnes: 2 });
  const { params, orthogonal } = cell.initWithOrthogonal(new Rng(51));
  assert.deepEqual(Object.keys(params).sort(), ["inputKernel", "modReluBias", "orthogonalRecurrentKernel"]);
  assert.deepEqual(Array.from(params.modReluBias.dataSync()), [0, 0, 0, 0], "b = 0");
  assert.ok(tf.max(tf.abs(params.inputKernel)).dataSync()[0] <= 0.01, "W ~ U(−0.01, 0.01)");
  assert.ok(orthogonal.orthogonalityError() < 1e-12 && orthogonal.negativeOnes === 2);
  params.modReluBias.dispose();
  params.modReluBias = tf.tensor1d([0.1, -0.2, 0.05, -0.05]);
  params.inputKernel.dispose();
  params.inputKernel = tf.tensor2d(new Rng(52).fillNormal(new Float32Array(I * H)), [I, H]);
  const rng = new Rng(53);
  const x = Array.from({ length: B }, () => Array.from({ length: I }, () => rng.normal()));
  const h0 = Array.from({ length: B }, () => Array.from({ length: H }, () => rng.normal() * 0.5));
  const out = scan(cell, params, tf.tensor3d([x]), { h: tf.tensor2d(h0) });
  const P = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, (v as tf.Tensor).arraySync()])) as Record<string, any>;
  const got = out.state.h.arraySync() as number[][];
  for (let b = 0; b < B; b++)
    for (let j = 0; j < H; j++) {
      const p = x[b].reduce((s, xi, i) => s + xi * P.inputKernel[i][j], 0) + h0[b].reduce((s, hk, k) => s + hk * P.orthogonalRecurrentKernel[k][j], 0);
      const expected = Math.sign(p) * Math.max(0, Math.abs(p) + P.modReluBias[j]);
      assert.ok(Math.abs(got[b][j] - expected) < 1e-5, `h[${b}][${j}] ${got[b][j]} vs ${expected}`);
    }
  tf.dispose([out.ys, out.state.h, ...Object.values(params)] as tf.Tensor[]);
});

test("scoRNN gradients by finite differences: dL/dA through U's Cayley map, W and b", () => {
  const cell = createScoRnn({ inputSize: I, hiddenSize: H, negativeOnes: 1 });
  const { params, orthogonal } = cell.initWithOrthogonal(new Rng(54));
  const rng = new Rng(55);
  const skew = new Float64Array(H * H);
  for (let i = 0; i < H; i++) for (let j = i + 1; j < H; j++) { const v = 0.2 * rng.normal(); skew[i * H + j] = v; skew[j * H + i] = -v; }
  orthogonal.neumannUpdate(skew, 3);
  orthogonal.exactRecompute();
  params.orthogonalRecurrentKernel.dispose();
  params.orthogonalRecurrentKernel = orthogonal.toTensor();
  params.inputKernel.dispose();
  params.inputKernel = tf.tensor2d(new Rng(56).fillNormal(new Float32Array(I * H)), [I, H]);
  params.modReluBias.dispose();
  params.modReluBias = tf.tensor1d([0.05, -0.1, 0.02, -0.03]);
  const xs = tf.tensor3d(new Rng(57).fillNormal(new Float32Array(T * B * I)), [T, B, I]);
  const weights = tf.tensor3d(new Rng(58).fillNormal(new Float32Array(T * B * H)), [T, B, H]);
  const lossWith = (p: ScoRnnParams) => tf.tidy(() => tf.sum(tf.mul(scan(cell, p, xs, cell.initialState(B)).ys, weights)) as tf.Scalar);

  const U = tf.variable(params.orthogonalRecurrentKernel);
  const { grads } = tf.variableGrads(() => lossWith({ ...params, orthogonalRecurrentKernel: U }), [U]);
  const analytic = orthogonal.gradientA(grads[U.name].dataSync());
  let worst = 0;
  let largest = 0;
  for (const [i, j] of [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]) {
    const eps = 1e-2;
    const value = (sign: number) => {
      const A = orthogonal.A.clone();
      A.set(i, j, A.get(i, j) + sign * eps);
      A.set(j, i, A.get(j, i) - sign * eps);
      const moved = new OrthogonalRecurrence(A, 1).toTensor();
      const loss = lossWith({ ...params, orthogonalRecurrentKernel: moved }).dataSync()[0];
      moved.dispose();
      return loss;
    };
    const numeric = (value(1) - value(-1)) / (2 * eps);
    largest = Math.max(largest, Math.abs(numeric));
    worst = Math.max(worst, Math.abs(numeric - analytic.get(i, j)) / Math.max(1, Math.abs(numeric)));
  }
  assert.ok(largest > 1e-2, `the loss depends on U (largest |dL/da| ${largest})`);
  assert.ok(worst < 2e-3, `dL/dA: max relative error ${worst}`);
  U.dispose();
  tf.dispose(Object.values(grads));

  for (const [name, entries] of [["inputKernel", [0, 3, 5, 8, 11]], ["modReluBias", [0, 1, 2, 3]]] as const) {
    const base = params[name];
    const v = tf.variable(base);
    const g = tf.variableGrads(() => lossWith({ ...params, [name]: v }), [v]).grads;
    const a = g[v.name].dataSync();
    const eps = 1e-3; // modReLU has kinks at |p| = −b that a larger step can cross
    let bad = 0;
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
      bad = Math.max(bad, Math.abs(numeric - a[e]) / Math.max(1, Math.abs(numeric)));
    }
    assert.ok(bad < 3e-3, `${name}: max relative error ${bad}`);
    v.dispose();
    tf.dispose(Object.values(g));
  }
  tf.dispose([xs, weights, ...Object.values(params)] as tf.Tensor[]);
});

test("scoRNN through createCell; options validated; weight drop refused", () => {
  const cell = createCell({ kind: "scornn", negativeOnes: 3 }, I, 6);
  assert.equal(cell.kind, "scornn");
  assert.equal((cell.options as { negativeOnes: number }).negativeOnes, 3);
  assert.equal((createCell({ kind: "scornn" }, I, 10).options as { negativeOnes: number }).negativeOnes, 4, "default ρ = floor(0.4 H)");
  assert.throws(() => createScoRnn({ inputSize: I, hiddenSize: 4, negativeOnes: 5 }), /"negativeOnes" must be in \[0, hiddenSize=4\]/);
  assert.throws(() => createScoRnn({ inputSize: I, hiddenSize: 4, orthogonalReset: true } as never), /unknown option "orthogonalReset"/);
  assert.throws(() => createCell({ kind: "scornn" }, I, 4, { recurrence: { kind: "weightDrop", rate: 0.5 } }), /weight drop/);
});
