/**
 * The epoch training shared by the translation and tagging trainers: length-bucketed batches, gradient step
 * with global-norm clipping, per-epoch learning-rate schedule, validation, best-validation model selection,
 * progress events, and exact resume through train's CheckpointManager (also mid-epoch). It runs on the
 * training loop (./loop.ts); the task is ./seq2seq-trainer.ts' EpochTrainer.
 */
import type { tf, Rng } from "@rnnlab/core";
import type { CheckpointManager } from "./checkpoint";
import type { OptimizerOptions } from "./optim";
import { validateSchedule, type ScheduleOptions } from "./schedules";
import type { OnProgress, CurvePoint } from "./events";
import type { VariableSet } from "./params";
import type { ModelSelection, SelectionCriterion, SelectionRule } from "./loop-selection";
import { EpochTrainer } from "./seq2seq-trainer";

export { bucketedBatches } from "./seq2seq-trainer";

/** Training options common to the translation and tagging trainers. */
export interface EpochTrainingOptions {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerOptions;
  /** Learning rate per epoch; "plateau" observes the validation loss. */
  schedule: ScheduleOptions;
  /** Global-norm gradient clipping; default 5. 0 disables. */
  clipNorm?: number;
  seed: number;
  /** Emit a "step" event every N steps (default 10). */
  logEvery?: number;
  /** Validate every N epochs (default 1; the last epoch always). */
  evaluateEvery?: number;
  /** Sort by length inside pools of this many batches (default 20; 1 = plain shuffle). */
  bucketPool?: number;
  onProgress?: OnProgress;
  /** Saves at `checkpoints.shouldSave(step)` and when done; the trainer writes no other files. */
  checkpoints?: CheckpointManager;
  /** Continue from the checkpoint in `checkpoints` when there is one (default true). */
  resume?: boolean;
  /**
   * Which parameters the trainer ends with (what the caller evaluates on test): "best-valid" (default; the
   * best validation evaluation by the trainer's selecting metric) or "last".
   */
  modelSelection?: SelectionRule;
}

export interface Evaluation {
  step: number;
  epoch: number;
  /** Validation metrics (loss, perplexity, bleu / f1, ...). */
  metrics: Record<string, number>;
}

export interface EpochTrainingResult {
  /**
   * trainLoss, epochTrainSeconds (training steps only) of the last epoch, trainSeconds (all epochs, without
   * evaluation) and valid<Metric> of the selected parameters' evaluation (see `selection`).
   */
  final: Record<string, number>;
  steps: number;
  elapsedMs: number;
  evaluations: Evaluation[];
  curves: { trainLoss: CurvePoint[]; gradientNorm: CurvePoint[] };
  /** Step the run resumed from (0: fresh). */
  resumedFromStep: number;
  /** Which parameters the trained variables hold (absent without a validation set: the last ones). */
  selection?: ModelSelection;
}

export interface EpochLoopSpec<Batch> {
  /** Checkpoint kind, e.g. "translation"; a checkpoint of another kind is refused. */
  kind: string;
  variables: VariableSet;
  /** Lengths of the training examples (for bucketing). */
  lengths: readonly number[];
  makeBatch(indices: number[]): Batch;
  disposeBatch(batch: Batch): void;
  /** Real tokens in a batch (the weight of its mean loss in the epoch average). */
  tokens(batch: Batch): number;
  /** Mean training loss of a batch (created inside the gradient scope). */
  loss(batch: Batch, rng: Rng): tf.Scalar;
  /** Validation, or undefined when there is no validation set. `loss` drives the plateau schedule. */
  evaluate?: () => { metrics: Record<string, number>; details?: Record<string, unknown> };
  /** The validation metric that selects the parameters (default the loss, lower is better). */
  selectBy?: SelectionCriterion;
  /** Written with the selected parameters (selected.rnnlab beside the checkpoint). */
  config?: unknown;
}

export async function runEpochTraining<Batch>(spec: EpochLoopSpec<Batch>, options: EpochTrainingOptions): Promise<EpochTrainingResult> {
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new Error(`training option "epochs" must be a positive integer, got ${options.epochs}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`training option "batchSize" must be a positive integer, got ${options.batchSize}`);
  if (!Number.isInteger(options.seed)) throw new Error(`training option "seed" must be an integer, got ${options.seed}`);
  const rule = options.modelSelection;
  if (rule !== undefined && rule !== "best-valid" && rule !== "last") throw new Error(`training option "modelSelection" must be "best-valid" or "last", got ${JSON.stringify(rule)}`);
  validateSchedule(options.schedule);
  if (spec.lengths.length === 0) throw new Error("training: the training set is empty");
  const trainer = new EpochTrainer(spec, options);
  try {
    const finished = trainer.resume();
    if (finished) return finished;
    await trainer.loop.run(trainer);
    return await trainer.finish();
  } finally {
    trainer.dispose();
  }
}
