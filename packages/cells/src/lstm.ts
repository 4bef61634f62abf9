/**
 * LSTM (Hochreiter & Schmidhuber 1997; the PyTorch nn.LSTM form), row-vector convention:
 *   [a_i a_f a_g a_o] = x_t W + h_{t−1} U + b                      W: inputKernel [I,4H], U: recurrentKernel [H,4H]
 *   i = gate(a_i)   f = gate(a_f)   g = tanh(a_g)   o = σ(a_o)      gate = σ | sharpened | Gumbel (./gates.ts)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g
 *   h_t = o ⊙ tanh(c_t)
 *
 * With normalization (Ba et al. 2016 LN-LSTM, docs/papers/baselines.md; ATN, docs/papers/atn.md), N = LN or ATN, one per site:
 *   [a_i a_f a_g a_o] = N_h(h_{t−1} U) + N_x(x_t W) + b   (each 4H vector normalised jointly)
 *   h_t = o ⊙ tanh(N_c(c_t))
 * DEVIATION (ATN): the reference code normalises (U h + b_h) and (W x + b_x) with separate biases
 * inside the norm; we follow Ba et al. (one bias b after the norms). The norm's β makes them equivalent
 * up to the per-example mean of the bias.
 *
 * Gate order i, f, g, o is PyTorch's (LSTM_GATES). The input projection x_t W + b for all steps is one
 * matMul (`project`); each step does one fused [B,H]x[H,4H] matMul. Without normalisation, scan runs the
 * whole recurrence through `sequence` (./fast/lstm-sequence.ts: hand-written BPTT, native kernels under
 * wasm+blas); `step` stays the readable reference (scan option `fused: false`), held equal by tests.
 * Initialisation: kernels U(−1/√H, 1/√H); biases 0 except the forget block = forgetBias (default 1).
 */
import { tf, type Rng } from "@rnnlab/core";
import type { Cell, CellContext, State } from "./types";
import { controlGate, fastGateScales, gumbelGateNoise, resolveGateConfig, splitGates, type GateConfig } from "./gates";
import { lstmRecurrence, lstmRecurrenceIsNative } from "./fast/lstm-sequence";
import { normLstmRecurrence } from "./fast/norm-lstm-sequence";
import { resolveDropoutConfig, prepareInputDropout, projectInput, type DropoutConfig, type InputDropoutPrepared } from "./dropout";
import { resolveRecurrenceConfig, prepareRecurrentKernel, type RecurrenceConfig } from "./recurrence";
import { assortedTimeNorm, layerNorm, resolveNormalizationConfig, type NormalizationConfig, type NormWindow } from "./norms";
import { blockVector, identityBlocks, orthogonalMatrix, uniformTensor } from "./init";
import { checkFinite, checkInteger, checkOptions } from "./validate";
import type { GateTracer } from "./tracing";

export interface LstmOptions {
  inputSize: number;
  hiddenSize: number;
  /** Initial forget-gate bias; default 1. */
  forgetBias?: number;
  /** Gate function of i and f; default sigmoid. */
  gate?: GateConfig;
  /** Default dense. */
  recurrence?: RecurrenceConfig;
  /** Default none. */
  normalization?: NormalizationConfig;
  /** Dropout on this layer's input (applied inside the input projection); default none. */
  inputDropout?: DropoutConfig;
  /** "uniform" (default) or "identity" (U = [I I I I], the ATN paper's init). */
  recurrentInit?: "uniform" | "identity";
  /** "uniform" (default) or "orthogonal" (W orthogonal, drawn from rng.fork("inputKernel"): the ATN authors' init). */
  inputInit?: "uniform" | "orthogonal";
}

const LSTM_OPTION_KEYS = ["inputSize", "hiddenSize", "forgetBias", "gate", "recurrence", "normalization", "inputDropout", "recurrentInit", "inputInit"];

export type LstmParams = {
  inputKernel: tf.Tensor2D;
  recurrentKernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  inputNormGain?: tf.Tensor1D;
  inputNormBias?: tf.Tensor1D;
  recurrentNormGain?: tf.Tensor1D;
  recurrentNormBias?: tf.Tensor1D;
  cellNormGain?: tf.Tensor1D;
  cellNormBias?: tf.Tensor1D;
};

/** {h, c}; with ATN also the windows (see ./norms.ts) and atnCount. */
export type LstmState = State & { h: tf.Tensor2D; c: tf.Tensor2D };

export interface LstmPrepared {
  training: boolean;
  recurrentKernel: tf.Tensor2D;
  input: InputDropoutPrepared;
  gateRng?: Rng;
  tracer?: GateTracer;
  layerName: string;
}

export interface LstmCell extends Cell<LstmParams, LstmState, LstmPrepared> {
  readonly options: Readonly<Required<Omit<LstmOptions, "gate" | "recurrence" | "normalization" | "inputDropout">>> & {
    gate: GateConfig;
    recurrence: RecurrenceConfig;
    normalization: NormalizationConfig;
    inputDropout: DropoutConfig;
  };
}

