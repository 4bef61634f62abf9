/**
 * sdropout/ptb and sdropout/rate-sweep — "Structured in Space, Randomized in Time" (Sarma et al.,
 * NeurIPS 2021) on word-level PTB: per-element dropout masks vs one mask per time step shared by the
 * whole batch (whole columns dropped, so the GEMMs shrink), on the non-recurrent connections.
 *
 *   structured: X̃_t = X_t[:, K_t]/(1−p),  Z_t = X̃_t · W[K_t, :],  |K_t| ≈ (1−p)H, a new K_t every step
 * Measured: validation/test perplexity and wall-clock seconds per step (the paper: 1.23–1.64× faster
 * training at the same metric). The dense no-dropout arm is a timing reference only.
 *
 * DEVIATION: the paper's model sizes and dropout placement are unknown [U]; we use a Zaremba-style LM
 * (PAPERS.md §3 "CPU-affordable reproduction").
 */
import type { ScheduleOptions } from "@rnnlab/train";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";
import type { ArmContext } from "../types";

export interface DropoutArm {
  /** "elementwise" | "structured" | "none". */
  kind: string;
  rate: number;
}

export interface StructuredDropoutLmConfig<Arms> {
  data: LanguageModelDataSection;
  model: LanguageModelSection;
  /** Multiply the learning rate by `factor` every `every` epochs from epoch `start` (factor 1: constant). */
  learningRateDecay: { factor: number; every: number; start: number };
  /**
   * "off": every arm runs the readable (scan) LSTM path. The fused fast path only serves unstructured
   * dropout, so "auto" would time structured dropout on a slower code path than per-element dropout and
   * confound the speed comparison; "off" isolates the effect of the smaller GEMMs.
   */
  implementation: { fastPath: string };
  arms: Arms;
}

export type SdPtbConfig = StructuredDropoutLmConfig<{ elementwise: DropoutArm; structured: DropoutArm; none: DropoutArm }>;

/** Zaremba et al. 2014 "medium" (PAPERS.md §3 settings, [R]). */
const zarembaMedium: Omit<SdPtbConfig, "arms"> = {
  data: { source: "dataset", dataset: "ptb", generatedVocabularySize: 60, generatedTrainTokens: 4000 },
  model: {
    embeddingSize: 650,
    hiddenSize: 650,
    layers: 2,
    tieWeights: false,
    batchSize: 20,
    evaluationBatchSize: 20,
    bptt: 35,
    variableLength: false,
    epochs: 39,
    maxStepsPerEpoch: 0,
    optimizer: "sgd",
    learningRate: 1,
    weightDecay: 0,
    clipNorm: 5,
    evaluateEverySteps: 0,
    checkpointEverySteps: 500,
  },
  learningRateDecay: { factor: 1 / 1.2, every: 1, start: 6 },
  implementation: { fastPath: "off" },
};

export const sdPtbBase: SdPtbConfig = {
  ...zarembaMedium,
  arms: {
    elementwise: { kind: "elementwise", rate: 0.5 },
    structured: { kind: "structured", rate: 0.5 },
    none: { kind: "none", rate: 0 },
  },
};

const RATES = [0.3, 0.5, 0.65];
type SweepArms = Record<string, DropoutArm>;
export type SdSweepConfig = StructuredDropoutLmConfig<SweepArms>;
export const sdSweepBase: SdSweepConfig = {
  ...zarembaMedium,
  arms: Object.fromEntries(
    RATES.flatMap((p) => ["elementwise", "structured"].map((kind) => [`${kind}-p${Math.round(p * 100)}`, { kind, rate: p }])),
  ),
};

function dropoutSection(arm: DropoutArm): DropoutSection | undefined {
  if (arm.kind === "none" || arm.rate === 0) return undefined;
  if (arm.kind !== "elementwise" && arm.kind !== "structured") throw new Error(`arms.*.kind="${arm.kind}" must be elementwise, structured or none`);
  // Zaremba: dropout on the non-recurrent connections only (embedding→L1, L1→L2, L2→softmax).
  return { kind: arm.kind, embedding: 0, input: arm.rate, hidden: arm.rate, output: arm.rate, weightDrop: 0 };
}

function scheduleOf(c: StructuredDropoutLmConfig<unknown>): ScheduleOptions {
  const d = c.learningRateDecay;
  if (d.factor === 1) return { kind: "constant", learningRate: c.model.learningRate };
  return { kind: "step", learningRate: c.model.learningRate, factor: d.factor, every: d.every, start: d.start };
}

function runArm(ctx: ArmContext<StructuredDropoutLmConfig<Record<string, DropoutArm>>>) {
  const c = ctx.config;
  const dropout = dropoutSection(c.arms[ctx.arm]);
  return runLanguageModelArm(ctx, {
    data: c.data,
    level: "word",
    model: c.model,
    ...(dropout ? { dropout } : {}),
    cell: { kind: "lstm" },
    schedule: scheduleOf(c),
    fastPath: c.implementation.fastPath === "auto" ? "auto" : "off",
  });
}

const smoke = { ...smokeLanguageModel, learningRateDecay: { factor: 1 } };
delete (smoke as { dropout?: unknown }).dropout;

const reportedNote =
  "The paper reports 1.23–1.64× faster training at the same metric (PAPERS.md §3, abstract); its perplexities are unknown [U]. Compare secondsPerStep across arms.";

registerExperiment<SdPtbConfig>({
  id: "sdropout/ptb",
  title: "Structured (batch-shared, per-step) vs per-element dropout, word-level PTB LSTM",
  claim: "Dropping the same units for the whole batch at each step trains faster (smaller GEMMs) at about the same perplexity.",
  base: sdPtbBase,
  presets: {
    smoke,
    cpu: {
      model: {
        // Sized for a ≤ 25 min run of all three arms on one shared core: ~0.5 s per step on the readable
        // path at 128 units, plus ~20 s per full validation pass; 300 steps ≈ 2.5 epochs' worth of 1/8.
        embeddingSize: 128,
        hiddenSize: 128,
        epochs: 1,
        maxStepsPerEpoch: 300,
        evaluateEverySteps: 150,
        optimizer: "adam",
        learningRate: 2e-3,
        clipNorm: 0.25,
        checkpointEverySteps: 150,
      },
      learningRateDecay: { factor: 1 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "PAPERS.md §3",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: { elementwise: null, structured: null, none: null },
    note: reportedNote,
  },
  compareSpeed: true,
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  plotCurves: ["validPerplexity", "trainLoss"],
  runArm,
});

registerExperiment<SdSweepConfig>({
  id: "sdropout/rate-sweep",
  title: "Structured vs per-element dropout over dropout rates p ∈ {0.3, 0.5, 0.65}, word-level PTB",
  claim: "The speedup of structured dropout grows with p (GEMM sizes scale with 1−p) while perplexity stays close to per-element dropout.",
  base: sdSweepBase,
  presets: {
    smoke: { ...smoke, model: { ...smoke.model, maxStepsPerEpoch: 2 } },
    cpu: {
      model: {
        embeddingSize: 128,
        hiddenSize: 128,
        epochs: 1,
        maxStepsPerEpoch: 500,
        evaluateEverySteps: 250,
        optimizer: "adam",
        learningRate: 2e-3,
        clipNorm: 0.25,
        checkpointEverySteps: 250,
      },
      learningRateDecay: { factor: 1 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "PAPERS.md §3",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: Object.fromEntries(Object.keys(sdSweepBase.arms).map((a) => [a, null])),
    note: reportedNote,
  },
  compareSpeed: true,
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  plotCurves: ["validPerplexity"],
  runArm,
});
