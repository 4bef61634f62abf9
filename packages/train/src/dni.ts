/**
 * DNI synthetic gradients for truncated BPTT (Jaderberg et al. 2017, docs/papers/synthetic-gradients.md) and the alternating
 * real/synthetic scheme (Shang & Zhang 2019, docs/papers/synthetic-gradients.md).
 *
 * For a segment from state s_0 to s_T (s = h, c of every layer, concatenated: [batch, D]):
 *   δ̂_T = M(s_T)                                   prediction of ∂L_future/∂s_T, a constant
 *   loss_total = L_segment + Σ stopGradient(scale·δ̂_T) ⊙ s_T       (scale 0.1; "synthetic" mode only)
 *   δ*_0 = ∂loss_total/∂s_0                          bootstrapped target (s_0 is an explicit variable)
 *   synthesizer loss = mean_b ‖M(s_0) − δ*_0‖²  (sum over D, mean over the batch), its own optimizer
 * In "real" mode nothing is injected, and the synthesizer still learns from the true gradient at s_0.
 * "alternating" flips between real and synthetic at each SGDR restart, starting real.
 *
 * Synthesizers:
 *   linear:      M(s) = s·W + b, W and b zero-initialised (δ̂ = 0 at the start).
 *   elementwise: every scalar of s is its own batch item: x·ε (ε ~ N(1, noise) in training) → Linear(1→k)
 *                → one step of a recurrent cell with k units whose state z persists across training
 *                iterations (detached, reset per epoch) → Linear(k→1). Linear weights U(−0.1, 0.1), biases 0.
 *                DEVIATION: the paper's code uses a 1-layer QRNN with 50 units; we use a GRU (or LSTM) cell
 *                from @rnnlab/cells. DEVIATION: the prediction at s_T and the training prediction at s_0 use
 *                the same z (the iteration's state), then z advances once per iteration with s_T; the
 *                original advances the QRNN inside its backward hooks.
 *                DEVIATION (quirk fix): the original runs the SG backward and the loss backward as two passes,
 *                giving two MSE terms; we use the single DNI target (their sum).
 */
import { tf, type Rng } from "@rnnlab/core";
import { createCell, type Cell, type State } from "@rnnlab/cells";
import { createVariables, computeGradients, disposeNamed, type VariableSet } from "./params";
import { Optimizer, type OptimizerOptions, type OptimizerState } from "./optim";
import { serializeNamed, deserializeTensor, type SerializedTensor } from "./serialize";
import { checkKeys } from "./validate";

export type GradientMode = "real" | "synthetic";

export interface DniConfig {
  mode: "real" | "synthetic" | "alternating";
  synthesizer?: "linear" | "elementwise";
  /** Scale of the injected synthetic gradient (default 0.1). */
  scale?: number;
  /** Synthesizer optimizer (default Adam). */
  optimizer?: OptimizerOptions;
  /** Synthesizer learning rate (default 1e-3). */
  learningRate?: number;
  /** Elementwise: units of the recurrent unit (default 50). */
  elementwiseUnits?: number;
  /** Elementwise: recurrent cell (default "gru"). */
  elementwiseCell?: "gru" | "lstm";
  /** Elementwise: std of the multiplicative input noise N(1, std) in training (default 0.5). */
  noiseStd?: number;
}

export const DNI_KEYS = ["mode", "synthesizer", "scale", "optimizer", "learningRate", "elementwiseUnits", "elementwiseCell", "noiseStd"];

export function validateDni(c: DniConfig, where = "config.dni"): void {
  checkKeys(where, c, DNI_KEYS);
  if (!["real", "synthetic", "alternating"].includes(c.mode)) throw new Error(`${where}.mode="${c.mode}" must be real, synthetic or alternating`);
  if (c.synthesizer && !["linear", "elementwise"].includes(c.synthesizer)) throw new Error(`${where}.synthesizer="${c.synthesizer}" must be linear or elementwise`);
  if (c.elementwiseCell && !["gru", "lstm"].includes(c.elementwiseCell)) throw new Error(`${where}.elementwiseCell="${c.elementwiseCell}" must be gru or lstm`);
}

/** The stop-gradient (identity forward, zero gradient) is cells' own; re-exported for train's callers. */
export { stopGradient } from "@rnnlab/cells";

