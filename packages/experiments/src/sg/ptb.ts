/**
 * sg/ptb — synthetic gradients for truncated BPTT on word-level PTB: DNI (Jaderberg et al. 2017) and
 * alternating synthetic/real gradients with warm restarts (Shang & Zhang 2019, arXiv 1902.10630).
 *
 * Per segment of T steps from state s_t (PAPERS.md §2a):
 *   backprop L_{t+1..t+T} + ⟨stop(0.1·M(s_{t+T})), s_{t+T}⟩;   δ*_t = ∂(that)/∂s_t;   train M on ‖M(s_t) − δ*_t‖²
 * Alternating mode flips real ↔ synthetic at every SGDR restart, starting real (PAPERS.md §2c).
 * Arms: BPTT(T); DNI(T); DNI(T) + SGDR; alternating + SGDR; BPTT(4T) as the upper reference.
 *
 * DEVIATION: an LSTM instead of the paper's 4-layer QRNN (no QRNN cell in rnnlab).
 * DEVIATION (cpu preset): a linear zero-initialised synthesizer instead of the paper's element-wise QRNN one,
 * and an "epoch" of 400 steps so that SGDR restarts happen within the CPU budget.
 */
import type { DniConfig, ScheduleOptions } from "@rnnlab/train";
import { runLanguageModelArm, type DropoutSection, type LanguageModelDataSection, type LanguageModelSection } from "../adapters/language-model";
import { smokeLanguageModel } from "../g2lstm/common";
import { registerExperiment } from "../registry";

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

/** The alternate_sg README's PTB command (PAPERS.md §2c), with an LSTM in place of the QRNN. */
export const sgPtbBase: SgPtbConfig = {
  data: { source: "dataset", dataset: "ptb", generatedVocabularySize: 60, generatedTrainTokens: 4000 },
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

function schedule(c: SgPtbConfig, arm: SgArm): ScheduleOptions {
  if (arm.schedule === "constant") return { kind: "constant", learningRate: c.model.learningRate };
  if (arm.schedule === "sgdr") {
    return {
      kind: "sgdr",
      learningRate: c.model.learningRate,
      minLearningRate: c.restarts.minLearningRate,
      period: c.restarts.period,
      periodMultiplier: c.restarts.periodMultiplier,
      repeatFirstCycle: c.restarts.repeatFirstCycle,
    };
  }
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

registerExperiment<SgPtbConfig>({
  id: "sg/ptb",
  title: "Synthetic gradients (DNI) and alternating synthetic/real gradients with warm restarts, word-level PTB",
  claim: "With a short truncation T, DNI beats plain BPTT(T); alternating SG/real gradients at warm restarts is at least as good as DNI with restarts.",
  base: sgPtbBase,
  presets: {
    smoke: {
      ...smokeLanguageModel,
      model: { ...smokeLanguageModel.model, bptt: 4, epochs: 2, maxStepsPerEpoch: 3 },
      synthesizer: { kind: "linear", elementwiseUnits: 4 },
      restarts: { period: 1, periodMultiplier: 1 },
    },
    // PAPERS.md §2c "CPU-affordable reproduction": 1-layer LSTM 128, T = 8, linear synthesizer, SGDR 1,1,2,4.
    cpu: {
      model: {
        embeddingSize: 128,
        hiddenSize: 128,
        layers: 1,
        batchSize: 32,
        evaluationBatchSize: 32,
        bptt: 8,
        variableLength: false,
        // "Epochs" of 400 steps: SGDR cycles 1, 1, 2, 4 fit in 8 of them; BPTT(4T) costs ~4× per step.
        epochs: 8,
        maxStepsPerEpoch: 400,
        optimizer: "adam",
        learningRate: 2e-3,
        weightDecay: 0,
        clipNorm: 0.25,
        checkpointEverySteps: 300,
      },
      dropout: { kind: "locked", embedding: 0, input: 0.2, hidden: 0, output: 0.2, weightDrop: 0 },
      synthesizer: { kind: "linear", scale: 0.1, learningRate: 1e-3 },
      restarts: { period: 1, periodMultiplier: 2, repeatFirstCycle: true, minLearningRate: 0 },
    },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [42] },
  data: { kind: "dataset", datasets: ["ptb"], smoke: "generated bigram corpus (60 words)" },
  reported: {
    source: "PAPERS.md §2c (results table not reachable)",
    metric: "test perplexity",
    ourMetric: "testPerplexity",
    lowerIsBetter: true,
    values: { bptt: null, dni: null, dniRestarts: null, alternating: null, bpttLong: null },
    note: "The paper's perplexities are unknown [U]; only the qualitative ordering is compared.",
  },
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  plotCurves: ["validPerplexity", "trainLoss", "synthesizerLoss"],
  runArm: (ctx) => {
    const c = ctx.config as SgPtbConfig;
    const arm = c.arms[ctx.arm as keyof SgPtbConfig["arms"]];
    const d = dni(c, arm);
    return runLanguageModelArm(ctx, {
      data: c.data,
      level: "word",
      model: { ...c.model, bptt: c.model.bptt * arm.bpttMultiplier },
      dropout: c.dropout,
      cell: { kind: "lstm" },
      schedule: schedule(c, arm),
      ...(d ? { dni: d } : {}),
    });
  },
});
