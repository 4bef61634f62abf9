/**
 * ncgru/denoise and ncgru/parenthesis — NC-GRU (Mucllari et al. 2022): a GRU whose candidate recurrent
 * matrix is kept orthogonal by the scaled Cayley transform, with the inverse updated by a truncated
 * Neumann series and recomputed exactly every K steps; vs GRU and LSTM with parameter-matched sizes.
 *
 * (docs/papers/nc-gru.md, authors' NCGRU.py / utils.py)
 *   r = σ(W_r x + U_r h + b_r),  z = σ(W_z x + U_z h + b_z),  c = modReLU(W_c x + U_c (r ⊙ h), b_c),  h' = z ⊙ h + (1 − z) ⊙ c
 *   U_c = (I + A)^{-1}(I − A) D,  A skew-symmetric,  D = diag(±1) with ρ entries −1
 *   (I + A_new)^{-1} ≈ (I + X + X²)(I + A_old)^{-1},  X = (I + A_old)^{-1} Δ;  exact recompute every 49 steps
 * Measured: test loss vs the trivial baseline, and the orthogonality error ‖U_cᵀU_c − I‖_F over training.
 *
 * The parenthesis `cpu` preset is the authors' setting. DEVIATION: the denoise `cpu` preset still uses short
 * sequences (T = 20), 400 steps and a larger learning rate: at T = 200 an NC-GRU step costs ~240 ms here, so
 * the authors' 10k steps × 4 arms × 3 seeds need ~8 hours of the two cores (a later session's runs).
 */
import type { RecurrentCellConfig, SyntheticTask } from "@rnnlab/train";
import { runSyntheticArm, type SyntheticTrainingSection } from "../adapters/synthetic";
import { registerExperiment } from "../registry";
import type { ArmContext, ArmOutcome, TrainerProgress } from "../types";
import { armParameterCount } from "./parameters";

export interface CellArm {
  /** "nc-gru" | "gru" | "lstm". */
  cell: string;
  hiddenSize: number;
  /** NC-GRU: ρ, the number of −1 entries of D. */
  negativeOnes: number;
  /** NC-GRU: U_r orthogonal too (the paper's NC-GRU(U_c, U_r)). */
  orthogonalReset: boolean;
}

export interface NcGruSyntheticConfig {
  task: { length: number };
  orthogonal: { neumannOrder: number; recomputeEvery: number; orthogonalLearningRate: number };
  train: SyntheticTrainingSection;
  /** gruMatched (parenthesis only): a GRU of NC-GRU's parameter count, beside the authors' larger GRU. */
  arms: { gru: CellArm; ncgru: CellArm; ncgruReset: CellArm; lstm: CellArm; gruMatched?: CellArm };
}

/**
 * The arm context with an onProgress that remembers the largest ‖UᵀU − I‖_F of any step (the stored
 * curve is downsampled and may miss the peak just before a recompute). `largest(outcome)` also takes
 * the stored curve's maximum, which covers the steps before a resume.
 */
export function trackOrthogonalityError<C>(ctx: ArmContext<C>): ArmContext<C> & { largest(outcome: ArmOutcome): number } {
  let largest = 0;
  return {
    ...ctx,
    onProgress: (e: TrainerProgress) => {
      const v = e.metrics.orthogonalityError;
      if (v !== undefined && v > largest) largest = v;
      ctx.onProgress(e);
    },
    largest: (outcome: ArmOutcome) => Math.max(largest, ...(outcome.curves.orthogonalityError?.value ?? [])),
  };
}

