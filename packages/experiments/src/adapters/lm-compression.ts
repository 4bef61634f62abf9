/**
 * G2-LSTM's compression table for language models (docs/papers/g2-lstm.md, authors' pointer.py / test-model.py):
 * after training, with no retraining, replace the input and forget gate blocks of every layer's input
 * and recurrent kernels by
 *   Round:        w ← r·round(w/r)
 *   Round & Clip: w ← r·round(clip(w, −2r, 2r)/r)      (5 levels)
 *   SVD:          the rank-k truncated SVD of each gate block
 * and report the test perplexity of each compressed model next to the uncompressed one.
 *
 * The trained parameters come from selected.rnnlab in the run directory (the parameters the trainer's `final`
 * reports: best validation by default, see its `modelSelection`). The model is
 * rebuilt with the trained architecture minus dropout, so evaluation gates are exactly the trainer's
 * (plain σ for G2; the cells keep σ(a/τ) for the sharpened arm) and "uncompressed" equals the trainer's
 * test perplexity (the smoke test checks this).
 */
import { Rng, tf } from "@rnnlab/core";
import { compressGateBlocks, type CompressionSpec } from "@rnnlab/metrics";
import {
  batchifyTokens,
  deserializeTensor,
  evaluateLanguageModel,
  flattenParams,
  LanguageModel,
  pickArchitecture,
  unflattenLike,
  type CheckpointData,
  type LanguageModelArchitecture,
  type LanguageModelParams,
} from "@rnnlab/train";

export interface LanguageModelCompressionSection {
  /** Grid steps r for Round and for Round & Clip (empty: skip both). */
  roundSteps: number[];
  /** SVD ranks as divisors of the layer width: rank = width / d (e.g. 4 → H/4). Empty: skip. */
  svdRankDivisors: number[];
}

/** Mean-NLL perplexity of `params` on `tokens`: the trainer's own evaluation pass (state carried across windows). */
export function languageModelPerplexity(model: LanguageModel, params: LanguageModelParams, tokens: ArrayLike<number>, batchSize: number, bptt: number): number {
  return evaluateLanguageModel(model, params, batchifyTokens(tokens, batchSize, "test tokens"), bptt).perplexity;
}

/**
 * The trained model from a trainer checkpoint: the architecture minus dropout (evaluation only) and the
 * parameters as fresh tensors; the caller disposes them with `dispose()`.
 */
export function languageModelFromCheckpoint(
  architectureConfig: LanguageModelArchitecture,
  checkpoint: CheckpointData,
): { model: LanguageModel; params: LanguageModelParams; dispose: () => void } {
  const model = new LanguageModel(pickArchitecture(architectureConfig, ["dropout"]));
  const template = model.init(new Rng(0));
  const flat: Record<string, tf.Tensor> = {};
  try {
    for (const key of Object.keys(flattenParams(template))) {
      const stored = checkpoint.tensors[`param/${key}`];
      if (!stored) throw new Error(`the final checkpoint has no parameter "${key}"`);
      flat[key] = deserializeTensor(stored);
    }
  } catch (e) {
    tf.dispose(Object.values(flat));
    throw e;
  } finally {
    tf.dispose(template);
  }
  const params = unflattenLike(template, flat);
  return { model, params, dispose: () => tf.dispose(Object.values(flat)) };
}

/** Test perplexity uncompressed and under each compression; keys like `compressedRound0.1`. */
export function languageModelCompressionTable(args: {
  architecture: LanguageModelArchitecture;
  checkpoint: CheckpointData;
  tokens: ArrayLike<number>;
  batchSize: number;
  bptt: number;
  compression: LanguageModelCompressionSection;
}): Record<string, number> {
  const { model, params, dispose } = languageModelFromCheckpoint(args.architecture, args.checkpoint);
  const width = Math.min(...model.layerSizes);
  const specs: [string, CompressionSpec | undefined][] = [["uncompressed", undefined]];
  for (const r of args.compression.roundSteps) {
    specs.push([`round${r}`, { method: "round", parameter: r }]);
    specs.push([`roundAndClip${r}`, { method: "roundAndClip", parameter: r }]);
  }
  for (const d of args.compression.svdRankDivisors) specs.push([`svdRank${Math.max(1, Math.floor(width / d))}`, { method: "svd", parameter: Math.max(1, Math.floor(width / d)) }]);
  const out: Record<string, number> = {};
  try {
    for (const [name, spec] of specs) {
      if (!spec) {
        out[name] = languageModelPerplexity(model, params, args.tokens, args.batchSize, args.bptt);
        continue;
      }
      const compressed = compressGateBlocks(params, spec);
      try {
        out[name] = languageModelPerplexity(model, compressed.params, args.tokens, args.batchSize, args.bptt);
      } finally {
        tf.dispose(compressed.params);
      }
    }
  } finally {
    dispose();
  }
  return out;
}
