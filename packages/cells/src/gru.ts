/**
 * GRU (Cho et al. 2014), exactly PyTorch's nn.GRU, row-vector convention:
 *   [x_r x_z x_n] = x_t W + b            W: inputKernel [I,3H], b: bias [3H] (PyTorch b_ih)
 *   [h_r h_z h_n] = h_{t−1} U + b_h      U: recurrentKernel [H,3H], b_h: recurrentBias [3H] (PyTorch b_hh)
 *   r = σ(x_r + h_r)    z = σ(x_z + h_z)
 *   n = tanh(x_n + r ⊙ h_n)              (b_hn sits inside r ⊙ (...), as in PyTorch / cuDNN)
 *   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 * Gate order r, z, n (GRU_GATES). Initialisation: every weight and bias U(−1/√H, 1/√H) (PyTorch).
 */
import { tf, type Rng } from "@rnnlab/core";
import type { Cell, CellContext, State } from "./types";
import { splitGates } from "./gates";
import { resolveDropoutConfig, prepareInputDropout, projectInput, type DropoutConfig, type InputDropoutPrepared } from "./dropout";
import { resolveRecurrenceConfig, prepareRecurrentKernel, type RecurrenceConfig } from "./recurrence";
import { uniformTensor } from "./init";
import { gruRecurrence } from "./fast/gru-sequence";
import { checkInteger, checkOptions } from "./validate";
import type { GateTracer } from "./tracing";

export interface GruOptions {
  inputSize: number;
  hiddenSize: number;
  /** Default dense. */
  recurrence?: RecurrenceConfig;
  /** Dropout on this layer's input (inside the input projection); default none. */
  inputDropout?: DropoutConfig;
}

export type GruParams = {
  inputKernel: tf.Tensor2D;
  recurrentKernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  recurrentBias: tf.Tensor1D;
};

export type GruState = State & { h: tf.Tensor2D };

export interface GruPrepared {
  recurrentKernel: tf.Tensor2D;
  input: InputDropoutPrepared;
  tracer?: GateTracer;
  layerName: string;
}

export interface GruCell extends Cell<GruParams, GruState, GruPrepared> {
  readonly options: Readonly<{ inputSize: number; hiddenSize: number; recurrence: RecurrenceConfig; inputDropout: DropoutConfig }>;
}

export function createGru(options: GruOptions): GruCell {
  const where = "createGru";
  checkOptions(where, options, ["inputSize", "hiddenSize", "recurrence", "inputDropout"]);
  checkInteger(where, "inputSize", options.inputSize, 1);
  checkInteger(where, "hiddenSize", options.hiddenSize, 1);
  const resolved = Object.freeze({
    inputSize: options.inputSize,
    hiddenSize: options.hiddenSize,
    recurrence: resolveRecurrenceConfig(where, options.recurrence),
    inputDropout: resolveDropoutConfig(where, "inputDropout", options.inputDropout),
  });
  const H = resolved.hiddenSize;
  const I = resolved.inputSize;
  return {
    kind: "gru",
    inputSize: I,
    hiddenSize: H,
    outputSize: H,
    options: resolved,

    init(rng: Rng): GruParams {
      const limit = 1 / Math.sqrt(H);
      return {
        inputKernel: uniformTensor([I, 3 * H], limit, rng) as tf.Tensor2D,
        recurrentKernel: uniformTensor([H, 3 * H], limit, rng) as tf.Tensor2D,
        bias: uniformTensor([3 * H], limit, rng) as tf.Tensor1D,
        recurrentBias: uniformTensor([3 * H], limit, rng) as tf.Tensor1D,
      };
    },

    initialState(batchSize: number): GruState {
      checkInteger("GRU initialState", "batchSize", batchSize, 1);
      return { h: tf.zeros([batchSize, H]) };
    },

    prepare(params: GruParams, context: CellContext): GruPrepared {
      return {
        input: prepareInputDropout(resolved.inputDropout, context.training, context.rng, context.steps, context.batchSize, I, "GRU inputDropout"),
        recurrentKernel: prepareRecurrentKernel(resolved.recurrence, params.recurrentKernel, context.training, context.rng, "GRU weightDrop"),
        tracer: context.tracer,
        layerName: context.layerName,
      };
    },

    project(params: GruParams, xs: tf.Tensor3D, prepared: GruPrepared): tf.Tensor3D {
      return projectInput(xs, params.inputKernel, params.bias, prepared.input); // [T, B, 3H]
    },

    sequence(params: GruParams, projected: tf.Tensor3D, state: GruState, prepared: GruPrepared, mask?: Float32Array) {
      if (mask) return undefined; // lengths: the native kernel has no mask yet; scan steps
      // The fused recurrence (./fast/gru-sequence.ts), where the backend has its native kernels.
      const r = gruRecurrence(prepared.recurrentKernel, params.recurrentBias, projected, state.h);
      return r && { ys: r.ys, state: { h: r.h } as GruState };
    },

    step(params: GruParams, state: GruState, x: tf.Tensor2D, prepared: GruPrepared) {
      const recurrent = tf.add(tf.matMul(state.h, prepared.recurrentKernel), params.recurrentBias) as tf.Tensor2D; // [B, 3H]
      const [xr, xz, xn] = splitGates(x, 3); // 3 x [B, H]
      const [hr, hz, hn] = splitGates(recurrent, 3);
      const r = tf.sigmoid(tf.add(xr, hr));
      const z = tf.sigmoid(tf.add(xz, hz));
      const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
      const h = tf.add(n, tf.mul(z, tf.sub(state.h, n))) as tf.Tensor2D; // (1−z)⊙n + z⊙h
      if (prepared.tracer) {
        prepared.tracer.record(prepared.layerName, "r", r);
        prepared.tracer.record(prepared.layerName, "z", z);
      }
      return { state: { h } as GruState, y: h };
    },
  };
}