function cellOf(arm: CellArm, o: NcGruSyntheticConfig["orthogonal"]): RecurrentCellConfig {
  if (arm.cell === "gru") return { kind: "gru" };
  if (arm.cell === "lstm") return { kind: "lstm" };
  if (arm.cell === "nc-gru") {
    if (![1, 2, 3].includes(o.neumannOrder)) throw new Error(`orthogonal.neumannOrder=${o.neumannOrder} must be 1, 2 or 3`);
    return {
      kind: "nc-gru",
      negativeOnes: arm.negativeOnes,
      orthogonalReset: arm.orthogonalReset,
      neumannOrder: o.neumannOrder as 1 | 2 | 3,
      recomputeEvery: o.recomputeEvery,
      orthogonalLearningRate: o.orthogonalLearningRate,
    };
  }
  throw new Error(`arms.*.cell="${arm.cell}" must be nc-gru, gru or lstm`);
}

const smoke = {
  task: { length: 12 },
  train: { batchSize: 8, steps: 6, evaluateEvery: 3, evaluationBatches: 1, checkpointEverySteps: 3 },
  arms: { gru: { hiddenSize: 8 }, ncgru: { hiddenSize: 8, negativeOnes: 3 }, ncgruReset: { hiddenSize: 8, negativeOnes: 3 }, lstm: { hiddenSize: 8 } },
};

function register(id: string, kind: "denoise" | "parenthesis", title: string, claim: string, base: NcGruSyntheticConfig, cpu: object, source: string) {
  registerExperiment<NcGruSyntheticConfig>({
    id,
    title,
    claim,
    base,
    presets: { smoke, cpu, paper: {} },
    defaultSeeds: { smoke: [0], cpu: [0, 1, 2], paper: [0, 1, 2] },
    data: { kind: "synthetic", task: kind },
    reported: {
      source,
      metric: "test cross-entropy",
      ourMetric: "testLoss",
      lowerIsBetter: true,
      values: Object.fromEntries(Object.keys(base.arms).map((arm) => [arm, null])),
      note: "The NC-GRU paper's synthetic-task numbers are unknown [U]; compare against the trivial baseline (final 'baseline').",
    },
    primaryMetric: { name: "testLoss", lowerIsBetter: true },
    plotCurves: ["testLoss", "orthogonalityError", "gradientNorm", "trainLoss"],
    runArm: async (ctx) => {
      const c = ctx.config;
      const arm = c.arms[ctx.arm as keyof NcGruSyntheticConfig["arms"]];
      if (!arm) throw new Error(`arm "${ctx.arm}" is not in arms (${Object.keys(c.arms).join(", ")})`);
      const task: SyntheticTask = kind === "denoise" ? { kind, length: c.task.length, dataSymbols: 9 } : { kind, length: c.task.length };
      const tracked = trackOrthogonalityError(ctx);
      const outcome = await runSyntheticArm(tracked, { task, cell: cellOf(arm, c.orthogonal), hiddenSize: arm.hiddenSize, train: c.train });
      if (arm.cell === "nc-gru") outcome.final.maxOrthogonalityError = tracked.largest(outcome);
      // Denoise: 9 data symbols + noise + marker in, 9 + blank out; parenthesis: 7 tokens in, 3 × 6 classes out.
      const [inputSize, outputSize] = kind === "denoise" ? [11, 10] : [7, 18];
      outcome.final.parameters = armParameterCount(arm, inputSize, outputSize);
      return outcome;
    },
  });
}

/** denoise_task/run_*.sh: T = 200, 10k iterations, batch 128, Adam 1e-3; hidden 118 (ρ 50) / 100 / 90. */
export const ncgruDenoiseBase: NcGruSyntheticConfig = {
  task: { length: 200 },
  orthogonal: { neumannOrder: 2, recomputeEvery: 49, orthogonalLearningRate: 1e-3 },
  train: {
    layers: 1,
    batchSize: 128,
    steps: 10000,
    optimizer: "adam",
    learningRate: 1e-3,
    momentum: 0,
    weightDecay: 0,
    clipNorm: 0,
    evaluateEvery: 250,
    evaluationBatches: 4,
    checkpointEverySteps: 250,
  },
  // The scripts' sizes; the U_c, U_r variant's size is our choice (parameter-matched to GRU 100).
  arms: {
    gru: { cell: "gru", hiddenSize: 100, negativeOnes: 0, orthogonalReset: false },
    ncgru: { cell: "nc-gru", hiddenSize: 118, negativeOnes: 50, orthogonalReset: false },
    ncgruReset: { cell: "nc-gru", hiddenSize: 118, negativeOnes: 50, orthogonalReset: true },
    lstm: { cell: "lstm", hiddenSize: 90, negativeOnes: 0, orthogonalReset: false },
  },
};

