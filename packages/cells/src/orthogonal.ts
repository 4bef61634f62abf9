/**
 * Scaled Cayley-orthogonal recurrent matrix (scoRNN, Helfrich, Willmott & Ye 2018; NC-GRU, Mucllari
 * et al. 2022, PAPERS §5), kept in float64 on the CPU with ml-matrix:
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
 * DEVIATION: the reference code passes Δ = lr·dL/dA to the Neumann update even when A is stepped by
 * Adam; `neumannUpdate` takes the actual step Δ = A_old − A_new, so only the series truncation drifts.
 */
import { Matrix, inverse } from "ml-matrix";
import { tf, type Rng } from "@rnnlab/core";
import { checkInteger } from "./validate";

export class OrthogonalRecurrence {
  readonly size: number;
  /** Diagonal of D (±1). */
  readonly D: number[];
  /** Skew-symmetric parameter. */
  A: Matrix;
  /** (I + A)⁻¹, exact after exactRecompute, approximate after neumannUpdate. */
  inverse: Matrix;
  /** The orthogonal (or nearly) recurrent matrix. */
  U: Matrix;

  constructor(A: Matrix, negativeOnes: number) {
    if (!A.isSquare()) throw new Error(`OrthogonalRecurrence: A must be square, got ${A.rows}x${A.columns}.`);
    const n = A.rows;
    checkInteger("OrthogonalRecurrence", "negativeOnes", negativeOnes, 0);
    if (negativeOnes > n) throw new Error(`OrthogonalRecurrence: option "negativeOnes" must be in [0, ${n}], got ${negativeOnes}.`);
    this.size = n;
    this.D = Array.from({ length: n }, (_, i) => (i >= n - negativeOnes ? -1 : 1));
    this.A = A.clone();
    this.inverse = inverse(Matrix.add(Matrix.eye(n), this.A));
    this.U = this.computeU();
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

  get negativeOnes(): number {
    return this.D.filter((d) => d < 0).length;
  }

  private computeU(): Matrix {
    const n = this.size;
    const U = this.inverse.mmul(Matrix.sub(Matrix.eye(n), this.A));
    for (let j = 0; j < n; j++) if (this.D[j] < 0) for (let i = 0; i < n; i++) U.set(i, j, -U.get(i, j)); // · D scales columns
    return U;
  }

  /** dL/dA (skew) from dL/dU. Accepts an ml-matrix, a row-major Float32Array/Float64Array, or nested arrays. */
  gradientA(dLdU: Matrix | ArrayLike<number> | number[][]): Matrix {
    const n = this.size;
    let G: Matrix;
    if (dLdU instanceof Matrix) G = dLdU;
    else if (Array.isArray(dLdU) && Array.isArray(dLdU[0])) G = new Matrix(dLdU as number[][]);
    else {
      const flat = dLdU as ArrayLike<number>;
      if (flat.length !== n * n) throw new Error(`OrthogonalRecurrence.gradientA: expected ${n * n} values (${n}x${n}), got ${flat.length}.`);
      G = Matrix.from1DArray(n, n, Array.from(flat));
    }
    if (G.rows !== n || G.columns !== n) throw new Error(`OrthogonalRecurrence.gradientA: dL/dU must be ${n}x${n}, got ${G.rows}x${G.columns}.`);
    const DplusUt = this.U.transpose();
    for (let i = 0; i < n; i++) DplusUt.set(i, i, DplusUt.get(i, i) + this.D[i]);
    const V = this.inverse.transpose().mmul(G).mmul(DplusUt);
    return Matrix.sub(V.transpose(), V);
  }

  /** A ← A − delta; inverse by a Neumann series of the given order (1..3); U recomputed. */
  neumannUpdate(delta: Matrix, order: 1 | 2 | 3 = 2): void {
    if (![1, 2, 3].includes(order)) throw new Error(`OrthogonalRecurrence.neumannUpdate: option "order" must be 1, 2 or 3, got ${order}.`);
    const n = this.size;
    if (delta.rows !== n || delta.columns !== n) throw new Error(`OrthogonalRecurrence.neumannUpdate: delta must be ${n}x${n}.`);
    const X = this.inverse.mmul(delta);
    const series = Matrix.add(Matrix.eye(n), X);
    let power = X;
    for (let k = 2; k <= order; k++) {
      power = power.mmul(X);
      series.add(power);
    }
    this.inverse = series.mmul(this.inverse);
    this.A = Matrix.sub(this.A, delta);
    this.U = this.computeU();
  }

  /** (I + A)⁻¹ exactly (ml-matrix LU inverse); U recomputed. */
  exactRecompute(): void {
    this.inverse = inverse(Matrix.add(Matrix.eye(this.size), this.A));
    this.U = this.computeU();
  }

  /** ‖UᵀU − I‖_F. */
  orthogonalityError(): number {
    return Matrix.sub(this.U.transpose().mmul(this.U), Matrix.eye(this.size)).norm("frobenius");
  }

  /** U as a float32 [size, size] tensor (row i = U[i, :], i.e. used as h·U). */
  toTensor(): tf.Tensor2D {
    return tf.tensor2d(Float32Array.from(this.U.to1DArray()), [this.size, this.size]);
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
