/**
 * Translation: training loop, evaluation (per-token loss and perplexity, corpus BLEU on detokenized
 * output) and decoding for the attentional encoder-decoder of ./seq2seq.ts.
 *
 *   step       θ ← opt(θ, clip(∇θ L_batch)),  L = mean cross-entropy over real target tokens (teacher forcing)
 *   evaluate   loss / perplexity = exp(loss) with the same token weighting; BLEU = sacreBLEU-compatible corpus
 *              BLEU (@rnnlab/metrics corpusBleu, 13a tokenizer by default) of detokenized hypotheses against
 *              detokenized references
 *
 * Evaluation functions take a parameter tree, so the compression table can evaluate a modified copy of the
 * parameters without touching the trained variables. The trainer emits step / eval / epoch / done events
 * and prints nothing. Randomness: parameter init from fork("init"), batch order from fork("batches:<epoch>"),
 * dropout and Gumbel noise from fork("step:<step>"), so a run is a function of (config, seed), and a resume
 * from a checkpoint (./seq2seq-trainer.ts) redraws exactly what an uninterrupted run would.
 *
 * Decoding: greedy (batched) or beam search per sentence (./beam.ts); length normalisation is chosen with
 * `lengthPenalty` (GNMT's ((5+n)/6)^α, or division by the length), default none (raw log-probability).
 */
import { tf, Rng } from "@rnnlab/core";
import type { GateTracer } from "@rnnlab/cells";
import { corpusBleu, type BleuOptions, type BleuScore } from "@rnnlab/metrics";
import {
  resolveTranslationConfig,
  initTranslationParams,
  padTranslationBatch,
  disposeTranslationTensors,
  translationLoss,
  encodeSource,
  disposeEncodeResult,
  createAttentionDecoderCell,
  type ResolvedTranslationConfig,
  type TranslationModelConfig,
  type TranslationTensors,
  type TranslationParams,
  type TokenIds,
  type AttentionMemory,
} from "./seq2seq";
import { beamSearch, greedyDecode, type DecodeStep, type DecoderState, type Hypothesis, type LengthPenalty } from "./beam";
import { createVariables, flattenParams, type VariableSet } from "./params";
import { runEpochTraining, type EpochTrainingOptions, type EpochTrainingResult } from "./seq2seq-training";

/** Parallel data as token ids: source[i] translates to target[i]. Ids exclude BOS/EOS. */
export interface ParallelIds {
  source: readonly TokenIds[];
  target: readonly TokenIds[];
  /** Detokenized reference translations for BLEU (default: `detokenize(target[i])`). */
  references?: readonly string[];
}

export interface DecodeOptions {
  /** Beam width; default 1. */
  beamSize?: number;
  /** "greedy" (batched argmax) or "beam"; default greedy when beamSize is 1, beam otherwise. */
  search?: "greedy" | "beam";
  /** Longest output in tokens, EOS included; default 2·(source length) + 10. */
  maxLength?: number | ((sourceLength: number) => number);
  /** Ranking of finished hypotheses in beam search; default {kind: "none"} (see ./beam.ts). */
  lengthPenalty?: LengthPenalty;
  /** Sentences encoded together; default 32. */
  batchSize?: number;
}

const defaultMaxLength = (sourceLength: number) => 2 * sourceLength + 10;

function maxLengthFor(options: DecodeOptions, sourceLength: number): number {
  const m = options.maxLength ?? defaultMaxLength;
  return typeof m === "function" ? m(sourceLength) : m;
}

/**
 * Translate token-id sentences with greedy search (beamSize 1) or beam search. Returns one best hypothesis
 * per source sentence. `tracer` records the decoder's gates during decoding (evaluation only).
 */
