/**
 * Scaled Cayley-orthogonal recurrent matrix (scoRNN, Helfrich, Willmott & Ye 2018; NC-GRU, Mucllari
 * et al. 2022, docs/papers/nc-gru.md), kept in float64 on the CPU with ml-matrix:
 *
 *   U = (I + A)⁻¹ (I − A) D          A skew-symmetric (trained), D = diag(±1) with ρ entries −1 (fixed)
 *
 * Gradient with respect to A, from dL/dU computed by autodiff as if U were free:
 *   V = (I + A)⁻ᵀ (dL/dU) (D + Uᵀ),    dL/dA = Vᵀ − V      (skew; it is the derivative with respect to
 *   the free upper-triangle entry a_ij when A_ij = a_ij, A_ji = −a_ij)
 *
 * Neumann update of the inverse after a step A_new = A_old − Δ (Δ skew), X = (I + A_old)⁻¹ Δ:
 *   (I + A_new)⁻¹ = (I − X)⁻¹ (I + A_old)⁻¹ ≈ (I + X + X² + … + X^order)(I + A_old)⁻¹
 * The truncation drifts from orthogonality; `exactRecompute()` inverts I + A exactly (the paper does
 * it every 49 or 100 steps).
 *
 * Initialisation of A (scoRNN): θ_i ~ U(0, π/2), s_i = −sqrt((1 − cos θ_i)/(1 + cos θ_i)), placed on the
 * first superdiagonal at every other position (A_01 = s_0, A_23 = s_1, …), A = A_up − A_upᵀ.
 * D: the last ρ diagonal entries are −1 (as in the scoRNN code).
 *
 * The n³ products (gradient, Neumann series, U) go through the native BLAS in float64 when it is loaded
 * (measured at n = 435: ~1.8-2.5 s per update through ml-matrix, ~50 ms through dgemm), else through ml-matrix;
 * same values to rounding; so does the exact inverse (LAPACK's LU through the same library, else ml-matrix's).
 * With the addon, each per-step operation is one native call on preallocated work buffers (core's
 * hostCayleyKernels: `cayleyGradient`, `cayleyUpdate`, `orthogonalityError64`): the same dgemm calls on the
 * same operands as the JavaScript path (so the same bits), without its per-step Float64Array allocations,
 * element loops and float32/float64 copies. Per update (gradient + Neumann order 2 + U): 6 dgemm of n x n;
 * an exact-recompute step skips the Neumann products (the exact inverse replaces them): 3 dgemm + one LU.
 *
 * DEVIATION: the reference code passes Δ = lr·dL/dA to the Neumann update even when A is stepped by
 * Adam; `neumannUpdate` takes the actual step Δ = A_old − A_new, so only the series truncation drifts.
 */
import { Matrix, inverse } from "ml-matrix";
import { tf, hostCayleyKernels, hostInverse64, hostMatMul64, type Rng } from "@rnnlab/core";
import { checkInteger } from "./validate";

/** Row-major float64 copy of an ml-matrix (row by row: ml-matrix keeps one Float64Array per row). */
function flatten(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.columns);
  for (let i = 0; i < m.rows; i++) out.set(m.getRow(i), i * m.columns);
  return out;
}

function toMatrix(flat: Float64Array, rows: number, columns: number): Matrix {
  const m = new Matrix(rows, columns);
  for (let i = 0; i < rows; i++) m.setRow(i, flat.subarray(i * columns, (i + 1) * columns));
  return m;
}

/** op(a)·op(b) of row-major n x n float64 matrices: native BLAS when loaded, else ml-matrix. */
function mmul(n: number, a: Float64Array, b: Float64Array, transA = false, transB = false): Float64Array {
  const native = hostMatMul64(a, b, n, n, n, transA, transB);
  if (native) return native;
  const ma = toMatrix(a, n, n);
  const mb = toMatrix(b, n, n);
  return flatten((transA ? ma.transpose() : ma).mmul(transB ? mb.transpose() : mb));
}

/** I + sign·M (new array). */
function identityPlus(n: number, M: Float64Array, sign: 1 | -1): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) out[i] = sign * M[i];
  for (let i = 0; i < n; i++) out[i * n + i] += 1;
  return out;
}

