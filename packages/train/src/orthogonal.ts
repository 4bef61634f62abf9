/**
 * NC-GRU's orthogonal-recurrence update, run after each main optimizer step (Mucllari et al. 2022,
 * docs/papers/nc-gru.md):
 *   dL/dA = Vᵀ − V,  V = (I+A)^{-T} (dL/dU_c) (D + U_cᵀ)        (cells' OrthogonalRecurrence.gradientA)
 *   A ← optimizer step on A (its own optimizer, same kind as the main one by default)
 *   (I+A_new)^{-1} ≈ (I + X + X²)(I+A_old)^{-1},  X = (I+A_old)^{-1} Δ,  Δ = A_old − A_new   (Neumann, order 2)
 *   every K steps: exact inverse (K = 49 in the NC-GRU scripts)
 *   U_c ← (I+A)^{-1}(I − A) D  written into the candidateRecurrentKernel variable
 * U_c is a trainable variable (so autodiff gives dL/dU_c) that the main optimizer does not own.
 * NC-GRU(U_c, U_r): every "resetRecurrentKernel" (U_r) is handled the same way with its OWN A, inverse,
 * D and gradient (the authors' TF code reuses U_c's inverse and the wrong gradient there; docs/papers/nc-gru.md).
 * A is kept twice: a float32 tf.Variable the optimizer steps, and cells' float64 copy that the Neumann
 * update moves by the same Δ.
 */
import { Matrix } from "ml-matrix";
import { tf } from "@rnnlab/core";
import { OrthogonalRecurrence } from "@rnnlab/cells";
import type { NamedTensors, NamedVariables } from "./params";
import { Optimizer, type OptimizerOptions, type OptimizerState } from "./optim";

export interface OrthogonalOptions {
  negativeOnes?: number;
  neumannOrder?: 1 | 2 | 3;
  recomputeEvery?: number;
  orthogonalLearningRate?: number;
}

/** Parameter names (path suffixes) of the orthogonal matrices: U_c, and U_r in NC-GRU(U_c, U_r); scoRNN's U. */
const SUFFIXES = ["candidateRecurrentKernel", "resetRecurrentKernel", "orthogonalRecurrentKernel"];

interface Entry {
  path: string;
  orthogonal: OrthogonalRecurrence;
  A: tf.Variable;
}

/** The values of several tensors with one asynchronous read (one wait on the device). */
async function readFlat(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  const flat = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t, [-1]))));
  const values = (await flat.data()) as Float32Array;
  flat.dispose();
  let at = 0;
  return tensors.map((t) => values.slice(at, (at += t.size)));
}

export interface OrthogonalUpdaterState {
  steps: number;
  entries: { path: string; A64: number[][]; inverse: number[][]; U: number[][]; A32: number[] }[];
  optimizer: { meta: OptimizerState["meta"]; tensors: Record<string, { shape: number[]; data: number[] }> };
}

export class OrthogonalUpdater {
  private readonly entries: Entry[] = [];
  private readonly optimizer: Optimizer;
  private steps = 0;
  private readonly order: 1 | 2 | 3;
  private readonly recomputeEvery: number;

  constructor(private readonly variables: NamedVariables, readonly options: OrthogonalOptions, mainOptimizer: OptimizerOptions) {
    this.order = options.neumannOrder ?? 2;
    this.recomputeEvery = options.recomputeEvery ?? 49;
    if (!Number.isInteger(this.recomputeEvery) || this.recomputeEvery < 1) throw new Error(`cell.recomputeEvery=${this.recomputeEvery} must be a positive integer (NC-GRU uses 49)`);
    const aVariables: NamedVariables = {};
    for (const [path, v] of Object.entries(variables)) {
      if (!SUFFIXES.some((suffix) => path.endsWith(suffix))) continue;
      const n = v.shape[0];
      const negativeOnes = options.negativeOnes ?? Math.floor(0.4 * n);
      // The cell owns the initialisation (createNcGru: scoRNN's A, its D); the updater adopts the matrix
      // the cell drew and from then on keeps A, (I+A)⁻¹ and U in float64.
      const orthogonal = OrthogonalRecurrence.fromOrthogonal(v.dataSync() as Float32Array, n, negativeOnes);
      orthogonal.writeTo(v);
      const initialA = tf.tensor2d(orthogonal.aFloat32(), [n, n]);
      const A = tf.variable(initialA, false);
      initialA.dispose();
      this.entries.push({ path, orthogonal, A });
      aVariables[path] = A;
    }
    if (this.entries.length === 0) throw new Error(`OrthogonalUpdater: no orthogonal parameter (${SUFFIXES.join(", ")}) found; is cell.kind "nc-gru" or "scornn"?`);
    // Weight decay on A would pull U_c towards the identity; the A optimizer never decays.
    const { weightDecay: _w, decoupledWeightDecay: _d, ...rest } = mainOptimizer as OptimizerOptions & Record<string, unknown>;
    const aOptions = (rest.kind === "asgd" ? { kind: "sgd" } : rest) as OptimizerOptions;
    this.optimizer = new Optimizer(aOptions, aVariables);
  }

