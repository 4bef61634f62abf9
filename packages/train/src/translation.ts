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
 * at an epoch boundary redraws exactly what an uninterrupted run would.
 */
import { tf, Rng } from "@rnnlab/core";
import type { TokenIds } from "./seq2seq";
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
  type TranslationParams,
} from "./seq2seq";
import { beamSearch, greedyDecode, type DecodeStep, type DecoderState, type Hypothesis, type LengthPenalty } from "./beam";
import { createVariables, computeGradients, disposeNamed, flattenParams, type VariableSet, type ParamTree } from "./params";
import { createOptimizer, clipByGlobalNorm, type OptimizerOptions } from "./optim";
import { learningRateAt, validateSchedule, plateauInitial, plateauObserve, type ScheduleOptions, type PlateauState } from "./schedules";
import { emit, Stopwatch, type OnProgress } from "./events";
import { bucketedBatches, takeSnapshot, type TrainingSnapshot } from "./seq2seq-training";
import { deserializeTensor } from "./serialize";

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
          const one = tf.tidy(() => {
            const index = tf.tensor1d([b], "int32");
            const memory = {
              values: tf.gather(encoded.memory.values, index),
              keys: tf.gather(encoded.memory.keys, index),
              maskBias: tf.gather(encoded.memory.maskBias, index),
            };
            const state: DecoderState = {};
            for (const [name, t] of Object.entries(encoded.decoderState)) state[name] = tf.gather(t, index);
            return { memory, state } as unknown as tf.TensorContainer;
          }) as unknown as { memory: typeof encoded.memory; state: DecoderState };
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
    const prepared = cell.prepare(params as never, { training: false, steps: maxLength, batchSize: hypotheses, tracer, layerName: "decoder" });
    let t = 0;
    const step: DecodeStep = (state, previousTokens) => {
      const embedded = tf.gather(params.targetEmbedding, previousTokens) as tf.Tensor2D; // [k, E]
      const out = cell.step(params as never, state as never, embedded, prepared, t++);
      const logits = tf.add(tf.matMul(out.y, params.output.kernel), params.output.bias) as tf.Tensor2D; // [k, Vt]
      return { logProbabilities: tf.logSoftmax(logits) as tf.Tensor2D, state: out.state };
    };
    result = search(step, initialState);
  });
  return result;
}

/** Mean per-token loss and perplexity over a data set (teacher forcing, evaluation mode). */
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

export interface TranslationTrainingOptions {
  model: TranslationModelConfig;
  train: ParallelIds;
  valid?: ParallelIds;
  /** Token ids -> text, for BLEU. Without it, no BLEU is computed. */
  detokenize?: (ids: TokenIds) => string;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerOptions;
  /** Learning-rate schedule over epochs; "plateau" observes the validation loss. */
  schedule: ScheduleOptions;
  /** Global-norm gradient clipping; default 5 (Luong et al. 2015). 0 disables. */
  clipNorm?: number;
  seed: number;
  /** Emit a "step" event every N steps (default 10). */
  logEvery?: number;
  /** Validation loss (and BLEU when detokenize is given) every N epochs (default 1). */
  evaluateEvery?: number;
  /** Decoding used for validation BLEU. */
  decode?: DecodeOptions;
  /** Sort batches by length inside pools of this many batches (bucketing, less padding); default 20, 1 = off. */
  bucketPool?: number;
  onProgress?: OnProgress;
  /**
   * Checkpoint hook, called at the end of every epoch with everything needed to resume (the trainer writes
   * no files): e.g. `(s) => manager.save(snapshotToCheckpoint(s))` with train's CheckpointManager, and
   * `resumeFrom: checkpointToSnapshot(manager.load()!)` to continue.
   */
  onCheckpoint?: (snapshot: TrainingSnapshot) => void | Promise<void>;
  /** Resume from a snapshot taken by onCheckpoint (same config and seed). */
  resumeFrom?: TrainingSnapshot;
  /** Start from these parameter values instead of a fresh init (not disposed). */
  initialParams?: TranslationParams;
}

export interface TranslationTrainingResult {
  config: ResolvedTranslationConfig;
  /** The trained variables as a tree (caller disposes with `variables.dispose()`). */
  params: TranslationParams;
  variables: VariableSet;
  final: Record<string, number>;
  steps: number;
}

function checkParallel(name: string, data: ParallelIds): void {
  if (data.source.length !== data.target.length) throw new Error(`${name}: ${data.source.length} source sentences but ${data.target.length} targets`);
  if (data.source.length === 0) throw new Error(`${name}: no sentence pairs`);
}

