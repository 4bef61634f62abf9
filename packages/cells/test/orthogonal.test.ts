/** Cayley-orthogonal recurrence (NC-GRU): orthogonality, the skew gradient (finite differences), Neumann drift, the NC-GRU step. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Matrix } from "ml-matrix";
import { tf, selectBackend, Rng, hostCayleyKernels } from "@rnnlab/core";
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

// ---- The per-step update against a straightforward dense float64 reference (no BLAS, no ml-matrix) ----

type Dense = Float64Array; // row-major n x n
const denseMul = (n: number, a: Dense, b: Dense): Dense => {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
};
const denseT = (n: number, a: Dense): Dense => {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[j * n + i] = a[i * n + j];
  return c;
};
const denseIdentityPlus = (n: number, a: Dense, sign: number): Dense => {
  const c = a.map((v) => sign * v);
  for (let i = 0; i < n; i++) c[i * n + i] += 1;
  return c;
};
/** Gauss-Jordan with partial pivoting. */
const denseInverse = (n: number, a: Dense): Dense => {
  const m = Float64Array.from(a), inv = denseIdentityPlus(n, new Float64Array(n * n), 1);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (const x of [m, inv]) for (let j = 0; j < n; j++) [x[c * n + j], x[p * n + j]] = [x[p * n + j], x[c * n + j]];
    const d = m[c * n + c];
    for (const x of [m, inv]) for (let j = 0; j < n; j++) x[c * n + j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (const x of [m, inv]) for (let j = 0; j < n; j++) x[r * n + j] -= f * x[c * n + j];
    }
  }
  return inv;
};

/** The recurrence by its formulas: U = (I+A)⁻¹(I−A)D, dL/dA = Vᵀ − V, Neumann order 2, exact inverse on demand. */
class DenseReference {
  constructor(readonly n: number, readonly D: number[], public A: Dense, public inv: Dense = denseInverse(n, denseIdentityPlus(n, A, 1))) {}
  U(): Dense {
    const U = denseMul(this.n, this.inv, denseIdentityPlus(this.n, this.A, -1));
    return U.map((v, k) => v * this.D[k % this.n]);
  }
  gradientA(G: Dense): Dense {
    const n = this.n;
    const DplusUt = denseT(n, this.U());
    for (let i = 0; i < n; i++) DplusUt[i * n + i] += this.D[i];
    const V = denseMul(n, denseMul(n, denseT(n, this.inv), G), DplusUt);
    return denseT(n, V).map((v, k) => v - V[k]);
  }
  step(delta: Dense, exact: boolean): void {
    const n = this.n;
    const X = denseMul(n, this.inv, delta);
    const series = denseIdentityPlus(n, X, 1);
    const X2 = denseMul(n, X, X);
    for (let k = 0; k < n * n; k++) series[k] += X2[k];
    this.inv = denseMul(n, series, this.inv);
    this.A = this.A.map((v, k) => v - delta[k]);
    if (exact) this.inv = denseInverse(n, denseIdentityPlus(n, this.A, 1));
  }
  orthogonalityError(): number {
    const n = this.n, U = this.U();
    const P = denseMul(n, denseT(n, U), U);
    return Math.sqrt(P.reduce((s, v, k) => s + (v - (Math.floor(k / n) === k % n ? 1 : 0)) ** 2, 0));
  }
}

