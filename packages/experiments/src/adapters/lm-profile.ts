/**
 * Where a language-model training step's time goes: tf.profile over a few forward + backward passes of
 * the trained model (dropout as in training; the optimizer update is not included), with each kernel's
 * time summed into three groups (./kernel-profile.ts; its "recurrence" group counts as "other" here):
 *   matMul          BatchMatMul / _FusedMatMul: the GEMMs that structured dropout shrinks (input
 *                   projections, decoder, their data and weight gradients) and the recurrent ones it does not
 *   gather/scatter  GatherV2 / UnsortedSegmentSum / GatherNd / ScatterNd: the embedding lookup and structured
 *                   dropout's column gathers and their scatter-add gradients (its overhead)
 *   other           everything else (sigmoid, elementwise products, softmax, reshapes, concat/split, …)
 * Kernel times come from the backend's timer (synchronous on wasm and cpu, so they are wall-clock); the
 * profiled step is slower than an unprofiled one by the profiler's bookkeeping, so compare fractions and
 * arms, not absolute step times (those are `secondsPerStep`).
 */
import { tf, Rng } from "@rnnlab/core";
import { LanguageModel, batchifyTokens, flattenParams, pickArchitecture, unflattenLike, windowTensors, type CheckpointData, type LanguageModelParams, type LanguageModelTrainConfig } from "@rnnlab/train";
import { languageModelFromCheckpoint } from "./lm-compression";
import { addKernelTimes, groupKernelTimes, topKernels, type KernelTime } from "./kernel-profile";

export interface StepTimeBreakdown {
  /** Profiled passes (after one warm-up pass). */
  steps: number;
  /** Mean kernel milliseconds per pass, per group, and their sum. */
  matMulMs: number;
  gatherScatterMs: number;
  otherMs: number;
  kernelMs: number;
  /** The eight most expensive kernels (mean ms per pass). */
  topKernels: { name: string; ms: number; calls: number }[];
}

/** Profile `steps` training passes of the checkpoint's model on consecutive windows of `train`. */
export async function profileLanguageModelSteps(
  config: LanguageModelTrainConfig,
  checkpoint: CheckpointData,
  train: ArrayLike<number>,
  options: { steps: number; seed: number },
): Promise<StepTimeBreakdown> {
  if (!(Number.isInteger(options.steps) && options.steps >= 1)) throw new Error(`profile steps=${options.steps} must be a positive integer`);
  const model = new LanguageModel(pickArchitecture(config)); // with dropout, as trained
  const trained = languageModelFromCheckpoint(config, checkpoint);
  const stream = batchifyTokens(train, config.batchSize, "training tokens");
  const rng = new Rng(options.seed).fork("profile");
  // The parameters as a flat list for tf.valueAndGrads, and back to the model's tree (the checkpoint's own naming).
  const named = flattenParams(trained.params);
  const names = Object.keys(named);
  const flat = names.map((k) => named[k]);
  const rebuild = (ps: tf.Tensor[]): LanguageModelParams =>
    unflattenLike(trained.params, Object.fromEntries(names.map((k, i) => [k, ps[i]])));
  const pass = (row: number) => {
    const w = windowTensors(stream, row, config.bptt);
    try {
      tf.tidy(() => {
        const states = model.initialStates(config.batchSize);
        tf.valueAndGrads((...ps: tf.Tensor[]) => model.forward(rebuild(ps), w.inputs, w.targets, states, { training: true, rng }).loss)(flat);
      });
    } finally {
      tf.dispose([w.inputs, w.targets]);
    }
  };
  try {
    pass(0); // warm-up: first-call costs (weight packing caches, kernel setup) are not the step's
    const byKernel = new Map<string, KernelTime>();
    for (let s = 0; s < options.steps; s++) {
      const info = await tf.profile(() => pass(((s + 1) * config.bptt) % Math.max(1, stream.rows - 1)));
      addKernelTimes(info.kernels, byKernel);
    }
    // Three groups, as recorded before the native recurrences existed: those count as "other" here.
    const sums = groupKernelTimes(byKernel, options.steps, { recurrence: "other" });
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      steps: options.steps,
      matMulMs: round(sums.matMul),
      gatherScatterMs: round(sums.gatherScatter),
      otherMs: round(sums.other),
      kernelMs: round(sums.matMul + sums.gatherScatter + sums.other),
      topKernels: topKernels(byKernel, options.steps),
    };
  } finally {
    trained.dispose();
  }
}
