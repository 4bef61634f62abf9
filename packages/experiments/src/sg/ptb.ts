/**
 * sg/ptb — synthetic gradients for truncated BPTT on word-level PTB: DNI (Jaderberg et al. 2017) and
 * alternating synthetic/real gradients with warm restarts (Shang & Zhang 2019, arXiv 1902.10630).
 *
 * Per segment of T steps from state s_t (docs/papers/synthetic-gradients.md):
 *   backprop L_{t+1..t+T} + ⟨stop(0.1·M(s_{t+T})), s_{t+T}⟩;   δ*_t = ∂(that)/∂s_t;   train M on ‖M(s_t) − δ*_t‖²
 * Alternating mode flips real ↔ synthetic at every SGDR restart, starting real (docs/papers/synthetic-gradients.md).
 * Arms: BPTT(T); DNI(T); DNI(T) + SGDR; alternating + SGDR; BPTT(4T) as the upper reference.
 *
 * DEVIATION: an LSTM instead of the paper's 4-layer QRNN (no QRNN cell in rnnlab).
 * DEVIATION (cpu preset): a linear zero-initialised synthesizer instead of the paper's element-wise QRNN one,
 * and an "epoch" of 400 steps so that SGDR restarts happen within the CPU budget.
 */
import { learningRateAt, sgdrCycleIndex, type CosineRestartsSchedule, type DniConfig, type ScheduleOptions } from "@rnnlab/train";
import type { Curve } from "../types";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";
import { sgPtbSchema } from "./schema";

export interface SgArm {
  /** "none" (plain truncated BPTT) | "synthetic" (DNI) | "alternating". */
  gradients: string;
  /** "constant" | "sgdr". */
  schedule: string;
  /** BPTT window = model.bptt × this (4 for the BPTT(4T) reference). */
  bpttMultiplier: number;
}

export interface SgPtbConfig {
  data: LanguageModelDataSection;
  model: LanguageModelSection;
  dropout: DropoutSection;
  synthesizer: { kind: string; scale: number; learningRate: number; elementwiseUnits: number; noiseStd: number };
  restarts: { period: number; periodMultiplier: number; repeatFirstCycle: boolean; minLearningRate: number };
  arms: { bptt: SgArm; dni: SgArm; dniRestarts: SgArm; alternating: SgArm; bpttLong: SgArm };
}

/** The alternate_sg README's PTB command (docs/papers/synthetic-gradients.md), with an LSTM in place of the QRNN. */
export const sgPtbBase: SgPtbConfig = {
  data: { source: "dataset", dataset: "ptb", generatedVocabularySize: 60, generatedTrainTokens: 4000, maxEvaluationTokens: 0, maxTrainTokens: 0 },
  model: {
    embeddingSize: 400,
    hiddenSize: 1550,
    layers: 4,
    tieWeights: true,
    batchSize: 20,
    evaluationBatchSize: 10,
    bptt: 200,
    variableLength: true,
    epochs: 320,
    maxStepsPerEpoch: 0,
    optimizer: "adam",
    learningRate: 1e-3,
    weightDecay: 1.2e-6,
    clipNorm: 0.2,
    evaluateEverySteps: 0,
    checkpointEverySteps: 500,
    activationRegularization: 2, // alternate_sg main.py defaults --alpha 2 --beta 1 (docs/papers/synthetic-gradients.md)
    temporalActivationRegularization: 1,
  },
  dropout: { kind: "locked", embedding: 0.1, input: 0.4, hidden: 0.3, output: 0.4, weightDrop: 0.1 },
  // Element-wise synthesizer: Linear(1→50), 1-layer recurrent unit of 50, Linear(50→1), input noise N(1, 0.5).
  synthesizer: { kind: "elementwise", scale: 0.1, learningRate: 1e-3, elementwiseUnits: 50, noiseStd: 0.5 },
  // --restart_base 5: cycles of 5, 5, 10, 20, 40, 80, 160 epochs.
  restarts: { period: 5, periodMultiplier: 2, repeatFirstCycle: true, minLearningRate: 0 },
  arms: {
    bptt: { gradients: "none", schedule: "constant", bpttMultiplier: 1 },
    dni: { gradients: "synthetic", schedule: "constant", bpttMultiplier: 1 },
    dniRestarts: { gradients: "synthetic", schedule: "sgdr", bpttMultiplier: 1 },
    alternating: { gradients: "alternating", schedule: "sgdr", bpttMultiplier: 1 },
    bpttLong: { gradients: "none", schedule: "constant", bpttMultiplier: 4 },
  },
};

/** The SGDR schedule of the config's `restarts` section (also used by the figures to mark restart epochs). */
export function restartSchedule(c: SgPtbConfig): CosineRestartsSchedule {
  return {
    kind: "sgdr",
    learningRate: c.model.learningRate,
    minLearningRate: c.restarts.minLearningRate,
    period: c.restarts.period,
    periodMultiplier: c.restarts.periodMultiplier,
    repeatFirstCycle: c.restarts.repeatFirstCycle,
  };
}

function schedule(c: SgPtbConfig, arm: SgArm): ScheduleOptions {
  if (arm.schedule === "constant") return { kind: "constant", learningRate: c.model.learningRate };
  if (arm.schedule === "sgdr") return restartSchedule(c);
  throw new Error(`arms.*.schedule="${arm.schedule}" must be constant or sgdr`);
}

function dni(c: SgPtbConfig, arm: SgArm): DniConfig | undefined {
  if (arm.gradients === "none") return undefined;
  if (arm.gradients !== "synthetic" && arm.gradients !== "alternating") throw new Error(`arms.*.gradients="${arm.gradients}" must be none, synthetic or alternating`);
  return {
    mode: arm.gradients,
    synthesizer: c.synthesizer.kind as "linear" | "elementwise",
    scale: c.synthesizer.scale,
    learningRate: c.synthesizer.learningRate,
    elementwiseUnits: c.synthesizer.elementwiseUnits,
    noiseStd: c.synthesizer.noiseStd,
  };
}

