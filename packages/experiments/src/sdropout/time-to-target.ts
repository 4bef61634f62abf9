/**
 * Time to a target validation quality (issue 22: "same quality in less wall time?"). The target is fixed in
 * the config before the runs; the time is read off the run's validation curve after training:
 *
 *   step*    = the first validation evaluation whose value is at or below the target (lower is better)
 *   seconds* = step* · secondsPerStep          (training time only: evaluation passes excluded, as secondsPerStep)
 *   epoch*   = step* / stepsPerEpoch           (fractional epochs)
 *
 * The resolution is the evaluation interval (`model.evaluateEverySteps`, and every epoch end): the crossing
 * lies somewhere in the interval before step*, so step* is an upper bound at that resolution, the same for
 * every arm. A run that never reaches the target has `reachedTarget…` 0 and no time.
 */
import type { Curve } from "../types";

export interface TimeToTarget {
  step: number;
  epoch: number;
  seconds: number;
}

/** Optimizer steps in one epoch of the language-model trainer (./train lm-trainer's windows, capped by maxStepsPerEpoch). */
export function languageModelStepsPerEpoch(trainTokens: number, batchSize: number, bptt: number, maxStepsPerEpoch = 0): number {
  const rows = Math.floor(trainTokens / batchSize);
  if (rows < 2) throw new Error(`languageModelStepsPerEpoch: ${trainTokens} training tokens are too few for batch ${batchSize}`);
  const windows = Math.ceil((rows - 1) / bptt);
  return maxStepsPerEpoch > 0 ? Math.min(maxStepsPerEpoch, windows) : windows;
}

/** The first point of `curve` at or below `target`, as step, fractional epoch and training seconds; undefined when none is. */
export function timeToTarget(curve: Curve, target: number, secondsPerStep: number, stepsPerEpoch: number): TimeToTarget | undefined {
  if (!(Number.isFinite(target) && target > 0)) throw new Error(`time to target: target=${target} must be a positive number (set target.validPerplexity in the config)`);
  if (!(Number.isFinite(secondsPerStep) && secondsPerStep > 0)) throw new Error(`time to target: secondsPerStep=${secondsPerStep} must be a positive number (the run measured no step time)`);
  if (!(stepsPerEpoch > 0)) throw new Error(`time to target: stepsPerEpoch=${stepsPerEpoch} must be positive`);
  if (curve.step.length !== curve.value.length) throw new Error(`time to target: curve has ${curve.step.length} steps but ${curve.value.length} values`);
  for (let i = 0; i < curve.step.length; i++) {
    // Curves are in evaluation order; a resumed run's curve is still ordered by step.
    if (i > 0 && curve.step[i] < curve.step[i - 1]) throw new Error(`time to target: curve steps are not in order (${curve.step[i - 1]} then ${curve.step[i]})`);
    if (curve.value[i] <= target) {
      const step = curve.step[i];
      return { step, epoch: step / stepsPerEpoch, seconds: step * secondsPerStep };
    }
  }
  return undefined;
}