export class OrthogonalRecurrence {
  readonly size: number;
  /** Diagonal of D (±1). */
  readonly D: number[];
  /** Row-major float64 n x n: A, (I + A)⁻¹ and U (the public A / inverse / U are ml-matrix copies). */
  private a64: Float64Array;
  private inv64: Float64Array;
  private u64: Float64Array;
  /** D's diagonal, for the native kernels. */
  private readonly d64: Float64Array;
  /** n x n float64 work buffers of the native kernels (allocated on first use, then reused every step). */
  private work: Float64Array[] | undefined;
  /** U rounded to float32 by the native update (undefined when U last changed elsewhere). */
  private u32: Float32Array | undefined;

  constructor(A: Matrix, negativeOnes: number) {
    if (!A.isSquare()) throw new Error(`OrthogonalRecurrence: A must be square, got ${A.rows}x${A.columns}.`);
    const n = A.rows;
    checkInteger("OrthogonalRecurrence", "negativeOnes", negativeOnes, 0);
    if (negativeOnes > n) throw new Error(`OrthogonalRecurrence: option "negativeOnes" must be in [0, ${n}], got ${negativeOnes}.`);
    this.size = n;
    this.D = Array.from({ length: n }, (_, i) => (i >= n - negativeOnes ? -1 : 1));
    this.d64 = Float64Array.from(this.D);
    this.a64 = flatten(A);
    this.inv64 = this.exactInverse();
    this.u64 = this.computeU();
  }

  /** Skew-symmetric parameter (a copy; assign to replace it). */
  get A(): Matrix {
    return toMatrix(this.a64, this.size, this.size);
  }
  set A(m: Matrix) {
    this.a64 = flatten(m);
  }
  /** (I + A)⁻¹, exact after exactRecompute, approximate after neumannUpdate (a copy; assignable). */
  get inverse(): Matrix {
    return toMatrix(this.inv64, this.size, this.size);
  }
  set inverse(m: Matrix) {
    this.inv64 = flatten(m);
  }
  /** The orthogonal (or nearly) recurrent matrix (a copy; assignable). */
  get U(): Matrix {
    return toMatrix(this.u64, this.size, this.size);
  }
  set U(m: Matrix) {
    this.u64 = flatten(m);
    this.u32 = undefined;
  }

  private workBuffers(): Float64Array[] {
    const nn = this.size * this.size;
    if (!this.work) this.work = Array.from({ length: 4 }, () => new Float64Array(nn));
    return this.work;
  }

  /** scoRNN initialisation; all randomness from rng. */
  static create(size: number, negativeOnes: number, rng: Rng): OrthogonalRecurrence {
    checkInteger("OrthogonalRecurrence.create", "size", size, 1);
    const A = Matrix.zeros(size, size);
    for (let i = 0; i + 1 < size; i += 2) {
      const theta = rng.uniformRange(0, Math.PI / 2);
      const s = -Math.sqrt((1 - Math.cos(theta)) / (1 + Math.cos(theta)));
      A.set(i, i + 1, s);
      A.set(i + 1, i, -s);
    }
    return new OrthogonalRecurrence(A, negativeOnes);
  }

  /**
   * The recurrence whose U is the given (nearly) orthogonal matrix, for a known D: U·D is the Cayley
   * transform W = (I+A)⁻¹(I−A) of A, and the transform is its own inverse, so A = (I−W)(I+W)⁻¹ (made
   * exactly skew). Lets a trainer adopt the matrix a cell was initialised with instead of drawing its own.
   */
  static fromOrthogonal(U: ArrayLike<number>, size: number, negativeOnes: number): OrthogonalRecurrence {
    checkInteger("OrthogonalRecurrence.fromOrthogonal", "size", size, 1);
    if (U.length !== size * size) throw new Error(`OrthogonalRecurrence.fromOrthogonal: expected ${size * size} values (${size}x${size}), got ${U.length}.`);
    const n = size;
    const D = Array.from({ length: n }, (_, i) => (i >= n - negativeOnes ? -1 : 1));
    const W = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) W[i * n + j] = U[i * n + j] * D[j];
    const IplusW = identityPlus(n, W, 1);
    const inv = hostInverse64(IplusW, n) ?? flatten(inverse(toMatrix(IplusW, n, n)));
    const raw = mmul(n, identityPlus(n, W, -1), inv);
    const A = Matrix.zeros(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A.set(i, j, 0.5 * (raw[i * n + j] - raw[j * n + i]));
    return new OrthogonalRecurrence(A, negativeOnes);
  }

  get negativeOnes(): number {
    return this.D.filter((d) => d < 0).length;
  }

