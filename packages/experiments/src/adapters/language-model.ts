/**
 * One (arm, seed) of a language-model experiment: config sections -> @rnnlab/train's
 * trainLanguageModel, with checkpoints in the run directory, progress forwarded, and the trainer's
 * result turned into final metrics and bounded curves.
 *
 * Test evaluation (issue 17): reported test loss / perplexity / bits per character are those of the
 * selected parameters over the whole test split (or its `maxEvaluationTokens` head) at `model.testBatchSize`
 * columns, default 1: one stream, the state carried from the first token to the last, as AWD-LSTM
 * (`test_batch_size = 1`) and Zaremba et al. (one test stream) evaluate. The trainer evaluates test at
 * `evaluationBatchSize` (B columns: B − 1 more state resets, each column starting from a zero state);
 * that value is kept as `testPerplexityAtEvaluationBatch`. The two agree closely on a trained model
 * (test/lm-test-batch.test.ts measures the gap) but not exactly, so the literature's layout is reported.
 * Cost at batch 1 (measured, wasm+blas, shared core): ≈ 0.4-0.5 ms per token for the 2x128 word model of
 * g2lstm/ptb's cpu preset (3-4x its batch-20 pass; 20k tokens ≈ 10 s, the full 82k-token PTB test ≈ 40 s),
 * ≈ 0.6-0.8 ms for sdropout/ptb's 2x200, ≈ 0.1 ms per character for atn/char-ptb's 64-unit model. G2's
 * compression table uses the same layout, so its "uncompressed" row equals `testPerplexity`.
 */
import { GateTracer } from "@rnnlab/cells";
import { loadLanguageModelCorpus, type LanguageModelCorpus } from "@rnnlab/data";
import {
  batchifyTokens,
  CheckpointManager,
  evaluateLanguageModel,
  selectedModelCheckpoints,
  configHash as trainerConfigHash,
  trainLanguageModel,
  type CheckpointData,
  type DniConfig,
  type LanguageModelTrainConfig,
  type OptimizerOptions,
  type RecurrentCellConfig,
  type ScheduleOptions,
} from "@rnnlab/train";
import { generatedLanguageModelCorpus } from "../generated-data";
import { languageModelCompressionTable, languageModelFromCheckpoint, type LanguageModelCompressionSection } from "./lm-compression";
import type { ArmContext, ArmOutcome, Curve } from "../types";
import { StepTimer } from "./step-timer";
import { gateSaturationSummary } from "./gate-saturation";

export { gateSaturationSummary } from "./gate-saturation";

/** Where the tokens come from. */
export interface LanguageModelDataSection {
  /** "dataset": the real corpus via @rnnlab/data; "generated": a small made-up corpus (smoke preset). */
  source: string;
  dataset: string;
  /** Generated corpus only: vocabulary size and training tokens. */
  generatedVocabularySize: number;
  generatedTrainTokens: number;
  /** Optional: evaluate on only the first N validation and test tokens (0 or absent: all); a cpu-budget cut. */
  maxEvaluationTokens?: number;
  /** Optional: train on only the first N training tokens (0 or absent: all), so an "epoch" is a real pass over a cpu-sized slice. */
  maxTrainTokens?: number;
}

export interface LanguageModelSection {
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
  tieWeights: boolean;
  batchSize: number;
  evaluationBatchSize: number;
  bptt: number;
  variableLength: boolean;
  epochs: number;
  /** 0 = no cap. */
  maxStepsPerEpoch: number;
  /** "sgd" | "adam" | "asgd" (NT-ASGD: SGD, then averaging when validation stalls). */
  optimizer: string;
  learningRate: number;
  weightDecay: number;
  /** 0 = no clipping. */
  clipNorm: number;
  evaluateEverySteps: number;
  checkpointEverySteps: number;
  /** AWD-LSTM's AR α (absent: 0). */
  activationRegularization?: number;
  /** AWD-LSTM's TAR β (absent: 0). */
  temporalActivationRegularization?: number;
  /** LSTM input kernels: "uniform" (absent: the cells' default) or "orthogonal". */
  inputInit?: string;
  /** Columns of the reported test evaluation (absent: 1, AWD-LSTM's test_batch_size; see the header). */
  testBatchSize?: number;
}

