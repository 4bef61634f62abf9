/**
 * sdropout/ptb and sdropout/rate-sweep — "Structured in Space, Randomized in Time" (Sarma et al.,
 * NeurIPS 2021) on word-level PTB: per-element dropout masks vs one mask per time step shared by the
 * whole batch (whole columns dropped, so the GEMMs shrink), on the non-recurrent connections.
 *
 *   structured: X̃_t = X_t[:, K_t]/(1−p),  Z_t = X̃_t · W[K_t, :],  |K_t| ≈ (1−p)H, a new K_t every step
 * Measured: validation/test perplexity and wall-clock seconds per step (the paper: 1.23–1.64× faster
 * training at the same metric), seconds per epoch and the time to a target validation perplexity fixed in the
 * config (./time-to-target.ts), and where a step's time goes (./../adapters/lm-profile.ts). The dense
 * no-dropout arm is a timing reference only.
 *
 * Two structured arms: `structured` draws a new keep set every step (the paper's scheme, maskSteps 1);
 * `structured-window` shares one keep set over the whole BPTT window (maskSteps 0, a new set every window).
 * DEVIATION (wasm speed, cells/bench/README.md): on tfjs-wasm a per-step gathered GEMM has only B rows and
 * re-packs the gathered weights every step, which costs more than the halved contraction saves; only the
 * window variant keeps the GEMMs large enough to turn the smaller contraction into wall-clock savings.
 *
 * DEVIATION: the paper's model sizes and dropout placement are unknown [U]; we use a Zaremba-style LM
 * (our CPU plan in docs/papers/structured-dropout.md).
 */
import type { ScheduleOptions } from "@rnnlab/train";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";
import { sdPtbSchema, sdSweepSchema } from "./schema";
import type { ArmContext } from "../types";
import { profileLanguageModelSteps } from "../adapters/lm-profile";
import { languageModelStepsPerEpoch, timeToTarget } from "./time-to-target";

export interface DropoutArm {
  /** "elementwise" | "structured" | "none". */
  kind: string;
  rate: number;
}

/** A language-model arm: structured arms also say how many steps share one keep set (1: every step; 0: one per window). */
export interface LmDropoutArm extends DropoutArm {
  maskSteps: number;
}

export interface StructuredDropoutLmConfig<Arms> {
  data: LanguageModelDataSection;
  model: LanguageModelSection;
  /** Multiply the learning rate by `factor` every `every` epochs from epoch `start` (factor 1: constant). */
  learningRateDecay: { factor: number; every: number; start: number };
  /**
   * "auto": every arm runs the fused fast LSTM path (per-element dropout as a mask, structured dropout as
   * grouped gathered GEMMs), so all arms share one code path and only the dropout differs; "off": the
   * readable (scan) path, where structured dropout is one gathered GEMM per step (maskSteps must be 1).
   */
  implementation: { fastPath: string };
  /** After training: tf.profile over this many forward + backward passes, kernel time by group (0: skip). */
  profile: { steps: number };
  /**
   * Time to target (issue 22): the validation perplexity whose first crossing gives each run's
   * `secondsToTargetValidPerplexity` (./time-to-target.ts). Fixed here before the runs, never from their results.
   */
  target: { validPerplexity: number };
  arms: Arms;
}

export type SdPtbConfig = StructuredDropoutLmConfig<{ elementwise: LmDropoutArm; structured: LmDropoutArm; "structured-window": LmDropoutArm; none: LmDropoutArm }>;

/** Zaremba et al. 2014 "medium" (docs/papers/structured-dropout.md settings, [R]). */
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
  implementation: { fastPath: "auto" },
  profile: { steps: 3 },
  // Chosen before any run of these configs (see the cpu preset's comment for the source); the paper preset
  // keeps the same value (Zaremba "medium" passes it early in its first epochs).
  target: { validPerplexity: 150 },
};