  private exactInverse(): Float64Array {
    const n = this.size;
    const IplusA = identityPlus(n, this.a64, 1);
    return hostInverse64(IplusA, n) ?? flatten(inverse(toMatrix(IplusA, n, n)));
  }

  private computeU(): Float64Array {
    const n = this.size;
    const U = mmul(n, this.inv64, identityPlus(n, this.a64, -1));
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (this.D[j] < 0) U[i * n + j] = -U[i * n + j]; // · D scales columns
    return U;
  }

  /** dL/dA (skew) from dL/dU, row-major float64. Accepts an ml-matrix, a row-major array, or nested arrays. */
  gradientAFlat(dLdU: Matrix | ArrayLike<number> | number[][]): Float64Array {
    const n = this.size;
    let G: Float64Array;
    if (dLdU instanceof Matrix) {
      if (dLdU.rows !== n || dLdU.columns !== n) throw new Error(`OrthogonalRecurrence.gradientA: dL/dU must be ${n}x${n}, got ${dLdU.rows}x${dLdU.columns}.`);
      G = flatten(dLdU);
    } else if (Array.isArray(dLdU) && Array.isArray(dLdU[0])) {
      const rows = dLdU as number[][];
      if (rows.length !== n || rows[0].length !== n) throw new Error(`OrthogonalRecurrence.gradientA: dL/dU must be ${n}x${n}, got ${rows.length}x${rows[0].length}.`);
      G = Float64Array.from(rows.flat());
    } else {
      const flat = dLdU as ArrayLike<number>;
      if (flat.length !== n * n) throw new Error(`OrthogonalRecurrence.gradientA: expected ${n * n} values (${n}x${n}), got ${flat.length}.`);
      G = Float64Array.from(flat);
    }
    const native = hostCayleyKernels();
    if (native) {
      const out = new Float64Array(n * n);
      const [w1, w2, w3] = this.workBuffers();
      native.cayleyGradient(this.inv64, this.u64, this.d64, G, out, w1, w2, w3, n);
      return out;
    }
    // D + Uᵀ
    const DplusUt = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) DplusUt[i * n + j] = this.u64[j * n + i];
    for (let i = 0; i < n; i++) DplusUt[i * n + i] += this.D[i];
    const V = mmul(n, mmul(n, this.inv64, G, true, false), DplusUt);
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = V[j * n + i] - V[i * n + j]; // Vᵀ − V
    return out;
  }

  /**
   * dL/dA (skew) from dL/dU (row-major float32), rounded to float32: the optimizer's gradient. A new array
   * each call (a tensor made from it may keep it). With the addon: one native call, no float64 copies here.
   */
  gradientAFloat32(dLdU: Float32Array): Float32Array {
    const n = this.size;
    if (dLdU.length !== n * n) throw new Error(`OrthogonalRecurrence.gradientAFloat32: expected ${n * n} values (${n}x${n}), got ${dLdU.length}.`);
    const native = hostCayleyKernels();
    if (!native) return Float32Array.from(this.gradientAFlat(dLdU));
    const out = new Float32Array(n * n);
    const [w1, w2, w3] = this.workBuffers();
    native.cayleyGradient(this.inv64, this.u64, this.d64, dLdU, out, w1, w2, w3, n);
    return out;
  }

  /** dL/dA (skew) from dL/dU, as an ml-matrix. */
  gradientA(dLdU: Matrix | ArrayLike<number> | number[][]): Matrix {
    return toMatrix(this.gradientAFlat(dLdU), this.size, this.size);
  }

  /** A ← A − delta; inverse by a Neumann series of the given order (1..3); U recomputed. delta: ml-matrix or row-major n*n. */
  neumannUpdate(delta: Matrix | Float64Array, order: 1 | 2 | 3 = 2): void {
    if (![1, 2, 3].includes(order)) throw new Error(`OrthogonalRecurrence.neumannUpdate: option "order" must be 1, 2 or 3, got ${order}.`);
    const n = this.size;
    if (delta instanceof Matrix ? delta.rows !== n || delta.columns !== n : delta.length !== n * n)
      throw new Error(`OrthogonalRecurrence.neumannUpdate: delta must be ${n}x${n}.`);
    const d = delta instanceof Matrix ? flatten(delta) : delta;
    const native = hostCayleyKernels();
    if (native) {
      const [w1, w2, w3, w4] = this.workBuffers();
      this.u32 ??= new Float32Array(n * n);
      native.cayleyUpdate(this.inv64, this.a64, this.u64, this.d64, d, null, this.u32, order, false, w1, w2, w3, w4, n);
      return;
    }
    const X = mmul(n, this.inv64, d);
    const series = identityPlus(n, X, 1);
    let power = X;
    for (let k = 2; k <= order; k++) {
      power = mmul(n, power, X);
      for (let i = 0; i < n * n; i++) series[i] += power[i];
    }
    this.inv64 = mmul(n, series, this.inv64);
    const A = new Float64Array(n * n);
    for (let i = 0; i < n * n; i++) A[i] = this.a64[i] - d[i];
    this.a64 = A;
    this.u64 = this.computeU();
    this.u32 = undefined;
  }

  /** (I + A)⁻¹ exactly (LU inverse: LAPACK when loaded, else ml-matrix); U recomputed. */
  exactRecompute(): void {
    this.inv64 = this.exactInverse();
    this.u64 = this.computeU();
    this.u32 = undefined;
  }

  /**
   * One training step of the recurrence from A's float32 values before and after its optimizer step:
   * A ← A − Δ with Δ = before − after (each difference taken in float64), then `neumannUpdate(Δ, order)`,
   * or with `exact` the exact inverse instead (what `neumannUpdate` followed by `exactRecompute` gives:
   * the Neumann products are skipped since the exact inverse replaces them). With the addon, one native call.
   */
  applyStep(before: Float32Array, after: Float32Array, order: 1 | 2 | 3, exact: boolean): void {
    if (![1, 2, 3].includes(order)) throw new Error(`OrthogonalRecurrence.applyStep: option "order" must be 1, 2 or 3, got ${order}.`);
    const n = this.size;
    if (before.length !== n * n || after.length !== n * n)
      throw new Error(`OrthogonalRecurrence.applyStep: before and after must hold ${n * n} values (${n}x${n}), got ${before.length} and ${after.length}.`);
    const native = hostCayleyKernels();
    if (native) {
      const [w1, w2, w3, w4] = this.workBuffers();
      this.u32 ??= new Float32Array(n * n);
      if (native.cayleyUpdate(this.inv64, this.a64, this.u64, this.d64, before, after, this.u32, order, exact, w1, w2, w3, w4, n)) return;
      this.exactRecompute(); // LAPACK failed (I + A singular): ml-matrix's inverse, as exactRecompute falls back
      return;
    }
    const delta = new Float64Array(n * n); // a plain loop: a mapping callback per element costs ~20 ms at n = 435
    for (let j = 0; j < n * n; j++) delta[j] = before[j] - after[j];
    if (exact) {
      for (let j = 0; j < n * n; j++) this.a64[j] -= delta[j];
      this.exactRecompute();
    } else this.neumannUpdate(delta, order);
  }

  /** ‖UᵀU − I‖_F (with the addon: UᵀU by dsyrk, half the products of a dgemm). */
  orthogonalityError(): number {
    const n = this.size;
    const native = hostCayleyKernels();
    if (native) return native.orthogonalityError64(this.u64, n, this.workBuffers()[0]);
    const P = mmul(n, this.u64, this.u64, true, false);
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += (P[i * n + j] - (i === j ? 1 : 0)) ** 2;
    return Math.sqrt(s);
  }

  /** U as a float32 [size, size] tensor (row i = U[i, :], i.e. used as h·U). */
  toTensor(): tf.Tensor2D {
    // A copy of u32: a backend may keep the array it is given (cpu does), and u32 is rewritten every step.
    return tf.tensor2d(this.u32 ? this.u32.slice() : Float32Array.from(this.u64), [this.size, this.size]);
  }

  /** A as float32, row-major (the optimizer's copy). */
  aFloat32(): Float32Array {
    return Float32Array.from(this.a64);
  }

  /** Write U into a tf.Variable (the cell's candidateRecurrentKernel). */
  writeTo(variable: tf.Variable): void {
    if (variable.shape.length !== 2 || variable.shape[0] !== this.size || variable.shape[1] !== this.size) {
      throw new Error(`OrthogonalRecurrence.writeTo: variable must be [${this.size}, ${this.size}], got [${variable.shape}].`);
    }
    const value = this.toTensor();
    variable.assign(value);
    value.dispose();
  }

  toJSON(): { A: number[][]; negativeOnes: number } {
    return { A: this.A.to2DArray(), negativeOnes: this.negativeOnes };
  }

  static fromJSON(json: { A: number[][]; negativeOnes: number }): OrthogonalRecurrence {
    return new OrthogonalRecurrence(new Matrix(json.A), json.negativeOnes);
  }
}
