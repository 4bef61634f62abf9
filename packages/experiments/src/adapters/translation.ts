/**
 * One (arm, seed) of a translation experiment: parallel text (real or generated) -> word vocabularies ->
 * @rnnlab/train's trainTranslation (attentional LSTM encoder-decoder), then test BLEU, the decoder's
 * first-layer gate saturation, and optionally G2-LSTM's compression table (BLEU after rounding / SVD of
 * the i and f gate blocks, docs/papers/g2-lstm.md).
 */
import { GateTracer, type DropoutConfig, type GateConfig } from "@rnnlab/cells";
import {
  BOS_ID,
  buildTranslationVocabulary,
  detokenize as detokenizeWords,
  encodePairs,
  END_ID,
  filterByLength,
  loadTranslationCorpus,
  PAD_ID,
  type ParallelSplit,
  type TranslationDatasetName,
} from "@rnnlab/data";
import { compressGateBlocks } from "@rnnlab/metrics";
import { tf } from "@rnnlab/core";
import {
  CheckpointManager,
  configHash as trainerConfigHash,
  evaluateTranslationBleu,
  evaluateTranslationLoss,
  trainTranslation,
  traceTranslationGates,
  translationCompressionMatrices,
  type ParallelIds,
  type DecodeOptions,
  type LengthPenalty,
  type ResolvedTranslationConfig,
  type TranslationParams,
} from "@rnnlab/train";
import { sha256, stableStringify } from "../config";
import { generatedParallelCorpus } from "../generated-data";
import type { ArmContext, ArmOutcome, Curve } from "../types";
import { StepTimer } from "./step-timer";
import { gateSaturationSummary, optimizerOptions } from "./language-model";

export interface TranslationDataSection {
  /** "dataset" | "generated". */
  source: string;
  dataset: string;
  /** Vocabulary cap per side (specials included). */
  maxVocabulary: number;
  /** Training pairs longer than this (either side, tokens) are dropped. */
  maxLength: number;
  /** Use only the first N pairs of each split (0 = all); the validation cap keeps per-epoch BLEU cheap. */
  trainPairs: number;
  validPairs: number;
  testPairs: number;
}

export interface TranslationModelSection {
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
  inputFeeding: boolean;
}

export interface EpochTrainingSection {
  epochs: number;
  batchSize: number;
  optimizer: string;
  learningRate: number;
  weightDecay: number;
  clipNorm: number;
  checkpointEverySteps: number;
}

/**
 * The trainer options and checkpoint manager an epoch-based trainer (translation, tagging) gets from its
 * training section; the checkpoint's config hash covers the options plus `hashed` (model, data, sizes).
 */
export function epochTrainerSetup(ctx: ArmContext<object>, t: EpochTrainingSection, hashed: Record<string, unknown>) {
  const trainerOptions = {
    epochs: t.epochs,
    batchSize: t.batchSize,
    optimizer: optimizerOptions(t.optimizer, t.weightDecay),
    schedule: { kind: "constant" as const, learningRate: t.learningRate },
    clipNorm: t.clipNorm,
    seed: ctx.seed,
  };
  const checkpoints = new CheckpointManager({
    directory: ctx.runDir,
    everySteps: t.checkpointEverySteps,
    configHash: trainerConfigHash({ ...hashed, trainerOptions }),
  });
  return { trainerOptions, checkpoints };
}

export interface CompressionSection {
  /** NMT "precision": round(clip(w, −1, 1)·k)/k for each k (empty: skip). */
  precisionLevels: number[];
  /** Truncated-SVD ranks of each gate block (empty: skip). */
  svdRanks: number[];
  /** Optional, as for language models: w ← r·round(w/r) and the 5-level r·round(clip(w, −2r, 2r)/r) per grid step r. */
  roundSteps?: number[];
}

/**
 * How reported test BLEU (and every compressed model's BLEU) is decoded. Validation BLEU during training
 * stays greedy (the trainer's default; it only draws the validation curve).
 */