export const sdPtbBase: SdPtbConfig = {
  ...zarembaMedium,
  arms: {
    elementwise: { kind: "elementwise", rate: 0.5, maskSteps: 1 },
    structured: { kind: "structured", rate: 0.5, maskSteps: 1 },
    "structured-window": { kind: "structured", rate: 0.5, maskSteps: 0 },
    none: { kind: "none", rate: 0, maskSteps: 1 },
  },
};

const RATES = [0.3, 0.5, 0.65];
type SweepArms = Record<string, LmDropoutArm>;
export type SdSweepConfig = StructuredDropoutLmConfig<SweepArms>;
export const sdSweepBase: SdSweepConfig = {
  ...zarembaMedium,
  arms: Object.fromEntries(
    RATES.flatMap((p) =>
      (
        [
          ["elementwise", "elementwise", 1],
          ["structured", "structured", 1],
          ["structured-window", "structured", 0],
        ] as const
      ).map(([name, kind, maskSteps]) => [`${name}-p${Math.round(p * 100)}`, { kind, rate: p, maskSteps }]),
    ),
  ),
};

function dropoutSection(arm: LmDropoutArm): DropoutSection | undefined {
  // Every arm setting must act: a rate on "none" or maskSteps on a per-element arm is an error, not ignored.
  if (arm.kind !== "none" && arm.kind !== "elementwise" && arm.kind !== "structured") throw new Error(`arms.*.kind="${arm.kind}" must be elementwise, structured or none`);
  if (arm.kind !== "structured" && arm.maskSteps !== 1) throw new Error(`arms.*.maskSteps=${arm.maskSteps} only applies to kind "structured" (got "${arm.kind}"): set it to 1`);
  if (arm.kind === "none" && arm.rate !== 0) throw new Error(`arms.*.rate=${arm.rate} on kind "none": set it to 0 (or choose elementwise/structured)`);
  if (arm.kind === "none" || arm.rate === 0) return undefined;
  // Zaremba: dropout on the non-recurrent connections only (embedding→L1, L1→L2, L2→softmax).
  return { kind: arm.kind, embedding: 0, input: arm.rate, hidden: arm.rate, output: arm.rate, weightDrop: 0, ...(arm.kind === "structured" ? { maskSteps: arm.maskSteps } : {}) };
}

function scheduleOf(c: StructuredDropoutLmConfig<unknown>): ScheduleOptions {
  const d = c.learningRateDecay;
  if (d.factor === 1) return { kind: "constant", learningRate: c.model.learningRate };
  return { kind: "step", learningRate: c.model.learningRate, factor: d.factor, every: d.every, start: d.start };
}

async function runArm(ctx: ArmContext<StructuredDropoutLmConfig<Record<string, LmDropoutArm>>>) {
  const c = ctx.config;
  const dropout = dropoutSection(c.arms[ctx.arm]);
  const target = c.target.validPerplexity;
  if (!(Number.isFinite(target) && target > 0)) throw new Error(`target.validPerplexity=${target} must be a positive number, fixed before the runs`);
  const outcome = await runLanguageModelArm(ctx, {
    data: c.data,
    level: "word",
    model: c.model,
    ...(dropout ? { dropout } : {}),
    // forgetBias 0: Zaremba et al.'s code initialises every parameter U(±init_scale) with no forget-gate offset
    // (issue 17). DEVIATION: our kernels are U(±1/√H) and biases 0.
    cell: { kind: "lstm", forgetBias: 0 },
    schedule: scheduleOf(c),
    fastPath: c.implementation.fastPath === "auto" ? "auto" : "off",
    ...(c.profile.steps > 0
      ? { evaluateTrained: async ({ architecture, checkpoint, corpus }) => ({ timeBreakdown: await profileLanguageModelSteps(architecture, checkpoint, corpus.train, { steps: c.profile.steps, seed: ctx.seed }) }) }
      : {}),
  });
  return withTimeToTarget(outcome, c.model, target);
}