export async function trainTranslation(options: TranslationTrainingOptions): Promise<TranslationTrainingResult> {
  const config = resolveTranslationConfig(options.model);
  checkParallel("train", options.train);
  if (options.valid) checkParallel("valid", options.valid);
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new Error(`trainTranslation: option "epochs" must be a positive integer, got ${options.epochs}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`trainTranslation: option "batchSize" must be a positive integer, got ${options.batchSize}`);
  validateSchedule(options.schedule);
  const clipNorm = options.clipNorm ?? 5;
  const logEvery = options.logEvery ?? 10;
  const evaluateEvery = options.evaluateEvery ?? 1;
  const rng = new Rng(options.seed);

  const initial = options.initialParams ?? initTranslationParams(config, rng.fork("init"));
  const variables = createVariables(initial as unknown as ParamTree, { scope: "translation" });
  if (!options.initialParams) tf.dispose(initial as unknown as tf.TensorContainer);
  const params = variables.tree as unknown as TranslationParams;
  const optimizer = createOptimizer(options.optimizer, variables.variables);
  let plateau = options.schedule.kind === "plateau" ? plateauInitial(options.schedule) : undefined;
  let step = 0;
  let firstEpoch = 0;
  if (options.resumeFrom) {
    const snap = options.resumeFrom;
    for (const [path, value] of Object.entries(snap.parameters)) {
      const v = variables.variables[path];
      if (!v) throw new Error(`resumeFrom: the snapshot has parameter "${path}", which this model does not; resume with the same model config`);
      const t = deserializeTensor(value);
      v.assign(t);
      t.dispose();
    }
    optimizer.importState(snap.optimizer);
    step = snap.step;
    firstEpoch = snap.epoch + 1;
    plateau = snap.plateau ?? plateau;
  }
  const clock = new Stopwatch(options.resumeFrom?.elapsedMs ?? 0);
  const targetLengths = options.train.target.map((t) => t.length);
  const batchesPerEpoch = Math.ceil(options.train.source.length / options.batchSize);
  const totalSteps = batchesPerEpoch * options.epochs;
  let final: Record<string, number> = {};

  for (let epoch = firstEpoch; epoch < options.epochs; epoch++) {
    const learningRate = learningRateAt(options.schedule, epoch, plateau);
    const order = bucketedBatches(targetLengths, options.batchSize, options.bucketPool ?? 20, rng.fork(`batches:${epoch}`));
    let epochLoss = 0;
    let epochTokens = 0;
    for (const indices of order) {
      const batch = padTranslationBatch(config, indices.map((i) => options.train.source[i]), indices.map((i) => options.train.target[i]));
      const stepRng = rng.fork(`step:${step}`);
      const { loss, grads } = computeGradients(() => translationLoss(config, params, batch, { training: true, rng: stepRng }), variables.variables);
      const clipped = clipByGlobalNorm(grads, clipNorm);
      optimizer.step(clipped.grads, learningRate);
      disposeNamed(grads);
      disposeNamed(clipped.grads);
      const lossValue = loss.dataSync()[0];
      loss.dispose();
      const n = batch.targetLengths.reduce((a, b) => a + b, 0);
      disposeTranslationTensors(batch);
      if (!Number.isFinite(lossValue)) throw new Error(`trainTranslation: the loss became ${lossValue} at step ${step}; lower the learning rate or clip harder (clipNorm)`);
      epochLoss += lossValue * n;
      epochTokens += n;
      step++;
      if (step % logEvery === 0) {
        emit(options.onProgress, {
          kind: "step", step, epoch, split: "train", totalSteps, elapsedMs: clock.elapsedMs(),
          metrics: { loss: lossValue, perplexity: Math.exp(lossValue), gradientNorm: clipped.norm, learningRate },
        });
      }
    }
    const trainLoss = epochLoss / epochTokens;
    final = { trainLoss, trainPerplexity: Math.exp(trainLoss) };
    if (options.valid && ((epoch + 1) % evaluateEvery === 0 || epoch === options.epochs - 1)) {
      const v = evaluateTranslationLoss(config, params, options.valid);
      final.validLoss = v.loss;
      final.validPerplexity = v.perplexity;
      let details: Record<string, unknown> | undefined;
      if (options.detokenize) {
        const b = evaluateTranslationBleu(config, params, options.valid, options.detokenize, options.decode ?? {});
        final.validBleu = b.bleu.score;
        details = { bleuSignature: b.bleu.signature, sampleHypotheses: b.hypotheses.slice(0, 3) };
      }
      if (plateau && options.schedule.kind === "plateau") plateau = plateauObserve(options.schedule, plateau, v.loss);
      emit(options.onProgress, {
        kind: "eval", step, epoch, split: "valid", totalSteps, elapsedMs: clock.elapsedMs(),
        metrics: { loss: v.loss, perplexity: v.perplexity, ...(final.validBleu !== undefined ? { bleu: final.validBleu } : {}) },
        details,
      });
    }
    emit(options.onProgress, { kind: "epoch", step, epoch, split: "train", totalSteps, elapsedMs: clock.elapsedMs(), metrics: { ...final, learningRate } });
    if (options.onCheckpoint) {
      await options.onCheckpoint(takeSnapshot(epoch, step, clock.elapsedMs(), variables.variables, optimizer.exportState(), plateau));
    }
  }
  optimizer.dispose();
  emit(options.onProgress, { kind: "done", step, epoch: options.epochs - 1, split: "train", totalSteps, elapsedMs: clock.elapsedMs(), metrics: final });
  return { config, params, variables, final, steps: step };
}

/** The flat parameter map of a translation parameter tree (dotted paths, e.g. "decoder.0.contextKernel"). */
export function translationParameterPaths(params: TranslationParams): string[] {
  return Object.keys(flattenParams(params as unknown as ParamTree));
}