register(
  "ncgru/denoise",
  "denoise",
  "NC-GRU vs GRU vs LSTM on the denoise task",
  "NC-GRU gets below the trivial baseline 10·ln 9/(T+20) and reaches a low loss faster or more reliably than GRU at long T.",
  ncgruDenoiseBase,
  {
    // DEVIATION (cpu preset, 2-core budget): T = 20 instead of 200, 400 steps of batch 64 instead of 10k of
    // 128, Adam 5e-3 (main and A) instead of 1e-3; sizes parameter-matched to GRU 32 (≈4.6k parameters).
    task: { length: 20 },
    orthogonal: { orthogonalLearningRate: 5e-3 },
    train: { batchSize: 64, steps: 400, learningRate: 5e-3, evaluateEvery: 25, evaluationBatches: 2, checkpointEverySteps: 200 },
    arms: {
      gru: { hiddenSize: 32 },
      ncgru: { hiddenSize: 35, negativeOnes: 14 },
      ncgruReset: { hiddenSize: 38, negativeOnes: 15 },
      lstm: { hiddenSize: 28 },
    },
  },
  "docs/papers/nc-gru.md (denoise_task run_*.sh settings; results not reachable)",
);

/** parenthesis_task/run_*.sh: T = 200, batch 16, 20k steps, L2 1e-4, Adam 1e-3; hidden 56 (ρ 40) / 100 / 42. */
export const ncgruParenthesisBase: NcGruSyntheticConfig = {
  task: { length: 200 },
  orthogonal: { neumannOrder: 2, recomputeEvery: 49, orthogonalLearningRate: 1e-3 },
  train: {
    layers: 1,
    batchSize: 16,
    steps: 20000,
    optimizer: "adam",
    learningRate: 1e-3,
    momentum: 0,
    weightDecay: 1e-4, // DEVIATION: the code applies L2 to the W* variables only; we apply it to all optimized parameters
    clipNorm: 0,
    evaluateEvery: 500,
    evaluationBatches: 16,
    checkpointEverySteps: 500,
  },
  arms: {
    gru: { cell: "gru", hiddenSize: 100, negativeOnes: 0, orthogonalReset: false },
    ncgru: { cell: "nc-gru", hiddenSize: 56, negativeOnes: 40, orthogonalReset: false },
    ncgruReset: { cell: "nc-gru", hiddenSize: 56, negativeOnes: 40, orthogonalReset: true },
    lstm: { cell: "lstm", hiddenSize: 42, negativeOnes: 0, orthogonalReset: false },
    // Ours: the scripts' GRU 100 has 34.5k parameters, 3.4-4x the NC-GRU arms (10.2k / 8.6k) and LSTM 42
    // (9.2k); a GRU of 49 (9.4k) makes the comparison parameter-matched, as the paper's claim is stated.
    gruMatched: { cell: "gru", hiddenSize: 49, negativeOnes: 0, orthogonalReset: false },
  },
};

register(
  "ncgru/parenthesis",
  "parenthesis",
  "NC-GRU vs GRU vs LSTM on the parenthesis-counting task",
  "NC-GRU tracks the open-bracket counts better than GRU and LSTM of similar parameter count.",
  ncgruParenthesisBase,
  // The authors' setting (T = 200, 20k steps of batch 16, Adam 1e-3, their sizes): 6-10 minutes a run here.
  {},
  "docs/papers/nc-gru.md (parenthesis_task run_*.sh settings; results not reachable)",
);