export interface TranslationDecodingSection {
  /** Beam width; 1 = greedy (batched argmax). */
  beamSize: number;
  /**
   * Ranking of finished beam hypotheses (@rnnlab/train beam.ts): "average" = log P / length (EOS counted),
   * "none" = raw log P, or "gnmt:<alpha>" = log P / ((5 + n)/6)^alpha.
   */
  lengthPenalty: string;
}

/** The decode options of a decoding section; a bad value is an error naming the key. */
export function decodeOptionsOf(d: TranslationDecodingSection): DecodeOptions & { beamSize: number; lengthPenalty: LengthPenalty } {
  if (!(Number.isInteger(d.beamSize) && d.beamSize >= 1)) throw new Error(`decoding.beamSize=${d.beamSize} must be a whole number >= 1 (1: greedy)`);
  let lengthPenalty: LengthPenalty;
  if (d.lengthPenalty === "none" || d.lengthPenalty === "average") lengthPenalty = { kind: d.lengthPenalty };
  else if (/^gnmt:/.test(d.lengthPenalty) && Number.isFinite(Number(d.lengthPenalty.slice(5))) && d.lengthPenalty.length > 5) {
    lengthPenalty = { kind: "gnmt", alpha: Number(d.lengthPenalty.slice(5)) };
  } else throw new Error(`decoding.lengthPenalty="${d.lengthPenalty}" must be "none", "average" or "gnmt:<alpha>" (e.g. gnmt:0.6)`);
  // Greedy search has one hypothesis, so nothing to rank: a penalty there would be dropped silently.
  if (d.beamSize === 1 && lengthPenalty.kind !== "none") throw new Error(`decoding.lengthPenalty="${d.lengthPenalty}" has no effect at decoding.beamSize=1 (greedy): set it to "none" or use a beam`);
  return { beamSize: d.beamSize, lengthPenalty, search: d.beamSize === 1 ? "greedy" : "beam" };
}

/**
 * Test hook (issue 17's config-reach test): when set, called with everything an arm hands to the trainer
 * (trainer options, model, a digest of the encoded splits, the checkpoint cadence) and to the test
 * evaluation (decoding, compression) just before training starts. Throwing from it stops the arm.
 */
export const translationTrainerProbe: {
  observe?: (seen: Record<string, unknown>) => void;
} = {};

/** Sizes and a digest of encoded sentences (the probe's view of a split). */
export function idsDigest(split: { source?: readonly ArrayLike<number>[]; target?: readonly ArrayLike<number>[]; words?: readonly ArrayLike<number>[]; tags?: readonly ArrayLike<number>[]; references?: readonly string[] }): { sentences: number; digest: string } {
  const lists = Object.fromEntries(Object.entries(split).map(([k, v]) => [k, (v as unknown[]).map((x) => (typeof x === "string" ? x : Array.from(x as ArrayLike<number>)))]));
  const first = Object.values(lists)[0] as unknown[] | undefined;
  return { sentences: first?.length ?? 0, digest: sha256(stableStringify(lists)).slice(0, 16) };
}

type Splits = Record<"train" | "valid" | "test", ParallelSplit>;

function loadSplits(d: TranslationDataSection): Splits {
  if (d.source === "generated") {
    return generatedParallelCorpus({ vocabularySize: 30, sentences: { train: d.trainPairs || 200, valid: d.validPairs || 20, test: d.testPairs || 20 }, meanLength: 5 });
  }
  if (d.source !== "dataset") throw new Error(`data.source="${d.source}" must be "dataset" or "generated"`);
  // Throws @rnnlab/data's missing-dataset error (fetch command, RNNLAB_DATA_DIR) when the files are absent.
  const corpus = loadTranslationCorpus(d.dataset as TranslationDatasetName);
  const need = (s: "train" | "valid" | "test") => {
    const split = corpus.splits[s];
    if (!split) throw new Error(`${d.dataset} has no ${s} split`);
    return split;
  };
  return { train: need("train"), valid: need("valid"), test: need("test") };
}

