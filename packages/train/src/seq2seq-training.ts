/**
 * The epoch loop shared by the translation and tagging trainers: length-bucketed batches, gradient step
 * with global-norm clipping, per-epoch learning-rate schedule, validation, progress events, and exact
 * resume through train's CheckpointManager (also mid-epoch).
 *
 * Why a resume is exact: the batch order of epoch e is a pure function of fork("batches:<e>") and the
 * dropout / Gumbel noise of step s of fork("step:<s>"), so a checkpoint needs only the position (epoch,
 * batches done, step), the parameters, the optimizer slots, the plateau state and the running sums.
 */
import { tf, Rng } from "@rnnlab/core";
import { CheckpointManager } from "./checkpoint";
import { clipByGlobalNormOnDevice, createOptimizer, type OptimizerOptions } from "./optim";
import { learningRateAt, plateauInitial, plateauObserve, validateSchedule, type PlateauState, type ScheduleOptions } from "./schedules";
import { emit, Stopwatch, DecimatedCurve, type OnProgress, type CurvePoint } from "./events";
import { computeGradients, disposeNamed, type VariableSet } from "./params";
import { serializeNamed, deserializeTensor, type SerializedTensor } from "./serialize";

/**
 * Batches of example indices: shuffle, cut into pools of `pool` batches, sort each pool by length (so a
 * batch holds similar lengths and little padding), cut into batches, shuffle the batches. pool = 1: no sorting.
 */
export function bucketedBatches(lengths: readonly number[], batchSize: number, pool: number, rng: Rng): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`bucketedBatches: batchSize must be a positive integer, got ${batchSize}`);
  const order = rng.shuffle(lengths.map((_, i) => i));
  const batches: number[][] = [];
  const poolSize = batchSize * Math.max(1, pool);
  for (let start = 0; start < order.length; start += poolSize) {
    const slice = order.slice(start, start + poolSize);
    if (pool > 1) slice.sort((a, b) => lengths[a] - lengths[b] || a - b);
    for (let b = 0; b < slice.length; b += batchSize) batches.push(slice.slice(b, b + batchSize));
  }
  return rng.shuffle(batches);
}

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
   * evaluation) and valid<Metric> of the last evaluation.
   */
  final: Record<string, number>;
  steps: number;
  elapsedMs: number;
  evaluations: Evaluation[];
  curves: { trainLoss: CurvePoint[]; gradientNorm: CurvePoint[] };
  /** Step the run resumed from (0: fresh). */
  resumedFromStep: number;
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
}

interface Position {
  epoch: number;
  batchesDone: number;
  step: number;
  epochLoss: number;
  epochTokens: number;
  /** Wall time spent in training steps (no evaluation), this epoch and in total. */
  epochTrainMs: number;
  trainMs: number;
}

const capitalize = (s: string) => s[0].toUpperCase() + s.slice(1);