export interface DropoutSection {
  /** "locked" | "elementwise" | "structured". */
  kind: string;
  embedding: number;
  input: number;
  hidden: number;
  output: number;
  weightDrop: number;
  /** Structured dropout only: consecutive steps sharing one keep set (1: every step, the paper; 0: one per BPTT window). */
  maskSteps?: number;
}

export function loadCorpus(data: LanguageModelDataSection, level: "word" | "character"): LanguageModelCorpus {
  if (data.source === "generated") {
    return generatedLanguageModelCorpus({ level, vocabularySize: data.generatedVocabularySize, trainTokens: data.generatedTrainTokens });
  }
  if (data.source !== "dataset") throw new Error(`data.source="${data.source}" must be "dataset" or "generated"`);
  // Throws @rnnlab/data's missing-dataset error (names `npm run data -- fetch <name>` and RNNLAB_DATA_DIR).
  return loadLanguageModelCorpus(data.dataset as "ptb" | "ptb-char" | "wikitext-2");
}

export function optimizerOptions(kind: string, weightDecay: number): OptimizerOptions {
  if (kind === "sgd") return { kind: "sgd", weightDecay };
  if (kind === "adam") return { kind: "adam", weightDecay };
  if (kind === "asgd") return { kind: "asgd", weightDecay };
  if (kind === "rmsprop") return { kind: "rmsprop", weightDecay };
  throw new Error(`train.optimizer="${kind}" must be one of sgd, adam, asgd, rmsprop`);
}

/** The optimizer step a checkpoint was taken at (0 when there is none); trainers store it in their meta. */
export function checkpointStep(checkpoints: CheckpointManager): number {
  if (!checkpoints.exists()) return 0;
  const meta = checkpoints.load()?.meta as { step?: number; progress?: { step?: number } } | undefined;
  return meta?.progress?.step ?? meta?.step ?? 0;
}

/** A trainer's {step, value}[] series as a result curve. */
export function curveOf(points: { step: number; value: number }[] | undefined): Curve {
  return { step: (points ?? []).map((p) => p.step), value: (points ?? []).map((p) => p.value) };
}

export interface LanguageModelArmSpec {
  data: LanguageModelDataSection;
  level: "word" | "character";
  model: LanguageModelSection;
  dropout?: DropoutSection;
  cell: RecurrentCellConfig;
  dni?: DniConfig;
  schedule?: ScheduleOptions;
  gateHistograms?: boolean;
  /** "auto" | "off" (the readable path; needed e.g. for per-step structured masks). */
  fastPath?: "auto" | "off";
  /** G2-LSTM's compression table on the test split, from the final checkpoint. */
  compression?: LanguageModelCompressionSection;
  /**
   * Extra evaluation of the trained model (e.g. G2-LSTM's per-word gate map) from the final checkpoint;
   * what it returns is merged into the outcome's `extra`.
   */
  evaluateTrained?: (trained: {
    architecture: LanguageModelTrainConfig;
    checkpoint: CheckpointData;
    corpus: LanguageModelCorpus;
  }) => Record<string, unknown> | Promise<Record<string, unknown>>;
}

/**
 * Test hook (issue 17's config-reach test): when set, called with everything an arm hands to training
 * (the trainer config, the corpus it trains on, and the evaluation extras) just before training starts.
 * Throwing from it stops the arm. Unset in every real run.
 */
export const languageModelTrainerProbe: {
  observe?: (seen: { config: LanguageModelTrainConfig; corpus: { name: string; train: number; valid: number; test: number }; spec: LanguageModelArmSpec }) => void;
} = {};

type TrainedLanguageModel = Awaited<ReturnType<typeof trainLanguageModel>>;