/**
 * Per-step learning rate, gradient mode (1 = synthetic gradients injected, 0 = real truncated BPTT) and tokens
 * seen, recomputed from the schedule exactly as the trainer does (fixed-length windows: epoch position = steps done
 * / steps per epoch), so the figures can mark restarts and modes from the result JSON alone.
 */
export function scheduleCurves(s: ScheduleOptions, arm: SgArm, steps: number, epochs: number, bptt: number): Record<string, Curve> {
  const stepsPerEpoch = Math.max(1, Math.round(steps / epochs));
  const step: number[] = [];
  const learningRate: number[] = [];
  const mode: number[] = [];
  for (let k = 1; k <= steps; k++) {
    const position = (k - 1) / stepsPerEpoch;
    step.push(k);
    learningRate.push(learningRateAt(s, position));
    const synthetic = arm.gradients === "synthetic" || (arm.gradients === "alternating" && sgdrCycleIndex(s as never, position) % 2 === 1);
    mode.push(synthetic ? 1 : 0);
  }
  const tokensPerStep = bptt * arm.bpttMultiplier;
  return {
    learningRate: { step, value: learningRate },
    syntheticGradientMode: { step, value: mode },
    // Tokens per sequence in the batch seen after each step (× batch size for all tokens): a common x axis for BPTT(4T).
    tokensPerSequence: { step, value: step.map((k) => k * tokensPerStep) },
  };
}

registerExperiment<SgPtbConfig>({
  id: "sg/ptb",
  title: "Synthetic gradients (DNI) and alternating synthetic/real gradients with warm restarts, word-level PTB",
  claim: "With a short truncation T, DNI beats plain BPTT(T); alternating SG/real gradients at warm restarts is at least as good as DNI with restarts.",
  base: sgPtbBase,
  schema: sgPtbSchema,
  presets: {
    smoke: {
      ...smokeLanguageModel,
      model: { ...smokeLanguageModel.model, bptt: 4, epochs: 2, maxStepsPerEpoch: 3 },
      synthesizer: { kind: "linear", elementwiseUnits: 4 },
      restarts: { period: 1, periodMultiplier: 1 },
    },
    // our CPU plan in docs/papers/synthetic-gradients.md: 1-layer LSTM 128, T = 8, linear synthesizer, SGDR restarts.
    // Sized for ~15 min on a shared 2-core box: an "epoch" is a full pass over the first 64 000 PTB training tokens
    // (250 steps of 32×8), 4 epochs; SGDR cycles of 0.5, 0.5, 1, 2 epochs → restarts at steps 125, 250, 500.
    cpu: {
      data: { maxTrainTokens: 64000, maxEvaluationTokens: 8000 },
      model: {
        embeddingSize: 128,
        hiddenSize: 128,
        layers: 1,
        batchSize: 32,
        evaluationBatchSize: 32,
        bptt: 8,
        variableLength: false,
        epochs: 4,
        maxStepsPerEpoch: 0,
        optimizer: "adam",
        learningRate: 2e-3,
        weightDecay: 0,
        clipNorm: 0.25,
        // Every 50 short-window steps (12.8k tokens); BPTT(4T) evaluates at the same token counts.
        evaluateEverySteps: 50,
        checkpointEverySteps: 250,
      },
      dropout: { kind: "locked", embedding: 0, input: 0.2, hidden: 0, output: 0.2, weightDrop: 0 },
      synthesizer: { kind: "linear", scale: 0.1, learningRate: 1e-3 },
      restarts: { period: 0.5, periodMultiplier: 2, repeatFirstCycle: true, minLearningRate: 0 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [42] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "docs/papers/synthetic-gradients.md (results table not reachable)",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: { bptt: null, dni: null, dniRestarts: null, alternating: null, bpttLong: null },
    note: "The paper's perplexities are unknown [U]; only the qualitative ordering is compared.",
  },
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  plotCurves: ["validPerplexity", "trainLoss", "synthesizerLoss"],
  runArm: async (ctx) => {
    const c = ctx.config as SgPtbConfig;
    const arm = c.arms[ctx.arm as keyof SgPtbConfig["arms"]];
    const d = dni(c, arm);
    const s = schedule(c, arm);
    const outcome = await runLanguageModelArm(ctx, {
      data: c.data,
      level: "word",
      // Equal tokens per step budget: BPTT(4T) takes a quarter of the steps per epoch and evaluates at the same token counts.
      model: {
        ...c.model,
        bptt: c.model.bptt * arm.bpttMultiplier,
        maxStepsPerEpoch: c.model.maxStepsPerEpoch > 0 ? Math.ceil(c.model.maxStepsPerEpoch / arm.bpttMultiplier) : 0,
        evaluateEverySteps: c.model.evaluateEverySteps > 0 ? Math.max(1, Math.round(c.model.evaluateEverySteps / arm.bpttMultiplier)) : 0,
      },
      dropout: c.dropout,
      // forgetBias 0: alternate_sg is AWD-LSTM code (torch.nn.LSTM, no forget-gate offset; issue 17).
      // DEVIATION: torch's biases are U(±1/√H), ours 0.
      cell: { kind: "lstm", forgetBias: 0 },
      schedule: s,
      ...(d ? { dni: d } : {}),
    });
    return { ...outcome, curves: { ...outcome.curves, ...scheduleCurves(s, arm, outcome.final.steps, c.model.epochs, c.model.bptt) } };
  },
});
