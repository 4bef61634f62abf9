/**
 * scoRNN (Helfrich, Willmott & Ye 2018, "Orthogonal Recurrent Neural Networks with Scaled Cayley Transform";
 * the NC-GRU paper's orthogonal baseline, docs/papers/nc-gru.md): a plain RNN with a modReLU activation and a
 * Cayley-orthogonal recurrent matrix. Row-vector convention:
 *   p = x_t W + h U                        h_t = sign(p) ⊙ ReLU(|p| + b)    (modReLU)
 *   U = (I + A)⁻¹ (I − A) D                A skew-symmetric (trained), D = diag(±1) with ρ entries −1 (fixed)
 * Params: inputKernel [I,H] = W, orthogonalRecurrentKernel [H,H] = U, modReluBias [H] = b. No other bias
 * (the scoRNN code's cell has none).
 * Initialisation as in the scoRNN code (scoRNN.py scoRNNCell): W ~ U(−0.01, 0.01), b = 0, A the scoRNN
 * init (θ ~ U(0, π/2) on the first superdiagonal; cells' OrthogonalRecurrence.create), D with the last ρ entries −1.
 * U is maintained exactly like NC-GRU's U_c: one OrthogonalRecurrence (./orthogonal.ts) per matrix, owned during
 * training by train's OrthogonalUpdater (it finds "orthogonalRecurrentKernel" by name, excludes it from the main
 * optimiser and steps its A).
 * Fused sequence: `sequence` runs the whole recurrence in the native kernels (./fast/scornn-sequence.ts) where the
 * backend has them; without them, or with scan's `lengths` (the kernels have no mask, as NC-GRU's), scan steps.
 */
import { tf, type Rng } from "@rnnlab/core";
import type { Cell, CellContext, State } from "./types";
import { resolveDropoutConfig, prepareInputDropout, projectInput, type DropoutConfig, type InputDropoutPrepared } from "./dropout";
import { uniformTensor } from "./init";
import { OrthogonalRecurrence } from "./orthogonal";
import { scornnRecurrence } from "./fast/scornn-sequence";
import { checkInteger, checkOptions } from "./validate";

export interface ScoRnnOptions {
  inputSize: number;
  hiddenSize: number;
  /** ρ: number of −1 entries of D; default floor(0.4·hiddenSize), as NC-GRU. */
  negativeOnes?: number;
  inputDropout?: DropoutConfig;
}

export type ScoRnnParams = {
  inputKernel: tf.Tensor2D;
  orthogonalRecurrentKernel: tf.Tensor2D;
  modReluBias: tf.Tensor1D;
};

export type ScoRnnState = State & { h: tf.Tensor2D };

export interface ScoRnnPrepared {
  input: InputDropoutPrepared;
}

export interface ScoRnnCell extends Cell<ScoRnnParams, ScoRnnState, ScoRnnPrepared> {
  readonly options: Readonly<{ inputSize: number; hiddenSize: number; negativeOnes: number; inputDropout: DropoutConfig }>;
  /** Parameters plus the OrthogonalRecurrence that produced orthogonalRecurrentKernel. */
  initWithOrthogonal(rng: Rng): { params: ScoRnnParams; orthogonal: OrthogonalRecurrence };
}

/** The scoRNN code's input-matrix init range (scoRNN.py: random_uniform_initializer(-0.01, 0.01)). */
const INPUT_INIT_LIMIT = 0.01;

export function createScoRnn(options: ScoRnnOptions): ScoRnnCell {
  const where = "createScoRnn";
  checkOptions(where, options, ["inputSize", "hiddenSize", "negativeOnes", "inputDropout"]);
  checkInteger(where, "inputSize", options.inputSize, 1);
  checkInteger(where, "hiddenSize", options.hiddenSize, 1);
  const H = options.hiddenSize;
  const I = options.inputSize;
  const negativeOnes = options.negativeOnes ?? Math.floor(0.4 * H);
  checkInteger(where, "negativeOnes", negativeOnes, 0);
  if (negativeOnes > H) throw new Error(`${where}: option "negativeOnes" must be in [0, hiddenSize=${H}], got ${negativeOnes}.`);
  const resolved = Object.freeze({ inputSize: I, hiddenSize: H, negativeOnes, inputDropout: resolveDropoutConfig(where, "inputDropout", options.inputDropout) });

  const initWithOrthogonal = (rng: Rng) => {
    const orthogonal = OrthogonalRecurrence.create(H, negativeOnes, rng.fork("orthogonal"));
    const params: ScoRnnParams = {
      inputKernel: uniformTensor([I, H], INPUT_INIT_LIMIT, rng) as tf.Tensor2D,
      orthogonalRecurrentKernel: orthogonal.toTensor(),
      modReluBias: tf.zeros([H]),
    };
    return { params, orthogonal };
  };

  return {
    kind: "scornn",
    inputSize: I,
    hiddenSize: H,
    outputSize: H,
    options: resolved,
    initWithOrthogonal,
    init: (rng: Rng) => initWithOrthogonal(rng).params,

    initialState(batchSize: number): ScoRnnState {
      checkInteger("scoRNN initialState", "batchSize", batchSize, 1);
      return { h: tf.zeros([batchSize, H]) };
    },

    prepare(_params: ScoRnnParams, context: CellContext): ScoRnnPrepared {
      return { input: prepareInputDropout(resolved.inputDropout, context.training, context.rng, context.steps, context.batchSize, I, "scoRNN inputDropout") };
    },

    project(params: ScoRnnParams, xs: tf.Tensor3D, prepared: ScoRnnPrepared): tf.Tensor3D {
      return projectInput(xs, params.inputKernel, undefined, prepared.input); // [T, B, H]
    },

    sequence(params: ScoRnnParams, projected: tf.Tensor3D, state: ScoRnnState, _prepared: ScoRnnPrepared, mask?: Float32Array) {
      if (mask) return undefined; // lengths: the native kernel has no mask (as NC-GRU's); scan steps
      const r = scornnRecurrence(params.orthogonalRecurrentKernel, params.modReluBias, projected, state.h);
      return r && { ys: r.ys, state: { h: r.h } as ScoRnnState };
    },

    step(params: ScoRnnParams, state: ScoRnnState, x: tf.Tensor2D) {
      const p = tf.add(x, tf.matMul(state.h, params.orthogonalRecurrentKernel)); // [B, H]
      const h = tf.mul(tf.sign(p), tf.relu(tf.add(tf.abs(p), params.modReluBias))) as tf.Tensor2D;
      return { state: { h } as ScoRnnState, y: h };
    },
  };
}