/**
 * Adds wall time per epoch and the time to the target validation perplexity to an LM arm's final metrics:
 * `secondsPerEpoch` (training steps only: secondsPerStep × steps per epoch), `targetValidPerplexity`,
 * `reachedTargetValidPerplexity` (1/0) and, when reached, `stepsToTargetValidPerplexity`,
 * `epochsToTargetValidPerplexity`, `secondsToTargetValidPerplexity` (training seconds at the run's mean
 * s/step) and `wallSecondsToTargetValidPerplexity` (the trainer's clock at that evaluation, evaluation
 * passes included; absent when that evaluation ran before a resume).
 */
export function withTimeToTarget<O extends { final: Record<string, number>; curves: Record<string, { step: number[]; value: number[] }>; extra?: Record<string, unknown> }>(
  outcome: O,
  model: { batchSize: number; bptt: number; maxStepsPerEpoch: number },
  target: number,
): O {
  const trainTokens = outcome.extra?.trainTokens;
  if (typeof trainTokens !== "number") throw new Error("time to target: the LM outcome has no extra.trainTokens to count steps per epoch");
  const stepsPerEpoch = languageModelStepsPerEpoch(trainTokens, model.batchSize, model.bptt, model.maxStepsPerEpoch);
  const f = outcome.final;
  f.targetValidPerplexity = target;
  // Too few steps for the step timer (smoke runs of 1-2 steps): no time to report.
  if (!(f.secondsPerStep > 0)) return outcome;
  f.secondsPerEpoch = f.secondsPerStep * stepsPerEpoch;
  const curve = outcome.curves.validPerplexity;
  if (!curve) throw new Error("time to target: the LM outcome has no validPerplexity curve");
  const hit = timeToTarget(curve, target, f.secondsPerStep, stepsPerEpoch);
  f.reachedTargetValidPerplexity = hit ? 1 : 0;
  if (hit) {
    f.stepsToTargetValidPerplexity = hit.step;
    f.epochsToTargetValidPerplexity = hit.epoch;
    f.secondsToTargetValidPerplexity = hit.seconds;
    const wall = outcome.curves.validElapsedSeconds;
    const at = wall ? wall.step.indexOf(hit.step) : -1;
    if (at >= 0) f.wallSecondsToTargetValidPerplexity = wall!.value[at];
  }
  return outcome;
}

const smoke = { ...smokeLanguageModel, learningRateDecay: { factor: 1 }, profile: { steps: 1 } };
delete (smoke as { dropout?: unknown }).dropout;

const reportedNote =
  "The paper reports 1.23–1.64× faster training at the same metric (docs/papers/structured-dropout.md, abstract); its perplexities are unknown [U]. Compare secondsPerStep across arms.";

