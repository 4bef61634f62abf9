/** Cayley-orthogonal recurrence (NC-GRU): orthogonality, the skew gradient (finite differences), Neumann drift, the NC-GRU step. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Matrix } from "ml-matrix";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { OrthogonalRecurrence, createNcGru, scan, type NcGruParams } from "../src";
import { assertClose } from "./helpers";

before(async () => {
  await selectBackend();
});

function randomMatrix(n: number, seed: number): Matrix {
  const rng = new Rng(seed);
  return Matrix.from1DArray(n, n, Array.from({ length: n * n }, () => rng.normal()));
}

test("scoRNN init: A skew-symmetric, D has ρ entries −1, U orthogonal", () => {
  const orth = OrthogonalRecurrence.create(7, 3, new Rng(1));
  assert.ok(Matrix.add(orth.A, orth.A.transpose()).norm("frobenius") === 0, "A + Aᵀ = 0");
  assert.equal(orth.D.filter((d) => d === -1).length, 3);
  assert.ok(orth.orthogonalityError() < 1e-12, `error ${orth.orthogonalityError()}`);
  assert.ok(orth.A.get(0, 1) < 0 && orth.A.get(0, 2) === 0 && orth.A.get(1, 2) === 0 && orth.A.get(2, 3) < 0, "superdiagonal pattern s, 0, s, ...");
});

test("gradientA equals central finite differences with respect to the free entries a_ij (A_ij = a, A_ji = −a)", () => {
  const n = 5;
  const orth = OrthogonalRecurrence.create(n, 2, new Rng(2));
  orth.neumannUpdate(Matrix.sub(randomMatrix(n, 3), randomMatrix(n, 3).transpose()).mul(0.1), 3); // a generic A
  orth.exactRecompute();
  const G = randomMatrix(n, 4);
  const loss = (A: Matrix) => {
    const o = new OrthogonalRecurrence(A, 2);
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += G.get(i, j) * o.U.get(i, j);
    return s;
  };
  const analytic = orth.gradientA(G);
  assert.ok(Matrix.add(analytic, analytic.transpose()).norm("frobenius") < 1e-12, "gradient is skew");
  const eps = 1e-6;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const plus = orth.A.clone(), minus = orth.A.clone();
      plus.set(i, j, plus.get(i, j) + eps); plus.set(j, i, plus.get(j, i) - eps);
      minus.set(i, j, minus.get(i, j) - eps); minus.set(j, i, minus.get(j, i) + eps);
      const numeric = (loss(plus) - loss(minus)) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - analytic.get(i, j)));
    }
  }
  assert.ok(worst < 1e-7, `max |analytic − numeric| = ${worst}`);
});

test("Neumann updates: drift bounded at order 2, smaller at higher order; exact recompute restores orthogonality", () => {
  const n = 16;
  const errors: Record<number, number> = {};
  for (const order of [1, 2, 3] as const) {
    const orth = OrthogonalRecurrence.create(n, 6, new Rng(5));
    for (let step = 0; step < 30; step++) {
      const delta = orth.gradientA(randomMatrix(n, 100 + step)).mul(1e-3);
      orth.neumannUpdate(delta, order);
    }
    errors[order] = orth.orthogonalityError();
    if (order === 2) {
      assert.ok(errors[2] < 1e-3, `order-2 drift after 30 steps: ${errors[2]}`);
      assert.ok(errors[2] > 0, "the Neumann series is an approximation");
      const inverseError = Matrix.sub(orth.inverse.mmul(Matrix.add(Matrix.eye(n), orth.A)), Matrix.eye(n)).norm("frobenius");
      assert.ok(inverseError < 1e-3, `inverse drift ${inverseError}`);
      orth.exactRecompute();
      assert.ok(orth.orthogonalityError() < 1e-4, `after exact recompute: ${orth.orthogonalityError()}`);
      assert.ok(orth.orthogonalityError() < 1e-12);
    }
  }
  assert.ok(errors[3] < errors[2] && errors[2] < errors[1], `drift by order: ${JSON.stringify(errors)}`);
});

test("writeTo / toTensor / JSON round trip", () => {
  const orth = OrthogonalRecurrence.create(4, 1, new Rng(6));
  const variable = tf.variable(tf.zeros([4, 4]));
  orth.writeTo(variable);
  assertClose(variable, tf.tensor2d(orth.U.to2DArray()), 1e-7, "variable holds U");
  const again = OrthogonalRecurrence.fromJSON(JSON.parse(JSON.stringify(orth.toJSON())));
  assert.ok(Matrix.sub(again.U, orth.U).norm("frobenius") < 1e-15);
  assert.throws(() => orth.writeTo(tf.variable(tf.zeros([3, 3]))), /\[4, 4\]/);
  variable.dispose();
});

test("NC-GRU step matches the equations computed by hand (float64 JS)", () => {
  const I = 3, H = 4, B = 2;
  const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2 });
  const params = cell.init(new Rng(7));
  const rng = new Rng(8);
  const x = Array.from({ length: B }, () => Array.from({ length: I }, () => rng.normal()));
  const h0 = Array.from({ length: B }, () => Array.from({ length: H }, () => rng.normal() * 0.5));
  const out = scan(cell, params, tf.tensor3d([x]), { h: tf.tensor2d(h0) });
  const P = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, (v as tf.Tensor).arraySync()])) as Record<string, any>;
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  for (let b = 0; b < B; b++) {
    const xw = (col: number) => x[b].reduce((s, xi, i) => s + xi * P.inputKernel[i][col], 0);
    const r: number[] = [], z: number[] = [];
    for (let j = 0; j < H; j++) {
      r.push(sigmoid(xw(j) + h0[b].reduce((s, hk, k) => s + hk * P.recurrentKernel[k][j], 0) + P.bias[j]));
      z.push(sigmoid(xw(H + j) + h0[b].reduce((s, hk, k) => s + hk * P.recurrentKernel[k][H + j], 0) + P.bias[H + j]));
    }
    for (let j = 0; j < H; j++) {
      const cHat = xw(2 * H + j) + h0[b].reduce((s, hk, k) => s + r[k] * hk * P.candidateRecurrentKernel[k][j], 0);
      const c = Math.sign(cHat) * Math.max(0, Math.abs(cHat) + P.modReluBias[j]);
      const expected = z[j] * h0[b][j] + (1 - z[j]) * c;
      const got = (out.state.h.arraySync() as number[][])[b][j];
      assert.ok(Math.abs(got - expected) < 1e-5, `h[${b}][${j}] ${got} vs ${expected}`);
    }
  }
});

test("NC-GRU end to end: gradientA of the autodiff dL/dU_c matches finite differences of the sequence loss", () => {
  const I = 3, H = 4, B = 2, T = 4;
  const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 1 });
  const { params, orthogonal } = cell.initWithOrthogonal(new Rng(9));
  const xs = tf.tensor3d(new Rng(10).fillNormal(new Float32Array(T * B * I)), [T, B, I]);
  const weights = tf.tensor3d(new Rng(11).fillNormal(new Float32Array(T * B * H)), [T, B, H]);
  const lossWith = (p: NcGruParams) => tf.sum(tf.mul(scan(cell, p, xs, cell.initialState(B)).ys, weights)) as tf.Scalar;
  const U = tf.variable(orthogonal.toTensor());
  const { grads } = tf.variableGrads(() => lossWith({ ...params, candidateRecurrentKernel: U }), [U]);
  const analytic = orthogonal.gradientA(grads[U.name].dataSync());
  const eps = 1e-2;
  let worst = 0;
  for (const [i, j] of [[0, 1], [0, 3], [1, 2], [2, 3]]) {
    const value = (sign: number) => {
      const A = orthogonal.A.clone();
      A.set(i, j, A.get(i, j) + sign * eps);
      A.set(j, i, A.get(j, i) - sign * eps);
      const moved = new OrthogonalRecurrence(A, 1);
      return lossWith({ ...params, candidateRecurrentKernel: moved.toTensor() }).dataSync()[0];
    };
    const numeric = (value(1) - value(-1)) / (2 * eps);
    worst = Math.max(worst, Math.abs(numeric - analytic.get(i, j)) / Math.max(1, Math.abs(numeric)));
  }
  assert.ok(worst < 2e-3, `max relative error ${worst}`);
  U.dispose();
});

test("NC-GRU(U_c, U_r) option off changes nothing: same parameters and outputs as the U_c-only cell", () => {
  const I = 3, H = 5, B = 2, T = 3;
  const plain = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2 });
  const off = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset: false });
  const a = plain.init(new Rng(21));
  const b = off.init(new Rng(21));
  assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), "no resetRecurrentKernel when the option is off");
  for (const k of Object.keys(a) as (keyof NcGruParams)[]) assertClose(b[k]!, a[k]!, 0, k);
  const xs = tf.tensor3d(new Rng(22).fillNormal(new Float32Array(T * B * I)), [T, B, I]);
  assertClose(scan(off, b, xs, off.initialState(B)).ys, scan(plain, a, xs, plain.initialState(B)).ys, 0, "outputs");
  // With the option on, the U_c-only draws are kept and U_r is an extra, distinct orthogonal matrix.
  const on = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset: true });
  const { params: c, orthogonal, resetOrthogonal } = on.initWithOrthogonal(new Rng(21));
  assertClose(c.candidateRecurrentKernel, a.candidateRecurrentKernel, 0, "same U_c");
  assert.deepEqual(c.recurrentKernel.shape, [H, H], "recurrentKernel holds U_z only");
  assert.ok(resetOrthogonal && Matrix.sub(resetOrthogonal.U, orthogonal.U).norm("frobenius") > 0.1, "U_r has its own A");
  assert.throws(() => createNcGru({ inputSize: I, hiddenSize: H, orthogonalReset: 1 as unknown as boolean }), /"orthogonalReset" must be true or false/);
});

test("NC-GRU(U_c, U_r) step matches the equations computed by hand (r from U_r, z from U_z)", () => {
  const I = 3, H = 4, B = 2;
  const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset: true });
  const params = cell.init(new Rng(17));
  const rng = new Rng(18);
  const x = Array.from({ length: B }, () => Array.from({ length: I }, () => rng.normal()));
  const h0 = Array.from({ length: B }, () => Array.from({ length: H }, () => rng.normal() * 0.5));
  const out = scan(cell, params, tf.tensor3d([x]), { h: tf.tensor2d(h0) });
  const P = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, (v as tf.Tensor).arraySync()])) as Record<string, any>;
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
  for (let b = 0; b < B; b++) {
    const xw = (col: number) => x[b].reduce((s, xi, i) => s + xi * P.inputKernel[i][col], 0);
    const r: number[] = [], z: number[] = [];
    for (let j = 0; j < H; j++) {
      r.push(sigmoid(xw(j) + h0[b].reduce((s, hk, k) => s + hk * P.resetRecurrentKernel[k][j], 0) + P.bias[j]));
      z.push(sigmoid(xw(H + j) + h0[b].reduce((s, hk, k) => s + hk * P.recurrentKernel[k][j], 0) + P.bias[H + j]));
    }
    for (let j = 0; j < H; j++) {
      const cHat = xw(2 * H + j) + h0[b].reduce((s, hk, k) => s + r[k] * hk * P.candidateRecurrentKernel[k][j], 0);
      const c = Math.sign(cHat) * Math.max(0, Math.abs(cHat) + P.modReluBias[j]);
      const expected = z[j] * h0[b][j] + (1 - z[j]) * c;
      const got = (out.state.h.arraySync() as number[][])[b][j];
      assert.ok(Math.abs(got - expected) < 1e-5, `h[${b}][${j}] ${got} vs ${expected}`);
    }
  }
});

test("NC-GRU(U_c, U_r): gradientA of the autodiff dL/dU_r matches finite differences of the sequence loss through U_r's own A", () => {
  const I = 3, H = 4, B = 2, T = 4;
  const cell = createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 1, orthogonalReset: true });
  const { params, resetOrthogonal } = cell.initWithOrthogonal(new Rng(19));
  const orthogonal = resetOrthogonal!;
  // Move A off the sparse scoRNN init so every entry of U_r is generic.
  orthogonal.neumannUpdate(Matrix.sub(randomMatrix(H, 23), randomMatrix(H, 23).transpose()).mul(0.2), 3);
  orthogonal.exactRecompute();
  const xs = tf.tensor3d(new Rng(20).fillNormal(new Float32Array(T * B * I)), [T, B, I]);
  const weights = tf.tensor3d(new Rng(24).fillNormal(new Float32Array(T * B * H)), [T, B, H]);
  const lossWith = (p: NcGruParams) => tf.sum(tf.mul(scan(cell, p, xs, cell.initialState(B)).ys, weights)) as tf.Scalar;
  const U = tf.variable(orthogonal.toTensor());
  const { grads } = tf.variableGrads(() => lossWith({ ...params, resetRecurrentKernel: U }), [U]);
  const analytic = orthogonal.gradientA(grads[U.name].dataSync());
  const eps = 1e-2;
  let worst = 0;
  let largest = 0;
  for (const [i, j] of [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]) {
    const value = (sign: number) => {
      const A = orthogonal.A.clone();
      A.set(i, j, A.get(i, j) + sign * eps);
      A.set(j, i, A.get(j, i) - sign * eps);
      return lossWith({ ...params, resetRecurrentKernel: new OrthogonalRecurrence(A, 1).toTensor() }).dataSync()[0];
    };
    const numeric = (value(1) - value(-1)) / (2 * eps);
    largest = Math.max(largest, Math.abs(numeric));
    worst = Math.max(worst, Math.abs(numeric - analytic.get(i, j)) / Math.max(1, Math.abs(numeric)));
  }
  assert.ok(largest > 1e-2, `the loss depends on U_r (largest |dL/da| ${largest})`);
  assert.ok(worst < 2e-3, `max relative error ${worst}`);
  U.dispose();
});

test("fromOrthogonal recovers A (and so U, the inverse) from U and D: the Cayley transform is its own inverse", () => {
  const original = OrthogonalRecurrence.create(9, 4, new Rng(21));
  const back = OrthogonalRecurrence.fromOrthogonal(Float64Array.from(original.U.to1DArray()), 9, 4);
  assert.ok(Matrix.sub(back.A, original.A).norm("frobenius") < 1e-12, "A");
  assert.ok(Matrix.sub(back.U, original.U).norm("frobenius") < 1e-12, "U");
  assert.throws(() => OrthogonalRecurrence.fromOrthogonal([1, 2, 3], 2, 1), /expected 4 values/);
});
