/**
 * Language-model evaluation (`evaluateLanguageModel`, AWD-LSTM's `evaluate`; see ./lm.ts' header): the
 * split is batchified into `evaluationBatchSize` columns, the state starts at zero and is carried across
 * the fixed bptt windows of the whole pass; the result is the token-weighted mean NLL and the largest |h|
 * or |c| at any window boundary. One pass is written once (`passes`) and driven two ways: synchronously
 * (`evaluateLanguageModel`, for tests and tools on cpu/wasm) and with one `await data()` per window
 * (`evaluateLanguageModelAsync`, what the trainer uses: no synchronous read on any training path).
 */
import { tf } from "@rnnlab/core";
import type { GateTracer } from "@rnnlab/cells";
import { LossAccumulator, perplexity, bitsPerCharacter } from "@rnnlab/metrics";
import type { LanguageModel, LanguageModelParams } from "./model";
import { windowTensors, type BatchedStream } from "./batching";
import { CARRIED, carryStates, disposeStates } from "./lm-step";

export interface EvaluationMetrics {
  loss: number;
  perplexity: number;
  bitsPerCharacter?: number;
  tokens: number;
  /** Largest |h| or |c| of the carried state at any window boundary of the pass (see ./lm.ts' header). */
  maxCarriedState: number;
}

export interface EvaluationOptions {
  characterLevel?: boolean;
  tracer?: GateTracer;
}

/** One pass; yields each window's [loss, |state| maxima] tensor and receives its values (the driver reads, the pass disposes). */
function* passes(model: LanguageModel, params: LanguageModelParams, stream: BatchedStream, bptt: number, options: EvaluationOptions): Generator<tf.Tensor, EvaluationMetrics, ArrayLike<number>> {
  const acc = new LossAccumulator();
  let maxCarriedState = 0;
  let states = model.initialStates(stream.batch);
  try {
    for (let row = 0; row < stream.rows - 1; row += bptt) {
      const w = windowTensors(stream, row, bptt);
      const out = tf.tidy(() => {
        const r = model.forward(params, w.inputs, w.targets, states, { training: false, tracer: options.tracer });
        const next = carryStates(model, r.states, stream.batch);
        const magnitudes = next.flatMap((s) => CARRIED.filter((k) => s[k]).map((k) => tf.max(tf.abs(s[k]))));
        return { values: tf.stack([r.loss, ...magnitudes]), states: next }; // [1 + carried entries]
      });
      disposeStates(states);
      states = out.states;
      tf.dispose([w.inputs, w.targets]);
      let values: ArrayLike<number>;
      try {
        values = yield out.values;
      } finally {
        out.values.dispose();
      }
      acc.add(values[0], w.length * stream.batch);
      for (let i = 1; i < values.length; i++) maxCarriedState = Math.max(maxCarriedState, values[i]);
    }
  } finally {
    disposeStates(states);
  }
  const loss = acc.meanLoss();
  return { loss, perplexity: perplexity(loss), bitsPerCharacter: options.characterLevel ? bitsPerCharacter(loss) : undefined, tokens: acc.count, maxCarriedState };
}

/**
 * One evaluation pass over a batched split: state from zero, carried across fixed `bptt` windows, the
 * token-weighted mean NLL. Depends only on its arguments (see ./lm.ts' header).
 */
export function evaluateLanguageModel(model: LanguageModel, params: LanguageModelParams, stream: BatchedStream, bptt: number, options: EvaluationOptions = {}): EvaluationMetrics {
  const pass = passes(model, params, stream, bptt, options);
  let r = pass.next();
  try {
    while (!r.done) r = pass.next(r.value.dataSync());
  } catch (e) {
    pass.throw(e); // runs the pass' cleanup, then rethrows
  }
  return r.value as EvaluationMetrics;
}

/** `evaluateLanguageModel` with asynchronous reads (the same numbers). */
export async function evaluateLanguageModelAsync(model: LanguageModel, params: LanguageModelParams, stream: BatchedStream, bptt: number, options: EvaluationOptions = {}): Promise<EvaluationMetrics> {
  const pass = passes(model, params, stream, bptt, options);
  let r = pass.next();
  try {
    while (!r.done) r = pass.next(await r.value.data());
  } catch (e) {
    pass.throw(e); // runs the pass' cleanup, then rethrows
  }
  return r.value as EvaluationMetrics;
}
