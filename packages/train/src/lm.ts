/**
 * Language-model trainer: truncated BPTT with the state carried across windows and cut between them
 * (Williams & Peng 1990; Zaremba et al. 2014; AWD-LSTM, Merity et al. 2017), optional DNI synthetic
 * gradients (./dni.ts), NT-ASGD, and exact checkpoint/resume.
 *
 *   per window: loss = mean CE(next token); g = ∇loss (clipped by global norm); θ ← opt(θ, g, η·L/bptt)
 *   evaluation: perplexity = exp(mean NLL), bits per character = mean NLL / ln 2 (token-weighted)
 *
 * Evaluation (`evaluateLanguageModel`, AWD-LSTM's `evaluate`): the split is batchified into
 * `evaluationBatchSize` columns, the state starts at zero and is carried across the fixed bptt windows of
 * the whole pass; a pass reads nothing but (parameters, tokens, layout), so its result does not depend
 * on what ran before it (tested). It also reports `maxCarriedState`, the largest |h| or |c| at any
 * window boundary. A healthy LSTM keeps |c| near 1/(1 − f); a value that grows with the column length
 * means the cell state integrates without bound (all gates saturated: i, f, o -> 1, g -> ±1, so
 * c_t ≈ c_{t−1} ± 1), and the carried-state perplexity then depends on the batch layout, not on the text.
 * Issue 17 traced the "test above valid" anomaly of the Adam-trained, dropout-free cpu presets to this
 * (measured on PTB, 2x64 LSTM, Adam 0.01, step 100: max|c| 3,900 at evaluation batch 20 and 7,400 at 10;
 * test/valid perplexity 1.30 at batch 20 and 0.71 at batch 10, against 0.94 / 0.98 with the state reset
 * per window and 0.93-0.95 for count models; SGD lr 1 keeps max|c| ≈ 11 and a layout-independent 0.95,
 * and so do AWD-LSTM's AR α = 2 / TAR β = 1 with the same Adam: max|c| 30-40, 0.96-0.97).
 *
 * Model selection (`modelSelection`, default "best-valid", as AWD-LSTM's main.py saves the model at the
 * best validation loss): every validation evaluation that improves on the best so far keeps a copy of
 * the evaluated parameters (the averaged ones under NT-ASGD); `final` reports valid and test of that copy,
 * `last` those of the final parameters, and `selection` says which step was chosen. With checkpoints the
 * copy travels in the checkpoint (exact resume); the parameters `final` reports are written beside it as
 * `selected.rnnlab`.
 *
 * Resume contract: a checkpoint stores parameters, optimizer state, every Rng stream, the schedule and
 * NT-ASGD state, the data position (epoch, batch index, row of the batched stream), the carried hidden
 * state and the curves; resuming continues the identical computation, so a killed-and-resumed run ends
 * with the same metrics as an uninterrupted one (same backend).
 */
import { ARCHITECTURE_KEYS, type LanguageModelArchitecture } from "./model";
import type { OptimizerOptions } from "./optim";
import { validateSchedule, type ScheduleOptions } from "./schedules";
import type { OnProgress, Split } from "./events";
import type { CheckpointManager } from "./checkpoint";
import { validateDni, type DniConfig } from "./dni";
import { checkKeys, checkPositiveInteger } from "./validate";
import type { EvaluationMetrics } from "./lm-evaluate";
import type { ModelSelection } from "./loop-selection";
import { LanguageModelTrainer } from "./lm-trainer";

export interface LanguageModelTrainConfig extends LanguageModelArchitecture {
  batchSize: number;
  /** Default: batchSize. */
  evaluationBatchSize?: number;
  bptt: number;
  /** AWD-LSTM's random window length (lr scaled by L/bptt). Default false. */
  variableLength?: boolean;
  epochs: number;
  /** Cap on windows per epoch (smoke runs). */
  maxStepsPerEpoch?: number;
  optimizer: OptimizerOptions;
  schedule: ScheduleOptions;
  /** Global-norm clip (0 / absent = no clipping). */
  clipNorm?: number;
  /** NT-ASGD's non-monotone interval (optimizer.kind "asgd" without averageFromStart). Default 5. */
  nonmono?: number;
  /** Also evaluate on valid every N steps (0 = only at epoch ends). */
  evaluateEverySteps?: number;
  seed: number;
  /** Report bits per character too. */
  characterLevel?: boolean;
  /** Gate histograms on valid at the end (readable path with the cells' tracer). */
  gateHistograms?: boolean;
  dni?: DniConfig;
  /** Capacity of the decimated step curves (default 512). */
  stepCurveCapacity?: number;
  /** Which parameters `final` reports: "best-valid" (default; the best validation evaluation) or "last". */
  modelSelection?: "best-valid" | "last";
}