function head(split: ParallelSplit, n: number): ParallelSplit {
  if (n <= 0 || n >= split.source.length) return split;
  return {
    ...split,
    source: split.source.slice(0, n),
    target: split.target.slice(0, n),
    references: split.references.slice(0, n),
    lineNumbers: split.lineNumbers.slice(0, n),
  };
}

export async function runTranslationArm(
  ctx: ArmContext<object>,
  spec: {
    data: TranslationDataSection;
    model: TranslationModelSection;
    train: EpochTrainingSection;
    gate?: GateConfig;
    dropout?: DropoutConfig;
    /** Decoding of test BLEU (and of the compressed models' BLEU); absent: greedy. */
    decoding?: TranslationDecodingSection;
    compression?: CompressionSection;
    /** Extra evaluation of the trained model (e.g. a per-word gate map); merged into the outcome's `extra`. */
    evaluateTrained?: (trained: {
      config: ResolvedTranslationConfig;
      params: TranslationParams;
      test: ParallelIds;
      sourceTokens: readonly string[];
      targetTokens: readonly string[];
    }) => Record<string, unknown>;
  },
): Promise<ArmOutcome> {
  const d = spec.data;
  const raw = loadSplits(d);
  const train = filterByLength(head(raw.train, d.trainPairs), { maxSourceLength: d.maxLength, maxTargetLength: d.maxLength }).split;
  const valid = head(raw.valid, d.validPairs);
  const test = head(raw.test, d.testPairs);
  const sourceVocabulary = buildTranslationVocabulary(train.source, { maxSize: d.maxVocabulary });
  const targetVocabulary = buildTranslationVocabulary(train.target, { maxSize: d.maxVocabulary });
  const ids = (split: ParallelSplit): ParallelIds => ({ ...encodePairs(split, sourceVocabulary, targetVocabulary), references: split.references });
  const detokenize = (tokenIds: readonly number[] | Int32Array) => detokenizeWords(Array.from(tokenIds, (i) => targetVocabulary.tokens[i]));
  const m = spec.model;
  const t = spec.train;
  const model = {
    sourceVocabularySize: sourceVocabulary.tokens.length,
    targetVocabularySize: targetVocabulary.tokens.length,
    embeddingSize: m.embeddingSize,
    hiddenSize: m.hiddenSize,
    layers: m.layers,
    inputFeeding: m.inputFeeding,
    ...(spec.gate ? { gate: spec.gate, gateLayers: "all" as const } : {}),
    ...(spec.dropout ? { dropout: spec.dropout } : {}),
    padToken: PAD_ID,
    beginToken: BOS_ID,
    endToken: END_ID,
  };
  const { trainerOptions, checkpoints } = epochTrainerSetup(ctx, t, { model, data: d, trainPairs: train.source.length });
  const decode = decodeOptionsOf(spec.decoding ?? { beamSize: 1, lengthPenalty: "none" });
  translationTrainerProbe.observe?.({
    trainerOptions,
    model,
    checkpointEverySteps: t.checkpointEverySteps,
    train: idsDigest(ids(train)),
    valid: idsDigest(ids(valid)),
    test: idsDigest(ids(test)),
    vocabulary: { source: idsDigest({ references: sourceVocabulary.tokens }), target: idsDigest({ references: targetVocabulary.tokens }) },
    decode,
    compression: spec.compression ?? null,
  });
  const timer = new StepTimer();
  const result = await trainTranslation({
    ...trainerOptions,
    model,
    train: ids(train),
    valid: ids(valid),
    detokenize,
    checkpoints,
    resume: ctx.resume,
    onProgress: (e) => {
      timer.observe(e);
      if (e.kind !== "done") ctx.onProgress({ step: e.step, totalSteps: e.totalSteps ?? 0, split: e.split, metrics: e.metrics });
    },
  });
  try {
    const testIds = ids(test);
    const bleu = evaluateTranslationBleu(result.config, result.params, testIds, detokenize, decode);
    // G2-LSTM's figure: gates of the decoder's first layer, teacher-forced over real (unpadded) positions.
    const tracer = new GateTracer();
    traceTranslationGates(result.config, result.params, testIds, tracer);
    const loss = evaluateTranslationLoss(result.config, result.params, testIds);
    const final: Record<string, number> = {
      ...Object.fromEntries(Object.entries(result.final).filter(([, v]) => typeof v === "number")),
      testBleu: bleu.bleu.score,
      // The decoding of every BLEU in `final` (1: greedy); extra.decoding names the length penalty.
      testBeamSize: decode.beamSize,
      testLoss: loss.loss,
      testPerplexity: loss.perplexity,
      steps: result.steps,
      trainSeconds: result.elapsedMs / 1000,
    };
    const gateHistograms = tracer.toJSON();
    if (Number.isFinite(timer.secondsPerStep())) final.secondsPerStep = timer.secondsPerStep();
    const saturation = gateSaturationSummary(gateHistograms, "decoder.layer0");
    Object.assign(final, saturation.finals);
    const compression: Record<string, number> = {};
    if (spec.compression) {
      const matrices = translationCompressionMatrices(result.config);
      const runs: [string, "precision" | "svd" | "round" | "roundAndClip", number][] = [
        ...(spec.compression.roundSteps ?? []).flatMap((r): [string, "round" | "roundAndClip", number][] => [
          [`testBleuRound${r}`, "round", r],
          [`testBleuRoundAndClip${r}`, "roundAndClip", r],
        ]),
        ...spec.compression.precisionLevels.map((k): [string, "precision", number] => [`testBleuPrecision${k}`, "precision", k]),
        ...spec.compression.svdRanks.map((r): [string, "svd", number] => [`testBleuSvdRank${r}`, "svd", r]),
      ];
      for (const [name, method, parameter] of runs) {
        const compressed = compressGateBlocks(result.params, { method, parameter, matrices });
        try {
          const score = evaluateTranslationBleu(result.config, compressed.params, testIds, detokenize, decode).bleu.score;
          compression[name] = score;
          final[name] = score;
        } finally {
          tf.dispose(compressed.params);
        }
      }
    }
    const curves: Record<string, Curve> = {
      trainLoss: { step: result.curves.trainLoss.map((p) => p.step), value: result.curves.trainLoss.map((p) => p.value) },
      gradientNorm: { step: result.curves.gradientNorm.map((p) => p.step), value: result.curves.gradientNorm.map((p) => p.value) },
    };
    for (const key of ["loss", "bleu", "perplexity"]) {
      const points = result.evaluations.filter((e) => typeof e.metrics[key] === "number");
      if (points.length) curves[`valid${key[0].toUpperCase()}${key.slice(1)}`] = { step: points.map((e) => e.step), value: points.map((e) => e.metrics[key]) };
    }
    return {
      final,
      curves,
      extra: {
        corpus: d.source === "generated" ? "generated" : d.dataset,
        trainPairs: train.source.length,
        vocabulary: { source: sourceVocabulary.tokens.length, target: targetVocabulary.tokens.length },
        bleuSignature: bleu.bleu.signature,
        // Test BLEU's decoding; validation BLEU (the validBleu curve) is greedy.
        decoding: { search: decode.search, beamSize: decode.beamSize, lengthPenalty: decode.lengthPenalty, validation: "greedy" },
        sampleHypotheses: bleu.hypotheses.slice(0, 3),
        gateSaturation: saturation.byGate,
        gateHistograms: { "decoder.layer0": gateHistograms["decoder.layer0"] },
        compression,
        ...(spec.evaluateTrained
          ? spec.evaluateTrained({ config: result.config, params: result.params, test: testIds, sourceTokens: sourceVocabulary.tokens, targetTokens: targetVocabulary.tokens })
          : {}),
      },
      resumedFromStep: result.resumedFromStep,
    };
  } finally {
    result.variables.dispose();
  }
}