registerExperiment<SdPtbConfig>({
  id: "sdropout/ptb",
  title: "Structured (batch-shared, per-step) vs per-element dropout, word-level PTB LSTM",
  claim: "Dropping the same units for the whole batch at each step trains faster (smaller GEMMs) at about the same perplexity.",
  base: sdPtbBase,
  schema: sdPtbSchema,
  presets: {
    smoke,
    cpu: {
      // Issue 22: the converged small-scale reproduction. Zaremba et al.'s "small" model as in their code (and the
      // TensorFlow PTB tutorial's SmallConfig): 2x200, untied, batch 20, BPTT 20, SGD lr 1 halved every epoch
      // after epoch 4 (epochs 1-4 at lr 1, epoch 5 at 0.5, ...; schedules.ts {factor 0.5, every 1, start 4}),
      // clip 5, 13 epochs over the full training split (2,324 steps an epoch), full validation and test splits,
      // best-valid selection (the trainer's default), test at batch 1. Dropout p = 0.5 between layers (the base's
      // arms). Validation every 581 steps (a quarter epoch; the epoch end evaluates again at the same step), which
      // is the resolution of the time to target. DEVIATION: LSTM kernels are U(±1/√200) = ±0.071 with zero
      // biases, not Zaremba's U(±0.1) everywhere (the trainer has no init-scale option); embedding and softmax are U(±0.1).
      // SGD lr 1 / clip 5 rather than Adam also keeps the dropout-free arm's carried cell state bounded (issue 17: Adam
      // 2e-3 / clip 0.25 let max |c| grow to 345 by step 100 on a 2x200 probe; SGD lr 1 kept it near 3).
      //
      // Target (chosen before any run of this config, not from its results): validation perplexity 150. Zaremba
      // et al. Table 1 give the small model without dropout valid 120.7 / test 114.5 after 13 epochs, and the issue
      // asks the per-element arm to reach test <= 125 (valid about 130 at PTB's valid/test ratio 1.05); the
      // TensorFlow tutorial's small-config log [R] is near valid 150 after two of its 13 epochs. 150 is therefore
      // passed mid-run by a per-element arm that meets the target, while the lr is still 1 (before the decays
      // that end learning), and it is within reach of the slower-learning structured arms.
      //
      // Budget: an EXTRAPOLATION from 10 measured step intervals per arm (12 steps of this preset, 2026-12-02), timed as
      // process CPU time under nice -n 10 on the loaded 2-core machine (load average 11-16; wall clock there was 14-19x
      // the CPU time, so only CPU time extrapolates): s/step elementwise 0.235, structured (per step) 0.880,
      // structured-window 0.172, none 0.159. x 2,324 steps an epoch x 13 epochs, plus 5 validation passes an epoch
      // (estimated at 1/3 of a step per window, ~50 s) and ~1 min of test at batch 1: about 2.2 h (elementwise),
      // 7.6 h (structured), 1.6 h (structured-window), 1.5 h (none) per run on one free core; 3 seeds = ~39 core-hours,
      // ~20 h on two lanes that each have a core to themselves (docs/papers/structured-dropout.md, cpu-preset table).
      model: {
        embeddingSize: 200,
        hiddenSize: 200,
        bptt: 20,
        epochs: 13,
        evaluateEverySteps: 581,
        checkpointEverySteps: 250,
      },
      learningRateDecay: { factor: 0.5, every: 1, start: 4 },
      target: { validPerplexity: 150 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "docs/papers/structured-dropout.md",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: { elementwise: null, structured: null, "structured-window": null, none: null },
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
  schema: sdSweepSchema,
  presets: {
    smoke: { ...smoke, model: { ...smoke.model, maxStepsPerEpoch: 2 } },
    cpu: {
      // Issue 22: the sdropout/ptb cpu preset (Zaremba "small", 13 epochs, lr halved every epoch after epoch 4,
      // full splits, best-valid selection, the same target) at p in {0.3, 0.5, 0.65}: 9 arms x 2 seeds at 13 epochs,
      // the first option, chosen over 3 seeds at fewer epochs so the decay schedule and the final
      // perplexities are those of sdropout/ptb (whose p = 0.5 arms give a third seed at that rate).
      // Budget: an EXTRAPOLATION from the sdropout/ptb cpu measurement at p = 0.5 (10 step intervals per arm, CPU time
      // on the loaded machine; the per-step arm's cost is mostly per-step overhead, so taken as the same at every rate):
      // ~11.4 core-hours per seed over the 3 arms of a rate, 3 rates x 2 seeds = ~68 core-hours, ~34 h on two lanes.
      model: {
        embeddingSize: 200,
        hiddenSize: 200,
        bptt: 20,
        epochs: 13,
        evaluateEverySteps: 581,
        checkpointEverySteps: 250,
      },
      learningRateDecay: { factor: 0.5, every: 1, start: 4 },
      target: { validPerplexity: 150 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0, 1], paper: [0, 1, 2] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "docs/papers/structured-dropout.md",
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