/** Concatenate named states of all layers into [batch, D] in a fixed order (layer, then entry name). */
export function flattenStates(states: State[], entries: string[][]): tf.Tensor2D {
  const parts: tf.Tensor[] = [];
  states.forEach((s, l) => entries[l].forEach((k) => parts.push(s[k])));
  return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor2D; // [B, D]
}

export class Synthesizer {
  readonly kind: "linear" | "elementwise";
  readonly parameters: VariableSet;
  readonly optimizer: Optimizer;
  readonly learningRate: number;
  readonly scale: number;
  private cell?: Cell;
  /** Elementwise: the recurrent state persisting over training iterations. */
  private memory?: State;
  private readonly noiseStd: number;

  constructor(readonly config: DniConfig, readonly stateSize: number, rng: Rng) {
    validateDni(config);
    this.kind = config.synthesizer ?? "linear";
    this.scale = config.scale ?? 0.1;
    this.learningRate = config.learningRate ?? 1e-3;
    this.noiseStd = config.noiseStd ?? 0.5;
    const D = stateSize;
    if (this.kind === "linear") {
      const zeros = { kernel: tf.zeros([D, D]), bias: tf.zeros([D]) };
      this.parameters = createVariables(zeros, { scope: "dni" });
      tf.dispose([zeros.kernel, zeros.bias]);
    } else {
      const k = config.elementwiseUnits ?? 50;
      const cellKind = config.elementwiseCell ?? "gru";
      this.cell = createCell({ kind: cellKind }, k, k);
      const u = (n: number, shape: number[]) => tf.tensor(rng.fillUniform(new Float32Array(n), -0.1, 0.1), shape);
      const tree = {
        inputKernel: u(k, [1, k]),
        inputBias: tf.zeros([k]),
        cell: this.cell.init(rng.fork("dni-cell")) as Record<string, tf.Tensor>,
        outputKernel: u(k, [k, 1]),
        outputBias: tf.zeros([1]),
      };
      this.parameters = createVariables(tree, { scope: "dni" });
      tf.dispose([tree.inputKernel, tree.inputBias, tree.outputKernel, tree.outputBias, ...Object.values(tree.cell)]);
    }
    this.optimizer = new Optimizer(config.optimizer ?? { kind: "adam" }, this.parameters.variables);
  }

  /** Predicted gradient for s [B, D] (differentiable w.r.t. the synthesizer's parameters). */
  predict(s: tf.Tensor2D, training: boolean, rng?: Rng): tf.Tensor2D {
    const [B, D] = s.shape;
    const p = this.parameters.tree as Record<string, never>;
    if (this.kind === "linear") return tf.add(tf.matMul(s, p.kernel as tf.Tensor2D), p.bias) as tf.Tensor2D; // [B, D]
    const N = B * D;
    let x = tf.reshape(s, [N, 1]) as tf.Tensor2D; // every scalar is a batch item
    if (training && this.noiseStd > 0 && rng) x = tf.mul(x, tf.randomNormal([N, 1], 1, this.noiseStd, "float32", rng.tfSeed()));
    const u = tf.add(tf.matMul(x, p.inputKernel as tf.Tensor2D), p.inputBias); // [N, k]
    const r = this.cellStep(u as tf.Tensor2D, this.memoryFor(N));
    const y = tf.add(tf.matMul(r.y, p.outputKernel as tf.Tensor2D), p.outputBias); // [N, 1]
    return tf.reshape(y, [B, D]) as tf.Tensor2D;
  }