const ATN_SITES = ["Recurrent", "Input", "Cell"] as const;

export function createLstm(options: LstmOptions): LstmCell {
  const where = "createLstm";
  checkOptions(where, options, LSTM_OPTION_KEYS);
  checkInteger(where, "inputSize", options.inputSize, 1);
  checkInteger(where, "hiddenSize", options.hiddenSize, 1);
  const forgetBias = options.forgetBias ?? 1;
  checkFinite(where, "forgetBias", forgetBias);
  const recurrentInit = options.recurrentInit ?? "uniform";
  if (recurrentInit !== "uniform" && recurrentInit !== "identity") {
    throw new Error(`${where}: option "recurrentInit" must be "uniform" or "identity", got ${JSON.stringify(recurrentInit)}.`);
  }
  const inputInit = options.inputInit ?? "uniform";
  if (inputInit !== "uniform" && inputInit !== "orthogonal") {
    throw new Error(`${where}: option "inputInit" must be "uniform" or "orthogonal", got ${JSON.stringify(inputInit)}.`);
  }
  const resolved = Object.freeze({
    inputSize: options.inputSize,
    hiddenSize: options.hiddenSize,
    forgetBias,
    recurrentInit,
    inputInit,
    gate: resolveGateConfig(where, options.gate),
    recurrence: resolveRecurrenceConfig(where, options.recurrence),
    normalization: resolveNormalizationConfig(where, options.normalization),
    inputDropout: resolveDropoutConfig(where, "inputDropout", options.inputDropout),
  });
  const H = resolved.hiddenSize;
  const I = resolved.inputSize;
  const norm = resolved.normalization;
  const normalized = norm.kind !== "none";
  // Window length k−1 of past sums kept in state; k = 1 (or LN) keeps none.
  const past = norm.kind === "assortedTime" ? norm.window - 1 : 0;

  const cell: LstmCell = {
    kind: "lstm",
    inputSize: I,
    hiddenSize: H,
    outputSize: H,
    options: resolved,

    init(rng: Rng): LstmParams {
      const limit = 1 / Math.sqrt(H);
      const params: LstmParams = {
        inputKernel:
          inputInit === "orthogonal"
            ? tf.tensor2d(orthogonalMatrix(I, 4 * H, rng.fork("inputKernel")), [I, 4 * H])
            : (uniformTensor([I, 4 * H], limit, rng) as tf.Tensor2D),
        recurrentKernel: recurrentInit === "identity" ? identityBlocks(H, 4) : (uniformTensor([H, 4 * H], limit, rng) as tf.Tensor2D),
        bias: blockVector(4 * H, 1, H, forgetBias), // forget block = LSTM_GATES index 1
      };
      if (normalized) {
        params.inputNormGain = tf.ones([4 * H]);
        params.inputNormBias = tf.zeros([4 * H]);
        params.recurrentNormGain = tf.ones([4 * H]);
        params.recurrentNormBias = tf.zeros([4 * H]);
        params.cellNormGain = tf.ones([H]);
        params.cellNormBias = tf.zeros([H]);
      }
      return params;
    },

    initialState(batchSize: number): LstmState {
      checkInteger("LSTM initialState", "batchSize", batchSize, 1);
      const state: LstmState = { h: tf.zeros([batchSize, H]), c: tf.zeros([batchSize, H]) };
      if (past > 0) {
        state.atnCount = tf.zeros([batchSize, 1]);
        for (const site of ATN_SITES) {
          state[`atn${site}Sum`] = tf.zeros([batchSize, past]);
          state[`atn${site}Squares`] = tf.zeros([batchSize, past]);
        }
      }
      return state;
    },

    prepare(params: LstmParams, context: CellContext): LstmPrepared {
      const { training, rng } = context;
      return {
        training,
        input: prepareInputDropout(resolved.inputDropout, training, rng, context.steps, context.batchSize, I, "LSTM inputDropout"),
        recurrentKernel: prepareRecurrentKernel(resolved.recurrence, params.recurrentKernel, training, rng, "LSTM weightDrop"),
        gateRng: training && resolved.gate.kind === "gumbel" ? rng : undefined,
        tracer: context.tracer,
        layerName: context.layerName,
      };
    },

    project(params: LstmParams, xs: tf.Tensor3D, prepared: LstmPrepared): tf.Tensor3D {
      // With normalisation the bias is added after the norms (step), so project x·W only.
      return projectInput(xs, params.inputKernel, normalized ? undefined : params.bias, prepared.input); // [T, B, 4H]
    },

    sequence(params: LstmParams, projected: tf.Tensor3D, state: LstmState, prepared: LstmPrepared, mask?: Float32Array) {
      // The fused recurrences: ./fast/norm-lstm-sequence.ts with normalisation (sigmoid gates, no lengths,
      // native kernels only); ./fast/lstm-sequence.ts otherwise (every gate, weight drop; lengths natively).
      if (normalized) {
        if (mask || resolved.gate.kind !== "sigmoid") return undefined;
        const windows = past > 0
          ? {
              recurrentSum: state.atnRecurrentSum, recurrentSquares: state.atnRecurrentSquares, inputSum: state.atnInputSum,
              inputSquares: state.atnInputSquares, cellSum: state.atnCellSum, cellSquares: state.atnCellSquares, count: state.atnCount,
            }
          : undefined;
        const p = params as Required<LstmParams>;
        const r = normLstmRecurrence(
          {
            recurrentKernel: prepared.recurrentKernel, recurrentNormGain: p.recurrentNormGain, recurrentNormBias: p.recurrentNormBias,
            inputNormGain: p.inputNormGain, inputNormBias: p.inputNormBias, bias: p.bias, cellNormGain: p.cellNormGain, cellNormBias: p.cellNormBias,
          },
          projected, state.h, state.c, past, windows,
        );
        if (!r) return undefined;
        const next: LstmState = { h: r.h, c: r.c };
        if (r.windows) {
          const w = r.windows;
          Object.assign(next, {
            atnRecurrentSum: w.recurrentSum, atnRecurrentSquares: w.recurrentSquares, atnInputSum: w.inputSum, atnInputSquares: w.inputSquares,
            atnCellSum: w.cellSum, atnCellSquares: w.cellSquares, atnCount: w.count,
          });
        }
        return { ys: r.ys, state: next };
      }
      if (mask && !lstmRecurrenceIsNative()) return undefined;
      const scales = fastGateScales(resolved.gate, prepared.training);
      if (!scales) return undefined; // Gumbel's "hard" evaluation
      const [T, B] = projected.shape;
      const input = scales.noise ? (tf.add(projected, gumbelGateNoise(resolved.gate, T, B, H, prepared.gateRng!)) as tf.Tensor3D) : projected;
      const r = lstmRecurrence(prepared.recurrentKernel, input, { h: state.h, c: state.c }, scales, mask);
      return { ys: r.ys, state: { h: r.state.h, c: r.state.c } as LstmState };
    },

    step(params: LstmParams, state: LstmState, x: tf.Tensor2D, prepared: LstmPrepared): { state: LstmState; y: tf.Tensor2D } {
      const recurrent = tf.matMul(state.h, prepared.recurrentKernel) as tf.Tensor2D; // [B, 4H]
      const next: LstmState = { h: state.h, c: state.c };
      let preActivation: tf.Tensor2D;
      let cellNorm: (c: tf.Tensor2D) => tf.Tensor2D = (c) => c;
      if (!normalized) {
        preActivation = tf.add(x, recurrent) as tf.Tensor2D; // [B, 4H]
      } else if (past === 0) {
        preActivation = tf.add(
          tf.add(layerNorm(recurrent, params.recurrentNormGain!, params.recurrentNormBias!), layerNorm(x, params.inputNormGain!, params.inputNormBias!)),
          params.bias,
        ) as tf.Tensor2D;
        cellNorm = (c) => layerNorm(c, params.cellNormGain!, params.cellNormBias!);
      } else {
        const count = state.atnCount;
        const site = (name: (typeof ATN_SITES)[number], a: tf.Tensor2D, gain: tf.Tensor, bias: tf.Tensor) => {
          const window: NormWindow = { sum: state[`atn${name}Sum`], squares: state[`atn${name}Squares`] };
          const out = assortedTimeNorm(a, gain, bias, window, count);
          next[`atn${name}Sum`] = out.window.sum;
          next[`atn${name}Squares`] = out.window.squares;
          return out.normalized;
        };
        preActivation = tf.add(
          tf.add(site("Recurrent", recurrent, params.recurrentNormGain!, params.recurrentNormBias!), site("Input", x, params.inputNormGain!, params.inputNormBias!)),
          params.bias,
        ) as tf.Tensor2D;
        cellNorm = (c) => site("Cell", c, params.cellNormGain!, params.cellNormBias!);
        next.atnCount = tf.add(count, 1);
      }
      const [ai, af, ag, ao] = splitGates(preActivation, 4); // 4 x [B, H], LSTM_GATES order
      const i = controlGate(resolved.gate, ai, prepared.training, prepared.gateRng);
      const f = controlGate(resolved.gate, af, prepared.training, prepared.gateRng);
      const g = tf.tanh(ag);
      const o = tf.sigmoid(ao);
      const c = tf.add(tf.mul(f, state.c), tf.mul(i, g)) as tf.Tensor2D;
      const h = tf.mul(o, tf.tanh(cellNorm(c))) as tf.Tensor2D;
      if (prepared.tracer) {
        const { tracer, layerName } = prepared;
        tracer.record(layerName, "i", i);
        tracer.record(layerName, "f", f);
        tracer.record(layerName, "g", g);
        tracer.record(layerName, "o", o);
      }
      next.h = h;
      next.c = c;
      return { state: next, y: h };
    },
  };
  return cell;
}