  owns(path: string): boolean {
    return this.entries.some((e) => e.path === path);
  }

  /** Update every orthogonal matrix from its dL/dU_c gradient (the caller disposes `grads`). */
  step(grads: NamedTensors, mainLearningRate: number): void {
    const g = this.entries.map((e) => this.gradient(grads, e.path).dataSync() as Float32Array);
    const before = this.entries.map((e) => e.A.dataSync().slice() as Float32Array);
    this.stepA(g, mainLearningRate);
    this.finish(before, this.entries.map((e) => e.A.dataSync() as Float32Array));
  }

  /**
   * `step` with asynchronous reads, for backends where a read waits on a device (webgpu, which cannot read
   * synchronously in Node): two waits, the gradients with A, then A after its optimizer step.
   */
  async stepAsync(grads: NamedTensors, mainLearningRate: number): Promise<void> {
    const k = this.entries.length;
    const read = await readFlat([...this.entries.map((e) => this.gradient(grads, e.path)), ...this.entries.map((e) => e.A)]);
    this.stepA(read.slice(0, k), mainLearningRate);
    this.finish(read.slice(k), await readFlat(this.entries.map((e) => e.A)));
  }

  private gradient(grads: NamedTensors, path: string): tf.Tensor {
    const g = grads[path];
    if (!g) throw new Error(`OrthogonalUpdater.step: no gradient for "${path}"`);
    return g;
  }

  /** dL/dA from dL/dU_c (host, float64), then A's own optimizer step. */
  private stepA(g: Float32Array[], mainLearningRate: number): void {
    const lr = this.options.orthogonalLearningRate ?? mainLearningRate;
    this.steps++;
    const gradsA: NamedTensors = {};
    this.entries.forEach((e, i) => {
      const n = e.orthogonal.size;
      gradsA[e.path] = tf.tensor2d(e.orthogonal.gradientAFloat32(g[i]), [n, n]);
    });
    this.optimizer.step(gradsA, lr);
    tf.dispose(Object.values(gradsA));
  }

  /**
   * The Neumann update of the float64 inverse by Δ = A_before − A_after (every recomputeEvery-th step the
   * exact inverse instead), and U_c written back: one native call per matrix with the addon.
   */
  private finish(before: Float32Array[], afterAll: Float32Array[]): void {
    const exact = this.steps % this.recomputeEvery === 0;
    this.entries.forEach((e, i) => {
      e.orthogonal.applyStep(before[i], afterAll[i], this.order, exact);
      e.orthogonal.writeTo(this.variables[e.path]);
    });
  }

  /** Largest ‖UᵀU − I‖_F over the orthogonal matrices (every layer's U_c, and U_r when orthogonal). */
  orthogonalityError(): number {
    return Math.max(...this.entries.map((e) => e.orthogonal.orthogonalityError()));
  }

  /** ‖UᵀU − I‖_F of each orthogonal matrix, by parameter path. */
  orthogonalityErrors(): Record<string, number> {
    return Object.fromEntries(this.entries.map((e) => [e.path, e.orthogonal.orthogonalityError()]));
  }

  exportState(): OrthogonalUpdaterState {
    const opt = this.optimizer.exportState();
    const tensors: OrthogonalUpdaterState["optimizer"]["tensors"] = {};
    for (const [k, v] of Object.entries(opt.tensors)) tensors[k] = { shape: v.shape, data: Array.from(v.data) };
    return {
      steps: this.steps,
      entries: this.entries.map((e) => ({
        path: e.path,
        A64: e.orthogonal.A.to2DArray(),
        inverse: e.orthogonal.inverse.to2DArray(),
        U: e.orthogonal.U.to2DArray(),
        A32: Array.from(e.A.dataSync()),
      })),
      optimizer: { meta: opt.meta, tensors },
    };
  }

  importState(state: OrthogonalUpdaterState): void {
    this.steps = state.steps;
    for (const s of state.entries) {
      const e = this.entries.find((x) => x.path === s.path);
      if (!e) throw new Error(`orthogonal state has unknown matrix "${s.path}"; the checkpoint's model differs`);
      e.orthogonal.A = new Matrix(s.A64);
      e.orthogonal.inverse = new Matrix(s.inverse);
      e.orthogonal.U = new Matrix(s.U);
      const t = tf.tensor2d(Float32Array.from(s.A32), e.A.shape as [number, number]);
      e.A.assign(t);
      t.dispose();
      e.orthogonal.writeTo(this.variables[e.path]);
    }
    const tensors: OptimizerState["tensors"] = {};
    for (const [k, v] of Object.entries(state.optimizer.tensors)) tensors[k] = { shape: v.shape, data: Float32Array.from(v.data) };
    this.optimizer.importState({ meta: state.optimizer.meta, tensors });
  }

  dispose(): void {
    this.optimizer.dispose();
    for (const e of this.entries) e.A.dispose();
  }
}
