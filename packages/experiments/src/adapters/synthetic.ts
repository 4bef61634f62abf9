/**
 * One (arm, seed) of a synthetic long-memory task (adding, copying, denoise, parenthesis) through
 * @rnnlab/train's trainSyntheticTask, with checkpoints in the run directory.
 */
import { CheckpointManager, configHash as trainerConfigHash, trainSyntheticTask, type RecurrentCellConfig, type SyntheticTask, type SyntheticTrainConfig, type OptimizerOptions } from "@rnnlab/train";
import type { ArmContext, ArmOutcome, Curve } from "../types";
import { StepTimer } from "./step-timer";
import { checkpointStep, curveOf } from "./language-model";

export interface SyntheticTrainingSection {
  layers: number;
  batchSize: number;
  steps: number;
  /** "adam" | "rmsprop" | "sgd". */
  optimizer: string;
  learningRate: number;
  /** RMSprop / SGD momentum (0 = none). */
  momentum: number;
  /** L2 weight decay added to the gradient (0 = none). */
  weightDecay: number;
  /** 0 = no clipping. */
  clipNorm: number;
  evaluateEvery: number;
  evaluationBatches: number;
  checkpointEverySteps: number;
}

function optimizer(t: SyntheticTrainingSection): OptimizerOptions {
  if (t.optimizer === "adam") {
    // Adam has no momentum option: a non-zero value would be dropped silently (issue 17's config-reach test).
    if (t.momentum !== 0) throw new Error(`train.momentum=${t.momentum} has no effect with train.optimizer="adam": set it to 0, or use rmsprop or sgd`);
    return { kind: "adam", weightDecay: t.weightDecay };
  }
  if (t.optimizer === "rmsprop") return { kind: "rmsprop", momentum: t.momentum, weightDecay: t.weightDecay };
  if (t.optimizer === "sgd") return { kind: "sgd", momentum: t.momentum, weightDecay: t.weightDecay };
  throw new Error(`train.optimizer="${t.optimizer}" must be adam, rmsprop or sgd`);
}

/**
 * Test hook (issue 17's config-reach test): when set, called with the trainer config and the checkpoint
 * cadence just before training starts; throwing from it stops the arm. Unset in every real run.
 */
export const syntheticTrainerProbe: {
  observe?: (seen: { config: SyntheticTrainConfig; checkpointEverySteps: number }) => void;
} = {};

export async function runSyntheticArm(
  ctx: ArmContext<object>,
  spec: { task: SyntheticTask; cell: RecurrentCellConfig; hiddenSize: number; train: SyntheticTrainingSection },
): Promise<ArmOutcome> {
  const t = spec.train;
  const config: SyntheticTrainConfig = {
    task: spec.task,
    cell: spec.cell,
    hiddenSize: spec.hiddenSize,
    layers: t.layers,
    batchSize: t.batchSize,
    steps: t.steps,
    optimizer: optimizer(t),
    schedule: { kind: "constant", learningRate: t.learningRate },
    clipNorm: t.clipNorm,
    seed: ctx.seed,
    evaluateEvery: t.evaluateEvery,
    evaluationBatches: t.evaluationBatches,
    stepCurveCapacity: 256,
  };
  syntheticTrainerProbe.observe?.({ config, checkpointEverySteps: t.checkpointEverySteps });
  const checkpoints = new CheckpointManager({ directory: ctx.runDir, everySteps: t.checkpointEverySteps, configHash: trainerConfigHash(config) });
  const resumedFrom = ctx.resume ? checkpointStep(checkpoints) : 0;
  const timer = new StepTimer();
  const result = await trainSyntheticTask(config, {
    checkpoints,
    resume: ctx.resume,
    onProgress: (e) => {
      timer.observe(e);
      if (e.kind !== "done") ctx.onProgress({ step: e.step, totalSteps: e.totalSteps ?? t.steps, split: e.split, metrics: e.metrics });
    },
  });
  const final: Record<string, number> = {
    testLoss: result.final.loss,
    baseline: result.baseline,
    lossOverBaseline: result.final.loss / result.baseline,
    steps: result.steps,
    trainSeconds: result.elapsedMs / 1000,
  };
  if (Number.isFinite(timer.secondsPerStep())) final.secondsPerStep = timer.secondsPerStep();
  if (result.final.accuracy !== undefined) final.testAccuracy = result.final.accuracy;
  // First evaluation step at which the test loss fell below the trivial baseline, and below a tenth of it
  // (clearly solved rather than noise around the baseline); −1: never.
  const below = result.evaluations.find((e) => e.loss < e.baseline);
  final.stepBelowBaseline = below ? below.step : -1;
  const solved = result.evaluations.find((e) => e.loss < 0.1 * e.baseline);
  final.stepBelowTenthOfBaseline = solved ? solved.step : -1;
  const curves: Record<string, Curve> = {
    testLoss: { step: result.evaluations.map((e) => e.step), value: result.evaluations.map((e) => e.loss) },
    trainLoss: curveOf(result.trainLossCurve),
    gradientNorm: curveOf(result.gradientNormCurve),
  };
  if (result.evaluations.some((e) => e.accuracy !== undefined)) {
    curves.testAccuracy = { step: result.evaluations.map((e) => e.step), value: result.evaluations.map((e) => e.accuracy ?? NaN) };
  }
  if (result.orthogonalityErrorCurve) curves.orthogonalityError = curveOf(result.orthogonalityErrorCurve);
  return { final, curves, extra: { lossKind: result.lossKind }, resumedFromStep: resumedFrom };
}