export async function runEpochTraining<Batch>(spec: EpochLoopSpec<Batch>, options: EpochTrainingOptions): Promise<EpochTrainingResult> {
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new Error(`training option "epochs" must be a positive integer, got ${options.epochs}`);
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`training option "batchSize" must be a positive integer, got ${options.batchSize}`);
  if (!Number.isInteger(options.seed)) throw new Error(`training option "seed" must be an integer, got ${options.seed}`);
  validateSchedule(options.schedule);
  if (spec.lengths.length === 0) throw new Error("training: the training set is empty");
  const clipNorm = options.clipNorm ?? 5;
  const logEvery = options.logEvery ?? 10;
  const evaluateEvery = options.evaluateEvery ?? 1;
  const pool = options.bucketPool ?? 20;
  const rng = new Rng(options.seed);
  const variables = spec.variables.variables;
  const optimizer = createOptimizer(options.optimizer, variables);
  const batchesPerEpoch = Math.ceil(spec.lengths.length / options.batchSize);
  const totalSteps = batchesPerEpoch * options.epochs;

  let position: Position = { epoch: 0, batchesDone: 0, step: 0, epochLoss: 0, epochTokens: 0, epochTrainMs: 0, trainMs: 0 };
  let plateau: PlateauState | undefined = options.schedule.kind === "plateau" ? plateauInitial(options.schedule) : undefined;
  let evaluations: Evaluation[] = [];
  let final: Record<string, number> = {};
  let trainCurve = new DecimatedCurve(512);
  let normCurve = new DecimatedCurve(512);
  let clock = new Stopwatch();
  let resumedFromStep = 0;

  const checkpoints = options.checkpoints;
  const save = (done: boolean) => {
    if (!checkpoints) return;
    const tensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of Object.entries(serializeNamed(variables))) tensors[`param/${k}`] = v;
    const opt = optimizer.exportState();
    for (const [k, v] of Object.entries(opt.tensors)) tensors[`opt/${k}`] = v;
    checkpoints.save({
      meta: {
        kind: spec.kind, done, position, plateau: plateau ?? null, optimizer: opt.meta, evaluations, final, elapsedMs: clock.elapsedMs(),
        curves: { train: trainCurve.toJSON(), norm: normCurve.toJSON() },
      },
      tensors,
    });
  };
  const result = (): EpochTrainingResult => ({
    final, steps: position.step, elapsedMs: clock.elapsedMs(), evaluations, resumedFromStep,
    curves: { trainLoss: trainCurve.values(), gradientNorm: normCurve.values() },
  });

  try {
    if (checkpoints && (options.resume ?? true)) {
      const ck = checkpoints.load();
      if (ck) {
        const meta = ck.meta as Record<string, never>;
        if (meta.kind !== spec.kind) throw new Error(`checkpoint ${checkpoints.file} is a "${meta.kind}" checkpoint, not "${spec.kind}": delete it or use another directory`);
        for (const [k, v] of Object.entries(variables)) {
          const stored = ck.tensors[`param/${k}`];
          if (!stored) throw new Error(`checkpoint ${checkpoints.file} has no parameter "${k}": it was written by a different model; delete it or use another directory`);
          const t = deserializeTensor(stored);
          v.assign(t);
          t.dispose();
        }
        const optTensors: Record<string, SerializedTensor> = {};
        for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith("opt/")) optTensors[k.slice(4)] = v;
        optimizer.importState({ meta: meta.optimizer, tensors: optTensors });
        position = { ...(meta.position as Position) };
        plateau = (meta.plateau as PlateauState | null) ?? undefined;
        evaluations = meta.evaluations;
        final = meta.final;
        const curves = meta.curves as Record<string, never>;
        trainCurve = DecimatedCurve.fromJSON(curves.train);
        normCurve = DecimatedCurve.fromJSON(curves.norm);
        clock = new Stopwatch(meta.elapsedMs);
        resumedFromStep = position.step;
        if (meta.done) return result();
      }
    }

    while (position.epoch < options.epochs) {
      const epoch = position.epoch;
      const learningRate = learningRateAt(options.schedule, epoch, plateau);
      const order = bucketedBatches(spec.lengths, options.batchSize, pool, rng.fork(`batches:${epoch}`));
      while (position.batchesDone < order.length) {
        const started = Date.now();
        const batch = spec.makeBatch(order[position.batchesDone]);
        const step = position.step;
        let lossValue: number;
        let norm: number;
        let tokens: number;
        try {
          const stepRng = rng.fork(`step:${step}`);
          const { loss, grads } = computeGradients(() => spec.loss(batch, stepRng), variables);
          const clipped = clipByGlobalNormOnDevice(grads, clipNorm);
          optimizer.step(clipped.grads, learningRate);
          disposeNamed(grads);
          disposeNamed(clipped.grads);
          // The step's one read, asynchronous (webgpu cannot read synchronously): loss and gradient norm.
          const read = tf.stack([loss, clipped.norm]);
          [lossValue, norm] = await read.data();
          tf.dispose([read, loss, clipped.norm]);
          tokens = spec.tokens(batch);
        } finally {
          spec.disposeBatch(batch);
        }
        if (!Number.isFinite(lossValue)) throw new Error(`${spec.kind} training: the loss became ${lossValue} at step ${step + 1}; lower the learning rate or clip harder (clipNorm)`);
        const spent = Date.now() - started;
        position = {
          epoch, batchesDone: position.batchesDone + 1, step: step + 1,
          epochLoss: position.epochLoss + lossValue * tokens, epochTokens: position.epochTokens + tokens,
          epochTrainMs: position.epochTrainMs + spent, trainMs: position.trainMs + spent,
        };
        trainCurve.add(position.step, lossValue);
        normCurve.add(position.step, norm);
        if (position.step % logEvery === 0) {
          emit(options.onProgress, {
            kind: "step", step: position.step, epoch, split: "train", totalSteps, elapsedMs: clock.elapsedMs(),
            metrics: { loss: lossValue, gradientNorm: norm, learningRate },
          });
        }
        if (checkpoints?.shouldSave(position.step) && position.batchesDone < order.length) save(false);
      }
      // Training-only time (the structured-dropout comparison is about step cost, not evaluation).
      final = { ...final, trainLoss: position.epochLoss / Math.max(1, position.epochTokens), epochTrainSeconds: position.epochTrainMs / 1000, trainSeconds: position.trainMs / 1000 };
      if (spec.evaluate && ((epoch + 1) % evaluateEvery === 0 || epoch === options.epochs - 1)) {
        const v = spec.evaluate();
        evaluations.push({ step: position.step, epoch, metrics: v.metrics });
        for (const [k, value] of Object.entries(v.metrics)) final[`valid${capitalize(k)}`] = value;
        if (plateau && options.schedule.kind === "plateau") plateau = plateauObserve(options.schedule, plateau, v.metrics.loss);
        emit(options.onProgress, { kind: "eval", step: position.step, epoch, split: "valid", totalSteps, elapsedMs: clock.elapsedMs(), metrics: v.metrics, details: v.details });
      }
      emit(options.onProgress, { kind: "epoch", step: position.step, epoch, split: "train", totalSteps, elapsedMs: clock.elapsedMs(), metrics: { ...final, learningRate } });
      position = { epoch: epoch + 1, batchesDone: 0, step: position.step, epochLoss: 0, epochTokens: 0, epochTrainMs: 0, trainMs: position.trainMs };
      if (checkpoints?.shouldSave(position.step) && position.epoch < options.epochs) save(false);
    }
    emit(options.onProgress, { kind: "done", step: position.step, epoch: options.epochs - 1, split: "train", totalSteps, elapsedMs: clock.elapsedMs(), metrics: final });
    save(true);
    return result();
  } finally {
    optimizer.dispose();
  }
}