for (const path of ["native kernels when the addon loads", "JavaScript path (RNNLAB_MATMUL=wasm)"]) {
  test(`the per-step update (gradient, Neumann order 2, exact recompute, U, orthogonality error) equals the dense float64 formulas to 1e-10: ${path}`, () => {
    const saved = process.env.RNNLAB_MATMUL;
    if (path.startsWith("JavaScript")) process.env.RNNLAB_MATMUL = "wasm";
    try {
      const n = 11, rho = 4;
      const orth = OrthogonalRecurrence.create(n, rho, new Rng(31));
      orth.neumannUpdate(Matrix.sub(randomMatrix(n, 32), randomMatrix(n, 32).transpose()).mul(0.05), 3); // a generic A
      orth.exactRecompute();
      const ref = new DenseReference(n, orth.D, Float64Array.from(orth.A.to1DArray()));
      const flat = (m: Matrix) => m.to1DArray();
      const worstOf = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((w, v, k) => Math.max(w, Math.abs(v - b[k])), 0);
      let moved = 0;
      for (let step = 1; step <= 7; step++) {
        const G = new Rng(40 + step).fillNormal(new Float32Array(n * n));
        const expected = ref.gradientA(Float64Array.from(G));
        assert.ok(worstOf(orth.gradientAFlat(G), expected) < 1e-10, `step ${step}: gradientAFlat`);
        const g32 = orth.gradientAFloat32(G);
        assert.ok(g32 instanceof Float32Array);
        g32.forEach((v, k) => assert.ok(Math.abs(v - expected[k]) <= 2 ** -23 * Math.abs(expected[k]) + 1e-12, `step ${step}: float32 gradient [${k}]`));
        // A's optimizer step in float32, as the updater sees it (before/after), then the update.
        const before = orth.aFloat32();
        const after = before.map((v, k) => v - 0.02 * g32[k]);
        const exact = step % 3 === 0;
        orth.applyStep(before, after, 2, exact);
        ref.step(Float64Array.from(before, (v, k) => v - after[k]), exact);
        assert.ok(worstOf(flat(orth.A), ref.A) < 1e-10, `step ${step}: A`);
        assert.ok(worstOf(flat(orth.inverse), ref.inv) < 1e-10, `step ${step}: (I + A)⁻¹`);
        const U = ref.U();
        assert.ok(worstOf(flat(orth.U), U) < 1e-10, `step ${step}: U`);
        const tensor = orth.toTensor();
        assert.ok(worstOf(tensor.dataSync(), U) < 1e-6, `step ${step}: U as float32`);
        tensor.dispose();
        const error = orth.orthogonalityError();
        assert.ok(Math.abs(error - ref.orthogonalityError()) < 1e-10, `step ${step}: orthogonality error ${error} vs ${ref.orthogonalityError()}`);
        if (exact) assert.ok(error < 1e-12, `step ${step}: orthogonal after the exact recompute (${error})`);
        else if (step > 1) assert.ok(error > 1e-14, `step ${step}: the Neumann series drifts (${error})`);
        moved = Math.max(moved, worstOf(before, after));
      }
      assert.ok(moved > 1e-3, `A moved (${moved})`);
      assert.throws(() => orth.applyStep(new Float32Array(3), new Float32Array(3), 2, false), /before and after must hold 121 values/);
      assert.throws(() => orth.gradientAFloat32(new Float32Array(3)), /expected 121 values/);
    } finally {
      if (saved === undefined) delete process.env.RNNLAB_MATMUL;
      else process.env.RNNLAB_MATMUL = saved;
    }
  });
}

test("native Cayley kernels reject arrays too short for n (when the addon loads)", (t) => {
  const native = hostCayleyKernels();
  if (!native) return t.skip("native BLAS addon not loaded");
  const n = 4, m = () => new Float64Array(n * n), short = new Float64Array(3);
  assert.throws(() => native.cayleyUpdate(m(), m(), m(), new Float64Array(n), short, null, null, 2, false, m(), m(), m(), m(), n), /too short/);
  assert.throws(() => native.cayleyUpdate(m(), m(), m(), new Float64Array(n), m(), null, null, 4, false, m(), m(), m(), m(), n), /order must be 1, 2 or 3/);
  assert.throws(() => native.cayleyGradient(m(), m(), new Float64Array(n), m(), short, m(), m(), m(), n), /too short/);
  assert.throws(() => native.orthogonalityError64(short, n, m()), /must hold n\*n/);
});