export async function runLanguageModelArm(ctx: ArmContext<object>, spec: LanguageModelArmSpec): Promise<ArmOutcome> {
  const corpus = armCorpus(spec);
  const config = trainerConfig(ctx, spec, corpus);
  languageModelTrainerProbe.observe?.({
    config,
    corpus: { name: corpus.name, train: corpus.train.length, valid: corpus.valid.length, test: corpus.test.length },
    spec,
  });
  const checkpoints = new CheckpointManager({
    directory: ctx.runDir,
    everySteps: spec.model.checkpointEverySteps,
    configHash: trainerConfigHash({ config, data: corpus.name, tokens: corpus.train.length }),
  });
  const resumedFrom = ctx.resume ? checkpointStep(checkpoints) : 0;
  const timer = new StepTimer();
  // Wall clock (training + evaluation) at each validation evaluation; only those seen by this process (not before a resume).
  const validSeconds: { step: number; value: number }[] = [];
  const result = await trainLanguageModel(
    config,
    { train: corpus.train, valid: corpus.valid, test: corpus.test },
    {
      checkpoints,
      resume: ctx.resume,
      onProgress: (e) => {
        timer.observe(e);
        if (e.kind === "eval" && e.split === "valid") validSeconds.push({ step: e.step, value: (e.elapsedMs ?? 0) / 1000 });
        if (e.kind === "done") return;
        ctx.onProgress({ step: e.step, totalSteps: e.totalSteps ?? 0, split: e.split, metrics: e.metrics });
      },
    },
  );
  const final = trainingFinals(result, timer);
  const { test, testGateHistograms } = reportedTest(spec, config, corpus, checkpoints, result, final);
  testFinals(spec, result, test, final);
  const extra: Record<string, unknown> = { corpus: corpus.name, vocabularySize: config.vocabularySize, trainTokens: corpus.train.length, modelSelection: result.selection };
  gateExtras(result, testGateHistograms, extra, final);
  await trainedEvaluations(spec, config, corpus, checkpoints, extra, final);
  return { final, curves: languageModelCurves(spec, result, validSeconds), extra, resumedFromStep: resumedFrom };
}

/** The corpus an arm trains on: its splits cut to `maxTrainTokens` and `maxEvaluationTokens` where set. */
function armCorpus(spec: LanguageModelArmSpec): LanguageModelCorpus {
  const fullCorpus = loadCorpus(spec.data, spec.level);
  const cap = spec.data.maxEvaluationTokens ?? 0;
  const trainCap = spec.data.maxTrainTokens ?? 0;
  return {
    ...fullCorpus,
    ...(trainCap > 0 ? { train: fullCorpus.train.slice(0, trainCap) } : {}),
    ...(cap > 0 ? { valid: fullCorpus.valid.slice(0, cap), test: fullCorpus.test.slice(0, cap) } : {}),
  };
}

/** The arm's config sections as the trainer's config, after checking the values only this adapter reads. */
function trainerConfig(ctx: ArmContext<object>, spec: LanguageModelArmSpec, corpus: LanguageModelCorpus): LanguageModelTrainConfig {
  const m = spec.model;
  const d = spec.dropout;
  if (!(Number.isInteger(m.maxStepsPerEpoch) && m.maxStepsPerEpoch >= 0))
    throw new Error(`model.maxStepsPerEpoch=${m.maxStepsPerEpoch} must be a whole number >= 0 (0: no cap, every window of an epoch)`);
  const testBatchSize = m.testBatchSize ?? 1;
  if (!(Number.isInteger(testBatchSize) && testBatchSize >= 1)) throw new Error(`model.testBatchSize=${m.testBatchSize} must be a whole number >= 1 (1: one stream, as AWD-LSTM's test_batch_size)`);
  return {
    vocabularySize: corpus.vocabulary.tokens.length,
    embeddingSize: m.embeddingSize,
    hiddenSize: m.hiddenSize,
    layers: m.layers,
    cell: spec.cell,
    tieWeights: m.tieWeights,
    ...(d
      ? {
          dropout: {
            kind: d.kind as "locked" | "elementwise" | "structured",
            embedding: d.embedding,
            input: d.input,
            hidden: d.hidden,
            output: d.output,
            weightDrop: d.weightDrop,
            ...(d.maskSteps !== undefined ? { maskSteps: d.maskSteps } : {}),
          },
        }
      : {}),
    ...(spec.fastPath ? { fastPath: spec.fastPath } : {}),
    ...(m.activationRegularization ? { activationRegularization: m.activationRegularization } : {}),
    ...(m.temporalActivationRegularization ? { temporalActivationRegularization: m.temporalActivationRegularization } : {}),
    ...(m.inputInit !== undefined ? { inputInit: m.inputInit as "uniform" | "orthogonal" } : {}),
    batchSize: m.batchSize,
    evaluationBatchSize: m.evaluationBatchSize,
    bptt: m.bptt,
    variableLength: m.variableLength,
    epochs: m.epochs,
    ...(m.maxStepsPerEpoch > 0 ? { maxStepsPerEpoch: m.maxStepsPerEpoch } : {}),
    optimizer: optimizerOptions(m.optimizer, m.weightDecay),
    schedule: spec.schedule ?? { kind: "constant", learningRate: m.learningRate },
    clipNorm: m.clipNorm,
    evaluateEverySteps: m.evaluateEverySteps,
    seed: ctx.seed,
    characterLevel: spec.level === "character",
    gateHistograms: spec.gateHistograms ?? false,
    ...(spec.dni ? { dni: spec.dni } : {}),
    stepCurveCapacity: 256,
  };
}