export const LM_TRAIN_KEYS = [
  ...ARCHITECTURE_KEYS, "batchSize", "evaluationBatchSize", "bptt", "variableLength", "epochs", "maxStepsPerEpoch", "optimizer",
  "schedule", "clipNorm", "nonmono", "evaluateEverySteps", "seed", "characterLevel", "gateHistograms", "dni", "stepCurveCapacity",
  "modelSelection",
];

export interface LanguageModelData {
  train: ArrayLike<number>;
  valid: ArrayLike<number>;
  test?: ArrayLike<number>;
}

export interface TrainerRunOptions {
  onProgress?: OnProgress;
  /** The only way the trainer writes files. */
  checkpoints?: CheckpointManager;
  /** Continue from the checkpoint when one exists (default true when `checkpoints` is given). */
  resume?: boolean;
}

export interface EvaluationPoint extends EvaluationMetrics {
  step: number;
  epoch: number;
  split: Split;
  averaged: boolean;
}

export interface LanguageModelResult {
  steps: number;
  epochs: number;
  elapsedMs: number;
  /** The selected parameters' metrics (see `selection`). */
  final: { valid: EvaluationMetrics; test?: EvaluationMetrics };
  /** The final parameters' metrics (equal to `final` when the last evaluation was the best). */
  last: { valid: EvaluationMetrics; test?: EvaluationMetrics };
  /** Which parameters `final` reports: the rule, and the step/epoch of the evaluation they come from. */
  selection: ModelSelection;
  evaluations: EvaluationPoint[];
  trainLossCurve: { step: number; value: number }[];
  gradientNormCurve: { step: number; value: number }[];
  synthesizerLossCurve?: { step: number; value: number }[];
  orthogonalityErrorCurve?: { step: number; value: number }[];
  /** Step at which NT-ASGD started averaging, or -1. */
  averagingStartedAtStep: number;
  gateHistograms?: unknown;
  parameterCount: number;
}

export function validateLanguageModelConfig(c: LanguageModelTrainConfig): void {
  checkKeys("config", c, LM_TRAIN_KEYS);
  checkPositiveInteger("config.batchSize", c.batchSize);
  checkPositiveInteger("config.bptt", c.bptt);
  checkPositiveInteger("config.epochs", c.epochs);
  if (c.evaluationBatchSize !== undefined) checkPositiveInteger("config.evaluationBatchSize", c.evaluationBatchSize);
  if (c.maxStepsPerEpoch !== undefined) checkPositiveInteger("config.maxStepsPerEpoch", c.maxStepsPerEpoch);
  if (!Number.isInteger(c.seed)) throw new Error(`config.seed=${c.seed} must be an integer`);
  validateSchedule(c.schedule);
  if (c.modelSelection !== undefined && c.modelSelection !== "best-valid" && c.modelSelection !== "last")
    throw new Error(`config.modelSelection="${c.modelSelection}" must be "best-valid" or "last"`);
  if (c.dni) {
    validateDni(c.dni);
    if (c.dni.mode === "alternating" && c.schedule.kind !== "sgdr")
      throw new Error(`config.dni.mode="alternating" switches at SGDR restarts: set config.schedule.kind="sgdr" (got "${c.schedule.kind}")`);
  }
}

/**
 * Train a language model (see the header); the loop is ./loop.ts, the LM's task ./lm-trainer.ts, its step
 * ./lm-step.ts (DNI: ./lm-dni.ts), its evaluation ./lm-evaluate.ts.
 */
export async function trainLanguageModel(config: LanguageModelTrainConfig, data: LanguageModelData, options: TrainerRunOptions = {}): Promise<LanguageModelResult> {
  validateLanguageModelConfig(config);
  const trainer = new LanguageModelTrainer(config, data, options);
  try {
    const finished = trainer.resume();
    if (finished) return finished;
    await trainer.loop.run(trainer);
    return await trainer.finish();
  } finally {
    trainer.dispose();
  }
}