export function translate(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  sources: readonly TokenIds[],
  options: DecodeOptions & { tracer?: GateTracer } = {},
): Hypothesis[] {
  const beamSize = options.beamSize ?? 1;
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(beamSize) || beamSize < 1) throw new Error(`translate: option "beamSize" must be an integer >= 1, got ${beamSize}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`translate: option "batchSize" must be an integer >= 1, got ${batchSize}`);
  const search = options.search ?? (beamSize === 1 ? "greedy" : "beam");
  if (search !== "greedy" && search !== "beam") throw new Error(`translate: option "search" must be "greedy" or "beam", got ${JSON.stringify(search)}`);
  if (search === "greedy" && beamSize !== 1) throw new Error(`translate: search "greedy" needs beamSize 1, got ${beamSize}; use search "beam"`);
  const results: Hypothesis[] = [];
  for (let start = 0; start < sources.length; start += batchSize) {
    const chunk = sources.slice(start, start + batchSize);
    // Targets are irrelevant for decoding; padTranslationBatch needs some.
    const batch = padTranslationBatch(config, chunk, chunk.map(() => []));
    const encoded = encodeSource(config, params, batch.source, batch.sourceLengths, { tracer: options.tracer });
    try {
      if (search === "greedy") {
        const maxLengths = chunk.map((s) => maxLengthFor(options, s.length));
        const maxLength = Math.max(...maxLengths);
        results.push(
          ...decodeWith(config, params, encoded.memory, encoded.decoderState, chunk.length, maxLength, options.tracer, (step, state) =>
            greedyDecode(step, state, chunk.length, { beginToken: config.beginToken, endToken: config.endToken, maxLength: maxLengths }),
          ),
        );
      } else {
        chunk.forEach((sentence, b) => {
          const maxLength = maxLengthFor(options, sentence.length);
          const one = tf.tidy((): { memory: AttentionMemory; state: DecoderState } => {
            const index = tf.tensor1d([b], "int32");
            const memory = {
              values: tf.gather(encoded.memory.values, index),
              keys: tf.gather(encoded.memory.keys, index),
              maskBias: tf.gather(encoded.memory.maskBias, index),
            };
            const state: DecoderState = {};
            for (const [name, t] of Object.entries(encoded.decoderState)) state[name] = tf.gather(t, index);
            return { memory, state };
          });
          const tiled = tf.tidy(() => ({
            values: tf.tile(one.memory.values, [beamSize, 1, 1]),
            keys: tf.tile(one.memory.keys, [beamSize, 1, 1]),
            maskBias: tf.tile(one.memory.maskBias, [beamSize, 1]),
          })) as typeof encoded.memory;
          try {
            const best = decodeWith(config, params, tiled, one.state, beamSize, maxLength, options.tracer, (step, state) =>
              beamSearch(step, state, {
                beginToken: config.beginToken,
                endToken: config.endToken,
                maxLength,
                beamSize,
                lengthPenalty: options.lengthPenalty,
              }),
            );
            results.push(best[0]);
          } finally {
            for (const t of [one.memory.values, one.memory.keys, one.memory.maskBias, tiled.values, tiled.keys, tiled.maskBias, ...Object.values(one.state)]) t.dispose();
          }
        });
      }
    } finally {
      disposeEncodeResult(encoded);
      disposeTranslationTensors(batch);
    }
  }
  return results;
}

/**
 * Build the DecodeStep for k hypotheses over `memory` and run `search` with it. Everything the step
 * allocates per call is released by the search (it keeps only the new state).
 */
function decodeWith<T>(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  memory: ReturnType<typeof encodeSource>["memory"],
  initialState: DecoderState,
  hypotheses: number,
  maxLength: number,
  tracer: GateTracer | undefined,
  search: (step: DecodeStep, state: DecoderState) => T,
): T {
  const cell = createAttentionDecoderCell(config, memory);
  let result!: T;
  // One scope for the whole search: prepare()'s per-sequence constants (e.g. the concatenated first-layer
  // kernel) live until the search ends; the search disposes the states it replaces as it goes.
  tf.tidy(() => {
    const prepared = cell.prepare(params, { training: false, steps: maxLength, batchSize: hypotheses, tracer, layerName: "decoder" });
    let t = 0;
    const step: DecodeStep = (state, previousTokens) => {
      const embedded = tf.gather(params.targetEmbedding, previousTokens) as tf.Tensor2D; // [k, E]
      const out = cell.step(params, state, embedded, prepared, t++);
      const logits = tf.add(tf.matMul(out.y, params.output.kernel), params.output.bias) as tf.Tensor2D; // [k, Vt]
      return { logProbabilities: tf.logSoftmax(logits) as tf.Tensor2D, state: out.state };
    };
    result = search(step, initialState);
  });
  return result;
}

/**
 * Mean per-token loss and perplexity over a data set (teacher forcing, evaluation mode). A `tracer` here
 * also records padded positions; use traceTranslationGates for clean gate histograms.
 */
export function evaluateTranslationLoss(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  data: ParallelIds,
  options: { batchSize?: number; tracer?: GateTracer } = {},
): { loss: number; perplexity: number; tokens: number } {
  const batchSize = options.batchSize ?? 32;
  let total = 0;
  let tokens = 0;
  for (let start = 0; start < data.source.length; start += batchSize) {
    const batch = padTranslationBatch(config, data.source.slice(start, start + batchSize), data.target.slice(start, start + batchSize));
    try {
      const loss = translationLoss(config, params, batch, { tracer: options.tracer });
      const n = batch.targetLengths.reduce((a, b) => a + b, 0);
      total += loss.dataSync()[0] * n;
      tokens += n;
      loss.dispose();
    } finally {
      disposeTranslationTensors(batch);
    }
  }
  const loss = tokens > 0 ? total / tokens : NaN;
  return { loss, perplexity: Math.exp(loss), tokens };
}

/**
 * Record gate activations (GateTracer, layers "encoder.layer<l>" and "decoder.layer<l>") over a data set with
 * teacher forcing, counting real positions only: sentences are grouped by exact (source, target) length, so
 * no batch holds padding (padding steps would otherwise add gate values computed from pad embeddings).
 * Histograms of "decoder.layer0" gates i and f are the G2-LSTM figure. Returns the number of decoder steps traced.
 */
export function traceTranslationGates(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  data: ParallelIds,
  tracer: GateTracer,
  options: { batchSize?: number } = {},
): { decoderSteps: number; encoderSteps: number } {
  const batchSize = options.batchSize ?? 64;
  const groups = new Map<string, number[]>();
  data.source.forEach((s, i) => {
    const key = `${s.length}:${data.target[i].length}`;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  let decoderSteps = 0;
  let encoderSteps = 0;
  for (const indices of groups.values()) {
    for (let start = 0; start < indices.length; start += batchSize) {
      const chunk = indices.slice(start, start + batchSize);
      const batch = padTranslationBatch(config, chunk.map((i) => data.source[i]), chunk.map((i) => data.target[i]));
      try {
        tf.dispose(translationLoss(config, params, batch, { tracer }));
      } finally {
        disposeTranslationTensors(batch);
      }
      decoderSteps += chunk.length * (data.target[chunk[0]].length + 1);
      encoderSteps += chunk.length * data.source[chunk[0]].length;
    }
  }
  return { decoderSteps, encoderSteps };
}

export interface BleuEvaluation {
  bleu: BleuScore;
  /** Detokenized hypotheses, one per source sentence. */
  hypotheses: string[];
  /** The same, as token ids. */
  hypothesisIds: number[][];
}

/**
 * Corpus BLEU of decoded output. `detokenize` turns target ids into text (e.g. joining BPE pieces);
 * references default to detokenize(target[i]).
 */
export function evaluateTranslationBleu(
  config: ResolvedTranslationConfig,
  params: TranslationParams,
  data: ParallelIds,
  detokenize: (ids: TokenIds) => string,
  options: DecodeOptions & { bleu?: BleuOptions; tracer?: GateTracer } = {},
): BleuEvaluation {
  const { bleu: bleuOptions, ...decodeOptions } = options;
  const references = data.references ? [...data.references] : data.target.map((t) => detokenize(t));
  if (references.length !== data.source.length) {
    throw new Error(`evaluateTranslationBleu: ${references.length} references for ${data.source.length} source sentences; pass one reference per sentence`);
  }
  const decoded = translate(config, params, data.source, decodeOptions);
  const hypothesisIds = decoded.map((h) => h.tokens);
  const hypotheses = hypothesisIds.map((ids) => detokenize(ids));
  return { bleu: corpusBleu(hypotheses, [references], bleuOptions), hypotheses, hypothesisIds };
}

// ------------------------------------------------------------------------------------------- training

export interface TranslationTrainingOptions extends EpochTrainingOptions {
  model: TranslationModelConfig;
  train: ParallelIds;
  valid?: ParallelIds;
  /** Token ids -> text, for validation BLEU. Without it, no BLEU is computed. */
  detokenize?: (ids: TokenIds) => string;
  /** Decoding used for validation BLEU (default greedy). */
  decode?: DecodeOptions;
  /** BLEU options (default sacreBLEU's: 13a tokenizer, mixed case, exp smoothing). */
  bleu?: BleuOptions;
  /** Start from these parameter values instead of a fresh init (not disposed). */
  initialParams?: TranslationParams;
}

export interface TranslationTrainingResult extends EpochTrainingResult {
  config: ResolvedTranslationConfig;
  /** The trained variables as a tree; the caller disposes them with `variables.dispose()`. */
  params: TranslationParams;
  variables: VariableSet;
}

function checkParallel(name: string, data: ParallelIds): void {
  if (data.source.length !== data.target.length) throw new Error(`${name}: ${data.source.length} source sentences but ${data.target.length} targets`);
  if (data.source.length === 0) throw new Error(`${name}: no sentence pairs`);
}

/**
 * Train the attentional translator with teacher forcing. Validation (every `evaluateEvery` epochs) reports
 * loss and perplexity per target token and, with `detokenize`, corpus BLEU of the decoded output. With
 * `modelSelection` "best-valid" (default) the returned variables are those of the best validation BLEU
 * (with `detokenize`) or loss (without); `selection` says which epoch.
 */
export async function trainTranslation(options: TranslationTrainingOptions): Promise<TranslationTrainingResult> {
  const config = resolveTranslationConfig(options.model);
  checkParallel("train", options.train);
  if (options.valid) checkParallel("valid", options.valid);
  const initial = options.initialParams ?? initTranslationParams(config, new Rng(options.seed).fork("init"));
  const variables = createVariables(initial, { scope: "translation" });
  if (!options.initialParams) tf.dispose(initial);
  const params = variables.tree;
  const { valid, detokenize } = options;
  try {
    const run = await runEpochTraining<TranslationTensors>(
      {
        kind: "translation",
        variables,
        lengths: options.train.target.map((t) => t.length),
        makeBatch: (indices) => padTranslationBatch(config, indices.map((i) => options.train.source[i]), indices.map((i) => options.train.target[i])),
        disposeBatch: disposeTranslationTensors,
        tokens: (batch) => batch.targetLengths.reduce((a, b) => a + b, 0),
        loss: (batch, rng) => translationLoss(config, params, batch, { training: true, rng }),
        evaluate: valid
          ? () => {
              const v = evaluateTranslationLoss(config, params, valid);
              const metrics: Record<string, number> = { loss: v.loss, perplexity: v.perplexity };
              if (!detokenize) return { metrics };
              const b = evaluateTranslationBleu(config, params, valid, detokenize, { ...(options.decode ?? {}), bleu: options.bleu });
              metrics.bleu = b.bleu.score;
              return { metrics, details: { bleuSignature: b.bleu.signature, sampleHypotheses: b.hypotheses.slice(0, 3) } };
            }
          : undefined,
        selectBy: detokenize ? { metric: "bleu", higherIsBetter: true } : { metric: "loss", higherIsBetter: false },
        config,
      },
      options,
    );
    return { ...run, config, params, variables };
  } catch (e) {
    variables.dispose();
    throw e;
  }
}

/** The flat parameter map of a translation parameter tree (dotted paths, e.g. "decoder.0.contextKernel"). */
export function translationParameterPaths(params: TranslationParams): string[] {
  return Object.keys(flattenParams(params));
}