/** The selected parameters' validation metrics (best validation by default; `selectedStep` says which) and the run's bookkeeping. */
function trainingFinals(result: TrainedLanguageModel, timer: StepTimer): Record<string, number> {
  const final: Record<string, number> = {
    validLoss: result.final.valid.loss,
    validPerplexity: result.final.valid.perplexity,
    selectedStep: result.selection.step,
    lastValidPerplexity: result.last.valid.perplexity,
    // Largest carried |h|, |c| during the final evaluations: one that grows with the column length flags a
    // cell state that integrates without bound, whose carried-state perplexity depends on the batch layout (issue 17).
    validMaxCarriedState: result.final.valid.maxCarriedState,
    steps: result.steps,
    trainSeconds: result.elapsedMs / 1000,
    parameterCount: result.parameterCount,
  };
  if (Number.isFinite(timer.secondsPerStep())) final.secondsPerStep = timer.secondsPerStep();
  return final;
}

/**
 * The reported test evaluation: the trainer's when it ran at `testBatchSize` columns and no gate histograms
 * are wanted; otherwise the selected parameters again over the test split at testBatchSize columns (see the
 * header), tracing the gate histograms (G2-LSTM's figure and shares) during that pass.
 */
function reportedTest(
  spec: LanguageModelArmSpec,
  config: LanguageModelTrainConfig,
  corpus: LanguageModelCorpus,
  checkpoints: CheckpointManager,
  result: TrainedLanguageModel,
  final: Record<string, number>,
): { test: TrainedLanguageModel["final"]["test"]; testGateHistograms: unknown } {
  const testBatchSize = spec.model.testBatchSize ?? 1;
  let test = result.final.test;
  const atEvaluationBatch = testBatchSize === (config.evaluationBatchSize ?? config.batchSize);
  let testGateHistograms: unknown;
  if (test && (!atEvaluationBatch || spec.gateHistograms)) {
    const checkpoint = selectedModelCheckpoints(checkpoints).load();
    if (!checkpoint) throw new Error(`${checkpoints.file}: no selected checkpoint to evaluate the test split at batch ${testBatchSize}`);
    const trained = languageModelFromCheckpoint(config, checkpoint);
    const tracer = spec.gateHistograms ? new GateTracer() : undefined;
    try {
      test = evaluateLanguageModel(trained.model, trained.params, batchifyTokens(corpus.test, testBatchSize, "test tokens"), spec.model.bptt, { characterLevel: spec.level === "character", tracer });
    } finally {
      trained.dispose();
    }
    if (tracer) testGateHistograms = tracer.toJSON();
    if (!atEvaluationBatch) final.testPerplexityAtEvaluationBatch = result.final.test!.perplexity;
  }
  return { test, testGateHistograms };
}

