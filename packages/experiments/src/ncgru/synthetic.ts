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
 * Arm `scornn` (issue 24): scoRNN (Helfrich et al. 2018), the paper's orthogonal baseline family: a plain RNN
 * h' = modReLU(W x + U h, b) with U Cayley-orthogonal, trained by the same orthogonal updater and settings
 * (`orthogonal`) as NC-GRU's U_c; sizes parameter-matched (ρ ≈ 40 % of the width, the cell's default).
 * ncgru/neumann (issue 24): ‖UᵀU − I‖_F over training per Neumann order (1, 2, 3), one NC-GRU(U_c) arm per order
 * on the parenthesis task.
 *
 * The parenthesis `cpu` preset is the authors' setting. DEVIATION: the denoise `cpu` preset still uses short
 * sequences (T = 20), 400 steps and a larger learning rate: at T = 200 an NC-GRU step costs ~240 ms here, so
 * the authors' 10k steps × 4 arms × 3 seeds need ~8 hours of the two cores (a later session's runs).
 */
import type { RecurrentCellConfig, SyntheticTask } from "@rnnlab/train";
import { runSyntheticArm, type SyntheticTrainingSection } from "../adapters/synthetic";
import { registerExperiment } from "../registry";
import { ncgruNeumannSchema, ncgruSyntheticSchema } from "./schema";
import type { ArmContext, ArmOutcome, TrainerProgress } from "../types";
import { armParameterCount } from "./parameters";

export interface CellArm {
  /** "nc-gru" | "gru" | "lstm" | "scornn". */
  cell: string;
  hiddenSize: number;
  /** NC-GRU: ρ, the number of −1 entries of D. */
  negativeOnes: number;
  /** NC-GRU: U_r orthogonal too (the paper's NC-GRU(U_c, U_r)). */
  orthogonalReset: boolean;
  /** ncgru/neumann only: this arm's Neumann order (that experiment has no shared orthogonal.neumannOrder). */
  neumannOrder?: number;
}