  /**
   * scale·M(s_T) as a constant for the surrogate term: a customGrad whose forward is not recorded on the
   * gradient tape (so the synthesizer's ops never enter the main backward pass) and whose gradient is 0.
   */
  injected(sT: tf.Tensor2D, rng?: Rng): tf.Tensor2D {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor2D;
      return { value: tf.mul(this.predict(x, true, rng), this.scale), gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)] };
    });
    return op(sT) as tf.Tensor2D;
  }

  /**
   * One step of the recurrent unit. Not through `scan`: tfjs' Unpack gradient fails for a one-step
   * sequence (it calls stack() on a single tensor), so we drive the cell contract directly.
   */
  private cellStep(u: tf.Tensor2D, state: State): { y: tf.Tensor2D; state: State } {
    const params = (this.parameters.tree as Record<string, never>).cell;
    const n = u.shape[0];
    const prepared = this.cell!.prepare(params, { training: false, steps: 1, batchSize: n, layerName: "dni" });
    const x = this.cell!.project
      ? (tf.reshape(this.cell!.project(params, tf.expandDims(u, 0) as tf.Tensor3D, prepared), [n, -1]) as tf.Tensor2D) // [N, G]
      : u;
    const out = this.cell!.step(params, state, x, prepared, 0);
    return { y: out.y, state: out.state };
  }

  private memoryFor(n: number): State {
    if (!this.memory || Object.values(this.memory)[0].shape[0] !== n) {
      if (this.memory) tf.dispose(Object.values(this.memory));
      // Created lazily, possibly inside a tidy scope: keep it, it lives across iterations.
      this.memory = this.cell!.initialState(n) as State;
      for (const t of Object.values(this.memory)) tf.keep(t);
    }
    return this.memory;
  }

  /** Elementwise: advance the persisted recurrent state with s_T (detached). No-op for linear. */
  advance(sT: tf.Tensor2D): void {
    if (this.kind !== "elementwise") return;
    const [B, D] = sT.shape;
    const N = B * D;
    const p = this.parameters.tree as Record<string, never>;
    const next = tf.tidy(() => {
      const u = tf.add(tf.matMul(tf.reshape(sT, [N, 1]) as tf.Tensor2D, p.inputKernel as tf.Tensor2D), p.inputBias);
      const r = this.cellStep(u as tf.Tensor2D, this.memoryFor(N));
      const kept: State = {};
      // A state entry may be the caller's own tensor (passed through): copy so disposing the old memory is safe.
      for (const [k, v] of Object.entries(r.state)) kept[k] = v.clone();
      return kept;
    });
    if (this.memory) tf.dispose(Object.values(this.memory));
    this.memory = next;
  }

  /** Reset the persisted recurrent state (per epoch). */
  resetMemory(): void {
    if (this.memory) tf.dispose(Object.values(this.memory));
    this.memory = undefined;
  }

  /**
   * One synthesizer update towards `target` [B, D] at `s0` [B, D]; returns the loss
   * mean_b Σ_d (M(s0) − target)².
   */
  train(s0: tf.Tensor2D, target: tf.Tensor2D, rng?: Rng): number {
    const loss = this.trainOnDevice(s0, target, rng);
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  }

  /**
   * `train` without reading the loss back: returns it as a scalar tensor (the caller disposes it), to be
   * read with the rest of the step in one `await data()` (webgpu cannot read synchronously in Node).
   */
  trainOnDevice(s0: tf.Tensor2D, target: tf.Tensor2D, rng?: Rng): tf.Scalar {
    const B = s0.shape[0];
    const { loss, grads } = computeGradients(
      () => tf.div(tf.sum(tf.square(tf.sub(this.predict(s0, true, rng), target))), B) as tf.Scalar,
      this.parameters.variables,
    );
    this.optimizer.step(grads, this.learningRate);
    disposeNamed(grads);
    return loss;
  }

  exportState(): { meta: { optimizer: OptimizerState["meta"]; memoryKeys: string[] }; tensors: Record<string, SerializedTensor> } {
    const opt = this.optimizer.exportState();
    const tensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of Object.entries(serializeNamed(this.parameters.variables))) tensors[`param/${k}`] = v;
    for (const [k, v] of Object.entries(opt.tensors)) tensors[`opt/${k}`] = v;
    const memoryKeys = this.memory ? Object.keys(this.memory) : [];
    if (this.memory) for (const [k, v] of Object.entries(serializeNamed(this.memory))) tensors[`memory/${k}`] = v;
    return { meta: { optimizer: opt.meta, memoryKeys }, tensors };
  }

  importState(state: { meta: { optimizer: OptimizerState["meta"]; memoryKeys: string[] }; tensors: Record<string, SerializedTensor> }): void {
    const opt: OptimizerState = { meta: state.meta.optimizer, tensors: {} };
    for (const [k, v] of Object.entries(state.tensors)) {
      if (k.startsWith("param/")) {
        const t = deserializeTensor(v);
        this.parameters.variables[k.slice(6)].assign(t);
        t.dispose();
      } else if (k.startsWith("opt/")) opt.tensors[k.slice(4)] = v;
    }
    this.optimizer.importState(opt);
    this.resetMemory();
    if (state.meta.memoryKeys.length) {
      const m: Record<string, tf.Tensor> = {};
      for (const k of state.meta.memoryKeys) m[k] = deserializeTensor(state.tensors[`memory/${k}`]);
      this.memory = m as State;
    }
  }

  dispose(): void {
    this.resetMemory();
    this.optimizer.dispose();
    this.parameters.dispose();
  }
}