/** The reported test metrics, the last parameters' test value and, at character level, bits per character. */
function testFinals(spec: LanguageModelArmSpec, result: TrainedLanguageModel, test: TrainedLanguageModel["final"]["test"], final: Record<string, number>): void {
  if (test) {
    final.testBatchSize = spec.model.testBatchSize ?? 1;
    final.testLoss = test.loss;
    final.testPerplexity = test.perplexity;
    final.testMaxCarriedState = test.maxCarriedState;
  }
  // The last parameters' test value, from the trainer (at evaluationBatchSize columns).
  if (result.last.test) final.lastTestPerplexity = result.last.test.perplexity;
  if (spec.level === "character") {
    if (result.final.valid.bitsPerCharacter !== undefined) final.validBitsPerCharacter = result.final.valid.bitsPerCharacter;
    if (test?.bitsPerCharacter !== undefined) final.testBitsPerCharacter = test.bitsPerCharacter;
  }
}

/** Training and validation curves of a run, bounded by the trainer's step-curve capacity. */
function languageModelCurves(spec: LanguageModelArmSpec, result: TrainedLanguageModel, validSeconds: { step: number; value: number }[]): Record<string, Curve> {
  const validEvaluations = result.evaluations.filter((e) => e.split === "valid");
  const curves: Record<string, Curve> = {
    trainLoss: curveOf(result.trainLossCurve),
    validLoss: { step: validEvaluations.map((e) => e.step), value: validEvaluations.map((e) => e.loss) },
    validPerplexity: { step: validEvaluations.map((e) => e.step), value: validEvaluations.map((e) => e.perplexity) },
    validMaxCarriedState: { step: validEvaluations.map((e) => e.step), value: validEvaluations.map((e) => e.maxCarriedState) },
    gradientNorm: curveOf(result.gradientNormCurve),
    validElapsedSeconds: curveOf(validSeconds),
  };
  if (spec.level === "character") {
    curves.validBitsPerCharacter = { step: validEvaluations.map((e) => e.step), value: validEvaluations.map((e) => e.bitsPerCharacter ?? NaN) };
  }
  if (result.synthesizerLossCurve) curves.synthesizerLoss = curveOf(result.synthesizerLossCurve);
  if (result.orthogonalityErrorCurve) curves.orthogonalityError = curveOf(result.orthogonalityErrorCurve);
  return curves;
}

/** Gate histograms and saturation: of the test split when there is one (the trainer's, of the validation split, kept beside). */
function gateExtras(result: TrainedLanguageModel, testGateHistograms: unknown, extra: Record<string, unknown>, final: Record<string, number>): void {
  const histograms = testGateHistograms ?? result.gateHistograms;
  if (!histograms) return;
  const saturation = gateSaturationSummary(histograms);
  extra.gateSaturation = saturation.byGate;
  extra.gateHistograms = histograms;
  extra.gateHistogramSplit = testGateHistograms ? "test" : "valid";
  if (testGateHistograms && result.gateHistograms) extra.validGateHistograms = result.gateHistograms;
  Object.assign(final, saturation.finals);
}

/** Compression table and the spec's own evaluations, on the parameters `final` reports (selected.rnnlab). */
async function trainedEvaluations(
  spec: LanguageModelArmSpec,
  config: LanguageModelTrainConfig,
  corpus: LanguageModelCorpus,
  checkpoints: CheckpointManager,
  extra: Record<string, unknown>,
  final: Record<string, number>,
): Promise<void> {
  const selectedCheckpoint = () => {
    const checkpoint = selectedModelCheckpoints(checkpoints).load();
    if (!checkpoint) throw new Error(`${checkpoints.file}: no final checkpoint to read the trained parameters from`);
    return checkpoint;
  };
  if (spec.compression && corpus.test.length > 0) {
    const table = languageModelCompressionTable({
      architecture: config,
      checkpoint: selectedCheckpoint(),
      tokens: corpus.test,
      batchSize: spec.model.testBatchSize ?? 1, // the layout of testPerplexity, so "uncompressed" equals it
      bptt: spec.model.bptt,
      compression: spec.compression,
    });
    extra.compression = table;
    for (const [name, value] of Object.entries(table)) {
      if (name !== "uncompressed") final[`testPerplexity_${name}`] = value;
    }
  }
  if (spec.evaluateTrained) Object.assign(extra, await spec.evaluateTrained({ architecture: config, checkpoint: selectedCheckpoint(), corpus }));
}