export interface NcGruSyntheticConfig {
  task: { length: number };
  orthogonal: { neumannOrder: number; recomputeEvery: number; orthogonalLearningRate: number };
  train: SyntheticTrainingSection;
  /** gruMatched (parenthesis only): a GRU of NC-GRU's parameter count, beside the authors' larger GRU. */
  arms: { gru: CellArm; ncgru: CellArm; ncgruReset: CellArm; lstm: CellArm; scornn: CellArm; gruMatched?: CellArm };
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

/**
 * Input and output widths of the synthetic tasks, for parameter counts (armParameterCount): denoise has 9 data
 * symbols + noise + marker in, 9 + blank out; parenthesis 7 tokens in, 3 × 6 classes out.
 */
export const NCGRU_TASK_IO: Readonly<Record<"denoise" | "parenthesis", readonly [input: number, output: number]>> = { denoise: [11, 10], parenthesis: [7, 18] };

/** Arms whose recurrence has Cayley-orthogonal matrices (their largest ‖UᵀU − I‖_F is recorded). */
const ORTHOGONAL_CELLS = ["nc-gru", "scornn"];

function cellOf(name: string, arm: CellArm, o: { neumannOrder?: number; recomputeEvery: number; orthogonalLearningRate: number }): RecurrentCellConfig {
  if (arm.cell === "gru" || arm.cell === "lstm") {
    // Every arm setting must act (issue 17's config-reach test): NC-GRU's settings on a GRU or LSTM arm are refused, not ignored.
    if (arm.negativeOnes !== 0 || arm.orthogonalReset || arm.neumannOrder !== undefined)
      throw new Error(
        `arms.${name}: negativeOnes=${arm.negativeOnes}, orthogonalReset=${arm.orthogonalReset}${arm.neumannOrder !== undefined ? `, neumannOrder=${arm.neumannOrder}` : ""} ` +
          `have no effect on cell "${arm.cell}" (negativeOnes and neumannOrder apply to "nc-gru" and "scornn", orthogonalReset to "nc-gru"): ` +
          `set negativeOnes to 0 and orthogonalReset to false${arm.neumannOrder !== undefined ? ", and remove neumannOrder" : ""}`,
      );
    return { kind: arm.cell };
  }
  if (!ORTHOGONAL_CELLS.includes(arm.cell)) throw new Error(`arms.${name}.cell="${arm.cell}" must be nc-gru, scornn, gru or lstm`);
  if (arm.neumannOrder !== undefined && o.neumannOrder !== undefined)
    throw new Error(`arms.${name}.neumannOrder=${arm.neumannOrder} and orthogonal.neumannOrder=${o.neumannOrder} are both set: set the order in one place`);
  const neumannOrder = arm.neumannOrder ?? o.neumannOrder;
  if (neumannOrder === undefined || ![1, 2, 3].includes(neumannOrder)) throw new Error(`the Neumann order (orthogonal.neumannOrder or arms.*.neumannOrder) is ${neumannOrder}; it must be 1, 2 or 3`);
  const training = { neumannOrder: neumannOrder as 1 | 2 | 3, recomputeEvery: o.recomputeEvery, orthogonalLearningRate: o.orthogonalLearningRate };
  if (arm.cell === "scornn") {
    if (arm.orthogonalReset) throw new Error(`arms.${name}.orthogonalReset=true applies to cell "nc-gru" only (scoRNN has no reset gate): set it to false`);
    return { kind: "scornn", negativeOnes: arm.negativeOnes, ...training };
  }
  return { kind: "nc-gru", negativeOnes: arm.negativeOnes, orthogonalReset: arm.orthogonalReset, ...training };
}

const smoke = {
  task: { length: 12 },
  train: { batchSize: 8, steps: 6, evaluateEvery: 3, evaluationBatches: 1, checkpointEverySteps: 3 },
  // scoRNN 15 (ρ 6): 445 / 513 parameters on denoise / parenthesis, near the NC-GRU arms' 534 / 510 at 8.
  arms: { gru: { hiddenSize: 8 }, ncgru: { hiddenSize: 8, negativeOnes: 3 }, ncgruReset: { hiddenSize: 8, negativeOnes: 3 }, lstm: { hiddenSize: 8 }, scornn: { hiddenSize: 15, negativeOnes: 6 } },
};

function register(id: string, kind: "denoise" | "parenthesis", title: string, claim: string, base: NcGruSyntheticConfig, cpu: object, source: string) {
  registerExperiment<NcGruSyntheticConfig>({
    id,
    title,
    claim,
    base,
    schema: ncgruSyntheticSchema,
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
    runArm: (ctx) => runNcGruSyntheticArm(kind, ctx),
  });
}

/** One (arm, seed) of a synthetic NC-GRU experiment (ncgru/denoise, ncgru/parenthesis, ncgru/neumann). */
async function runNcGruSyntheticArm(
  kind: "denoise" | "parenthesis",
  ctx: ArmContext<{ task: { length: number }; orthogonal: { neumannOrder?: number; recomputeEvery: number; orthogonalLearningRate: number }; train: SyntheticTrainingSection; arms: Record<string, CellArm> }>,
): Promise<ArmOutcome> {
  const c = ctx.config;
  const arm = c.arms[ctx.arm];
  if (!arm) throw new Error(`arm "${ctx.arm}" is not in arms (${Object.keys(c.arms).join(", ")})`);
  const task: SyntheticTask = kind === "denoise" ? { kind, length: c.task.length, dataSymbols: 9 } : { kind, length: c.task.length };
  const tracked = trackOrthogonalityError(ctx);
  const outcome = await runSyntheticArm(tracked, { task, cell: cellOf(ctx.arm, arm, c.orthogonal), hiddenSize: arm.hiddenSize, train: c.train });
  if (ORTHOGONAL_CELLS.includes(arm.cell)) outcome.final.maxOrthogonalityError = tracked.largest(outcome);
  const [inputSize, outputSize] = NCGRU_TASK_IO[kind];
  outcome.final.parameters = armParameterCount(arm, inputSize, outputSize);
  return outcome;
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
    // Ours: scoRNN 244 (ρ 97 ≈ 40 %) has 35.0k parameters, matched to GRU 100 (34.9k; NC-GRU 118: 40.2k / 33.2k).
    // DEVIATION: the authors' scoRNN denoise script uses hidden 200 (24.3k here), T = 400 and RMSprop 1e-4;
    // here it shares the other arms' T, optimizer and the A settings in `orthogonal`, so only the cell differs.
    scornn: { cell: "scornn", hiddenSize: 244, negativeOnes: 97, orthogonalReset: false },
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
      scornn: { hiddenSize: 77, negativeOnes: 30 }, // 4.63k parameters (GRU 32: 4.65k)
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
    // Ours: scoRNN 114 (ρ 45 ≈ 40 %) has 9.4k parameters, matched to gruMatched (9.4k) and the NC-GRU arms (10.2k / 8.6k).
    // Cost: scoRNN has no fused kernel and steps through T = 200: measured 0.265 s/step vs NC-GRU's 0.048 (20 steps,
    // both cores busy), so ≈ 90 minutes per 20k-step seed.
    scornn: { cell: "scornn", hiddenSize: 114, negativeOnes: 45, orthogonalReset: false },
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

export interface NcGruNeumannConfig {
  task: { length: number };
  /** No shared neumannOrder: each arm sets its own (the experiment's axis). */
  orthogonal: { recomputeEvery: number; orthogonalLearningRate: number };
  train: SyntheticTrainingSection;
  arms: { order1: CellArm; order2: CellArm; order3: CellArm };
}

/**
 * ncgru/neumann (issue 24, "orthogonality over training per Neumann order"): NC-GRU(U_c) on parenthesis with the
 * inverse (I + A)⁻¹ updated by a Neumann series of order 1, 2 or 3 between exact recomputes every 49 steps; measured:
 * ‖U_cᵀU_c − I‖_F per step (curve `orthogonalityError`, and the largest per step in final `maxOrthogonalityError`)
 * and the test loss. Base: the authors' parenthesis setting and NC-GRU size (56, ρ 40), order 2 being theirs.
 */
export const ncgruNeumannBase: NcGruNeumannConfig = {
  task: { length: ncgruParenthesisBase.task.length },
  orthogonal: { recomputeEvery: ncgruParenthesisBase.orthogonal.recomputeEvery, orthogonalLearningRate: ncgruParenthesisBase.orthogonal.orthogonalLearningRate },
  train: { ...ncgruParenthesisBase.train },
  arms: {
    order1: { ...ncgruParenthesisBase.arms.ncgru, neumannOrder: 1 },
    order2: { ...ncgruParenthesisBase.arms.ncgru, neumannOrder: 2 },
    order3: { ...ncgruParenthesisBase.arms.ncgru, neumannOrder: 3 },
  },
};

registerExperiment<NcGruNeumannConfig>({
  id: "ncgru/neumann",
  title: "NC-GRU: orthogonality error over training per Neumann order (parenthesis task)",
  claim: "The truncated Neumann update keeps U_c nearly orthogonal between exact recomputes; the drift shrinks as the order grows.",
  base: ncgruNeumannBase,
  schema: ncgruNeumannSchema,
  presets: {
    smoke: { ...smoke, arms: { order1: { hiddenSize: 8, negativeOnes: 3 }, order2: { hiddenSize: 8, negativeOnes: 3 }, order3: { hiddenSize: 8, negativeOnes: 3 } } },
    // DEVIATION (cpu preset): 3000 of the authors' 20k steps and 1 seed: the drift between recomputes (every 49 steps)
    // shows from the first cycles. Measured 0.064 s/step (order 3, 20 steps, both cores busy with other runs):
    // 3 arms × 3000 steps ≈ 10 minutes of one core.
    cpu: { train: { steps: 3000 } },
    paper: {},
  },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [0, 1, 2] },
  data: { kind: "synthetic", task: "parenthesis" },
  reported: {
    source: "docs/papers/nc-gru.md (the authors offer orders 1-3 and use 2; no per-order numbers are reported)",
    metric: "largest ‖U_cᵀU_c − I‖_F over training",
    ourMetric: "maxOrthogonalityError",
    lowerIsBetter: true,
    values: { order1: null, order2: null, order3: null },
    note: "The paper reports no orthogonality error per Neumann order [U]; the curves are descriptive.",
  },
  primaryMetric: { name: "maxOrthogonalityError", lowerIsBetter: true },
  plotCurves: ["orthogonalityError", "testLoss", "trainLoss"],
  runArm: (ctx) => runNcGruSyntheticArm("parenthesis", ctx),
});
