/**
 * The epoch trainer of the translation and tagging trainers as a `LoopTask` of ./loop.ts: length-bucketed
 * batches, the clip -> optimizer update (./loop-hooks.ts' GradientUpdater), a per-epoch learning rate
 * (ScheduleHook; "plateau" observes the validation loss), validation every `evaluateEvery` epochs,
 * best-validation model selection (./loop-selection.ts) and exact resume. Checkpoint layout (the one
 * written before the loop existed, plus the selection):
 *   meta { kind, done, position { epoch, batchesDone, step, epochLoss, epochTokens, epochTrainMs, trainMs },
 *          plateau, optimizer, evaluations, final, elapsedMs, best, selection?, curves { train, norm } }
 *   tensors param/, opt/, best/
 * A save due at an epoch's last step is made after the epoch's validation (the loop's saveAfterEpochEnd).
 *
 * Why a resume is exact: the batch order of epoch e is a pure function of fork("batches:<e>") and the
 * dropout / Gumbel noise of step s of fork("step:<s>"), so a checkpoint needs only the position, the
 * parameters, the optimizer slots, the plateau state, the running sums and the kept best copy.
 */
import { tf, Rng } from "@rnnlab/core";
import type { CheckpointData } from "./checkpoint";
import { Optimizer } from "./optim";
import { computeGradients, type NamedVariables } from "./params";
import type { PlateauState } from "./schedules";
import { TrainingLoop, type LoopPosition, type LoopTask, type StepOutput } from "./loop";
import { GradientUpdater, ScheduleHook } from "./loop-hooks";
import { CurveSet, encodeParts, loadForResume, optimizerPart, parametersPart, restoreParts, type CheckpointPart } from "./loop-checkpoint";
import { ModelSelector, writeSelectedModel, LOSS_CRITERION, type BestEvaluation, type ModelSelection } from "./loop-selection";
import type { EpochLoopSpec, EpochTrainingOptions, EpochTrainingResult, Evaluation } from "./seq2seq-training";

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

/** The checkpointed position and running sums (meta.position). */
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

type Meta = {
  done: boolean;
  position: Position;
  plateau: PlateauState | null;
  evaluations: Evaluation[];
  final: Record<string, number>;
  elapsedMs: number;
  best?: BestEvaluation | null;
  selection?: ModelSelection;
};

const capitalize = (s: string) => s[0].toUpperCase() + s.slice(1);

export class EpochTrainer<Batch> implements LoopTask {
  readonly loop: TrainingLoop;
  private readonly rng: Rng;
  private readonly variables: NamedVariables;
  private readonly optimizer: Optimizer;
  private readonly updater: GradientUpdater;
  private readonly schedule: ScheduleHook;
  private readonly selector: ModelSelector;
  private readonly curves = new CurveSet({ train: "loss", norm: "gradientNorm" }, 512);
  private order?: { epoch: number; batches: number[][] };
  private sums = { epochLoss: 0, epochTokens: 0, epochTrainMs: 0, trainMs: 0 };
  /** The loop's training time already added to `sums`. */
  private timeMark = 0;
  /** Real tokens of the steps whose loss the loop has not read yet. */
  private readonly pendingTokens = new Map<number, number>();
  private evaluations: Evaluation[] = [];
  private final: Record<string, number> = {};
  private selection?: ModelSelection;
  private done = false;
  private resumedFromStep = 0;

  constructor(readonly spec: EpochLoopSpec<Batch>, readonly options: EpochTrainingOptions) {
    this.rng = new Rng(options.seed);
    this.variables = spec.variables.variables;
    this.optimizer = new Optimizer(options.optimizer, this.variables);
    this.updater = new GradientUpdater(this.optimizer, options.clipNorm ?? 5);
    this.schedule = new ScheduleHook(options.schedule);
    this.selector = new ModelSelector(options.modelSelection ?? "best-valid", spec.selectBy ?? LOSS_CRITERION);
    const batchesPerEpoch = Math.ceil(spec.lengths.length / options.batchSize);
    this.loop = new TrainingLoop({
      epochs: options.epochs, totalSteps: batchesPerEpoch * options.epochs, onProgress: options.onProgress, checkpoints: options.checkpoints,
      curves: this.curves, logEvery: options.logEvery ?? 10, saveAfterEpochEnd: true, encode: () => this.encode(),
      nonFinite: (loss, step) => `${spec.kind} training: the loss became ${loss} at step ${step}; lower the learning rate or clip harder (clipNorm)`,
    });
  }

  // ---- checkpoint ---------------------------------------------------------------------------------

  private progressPart(): CheckpointPart {
    return {
      save: (ck) => {
        this.syncTime();
        const { step, epoch, batchIndex } = this.loop.position;
        const meta: Meta = {
          done: this.done, position: { epoch, batchesDone: batchIndex, step, ...this.sums }, plateau: this.schedule.plateau ?? null,
          evaluations: this.evaluations, final: this.final, elapsedMs: this.loop.clock.elapsedMs(), best: this.selector.best ?? null, selection: this.selection,
        };
        Object.assign(ck.meta, meta);
      },
      restore: (ck) => {
        const meta = ck.meta as Meta;
        const { epoch, batchesDone, step, ...sums } = meta.position;
        this.sums = sums;
        this.schedule.plateau = meta.plateau ?? undefined;
        this.evaluations = meta.evaluations;
        this.final = meta.final;
        this.selector.best = meta.best ?? undefined;
        this.selection = meta.selection;
        this.done = meta.done;
        this.resumedFromStep = step;
        this.loop.resumeAt({ step, epoch, batchIndex: batchesDone }, meta.elapsedMs);
      },
    };
  }

  private parts(): CheckpointPart[] {
    return [parametersPart(this.variables), optimizerPart(this.optimizer), this.selector.part(this.variables), this.progressPart(), this.curves.part()];
  }

  private encode(): CheckpointData {
    return encodeParts({ kind: this.spec.kind }, this.parts());
  }

  /** Restore from the run's checkpoint when there is one; returns the result of a finished run. */
  resume(): EpochTrainingResult | undefined {
    const checkpoints = this.options.checkpoints;
    const ck = loadForResume(checkpoints, this.options.resume);
    if (!ck) return undefined;
    const kind = (ck.meta as { kind?: string }).kind;
    if (kind !== this.spec.kind) throw new Error(`checkpoint ${checkpoints!.file} is a "${kind}" checkpoint, not "${this.spec.kind}": delete it or use another directory`);
    restoreParts(ck, checkpoints!.file, this.parts());
    return this.done ? this.result() : undefined;
  }

  // ---- the loop task -------------------------------------------------------------------------------

  /** The batches of `epoch` (a pure function of the seed and the epoch). */
  private batches(epoch: number): number[][] {
    if (this.order?.epoch !== epoch) {
      const batches = bucketedBatches(this.spec.lengths, this.options.batchSize, this.options.bucketPool ?? 20, this.rng.fork(`batches:${epoch}`));
      this.order = { epoch, batches };
    }
    return this.order.batches;
  }

  hasStep(pos: LoopPosition): boolean {
    return pos.batchIndex < this.batches(pos.epoch).length;
  }

  async step(pos: LoopPosition): Promise<StepOutput> {
    const batch = this.spec.makeBatch(this.batches(pos.epoch)[pos.batchIndex]);
    const learningRate = this.schedule.learningRate(pos.epoch);
    let computed: { loss: tf.Scalar; grads: Record<string, tf.Tensor> };
    try {
      const stepRng = this.rng.fork(`step:${pos.step}`);
      computed = computeGradients(() => this.spec.loss(batch, stepRng), this.variables);
      this.pendingTokens.set(pos.step + 1, this.spec.tokens(batch));
    } finally {
      this.spec.disposeBatch(batch);
    }
    try {
      const gradientNorm = await this.updater.apply(computed.grads, learningRate);
      return { scalars: { loss: computed.loss, gradientNorm }, metrics: { learningRate } };
    } catch (e) {
      computed.loss.dispose();
      throw e;
    }
  }

  /** The token-weighted epoch loss, from each step's read loss. */
  readStep(step: number, metrics: Record<string, number>): void {
    const tokens = this.pendingTokens.get(step) ?? 0;
    this.pendingTokens.delete(step);
    this.sums.epochLoss += metrics.loss * tokens;
    this.sums.epochTokens += tokens;
  }

  /** Add the loop's training time since the last call to this epoch's and the run's. */
  private syncTime(): void {
    const spent = this.loop.trainingMs - this.timeMark;
    this.timeMark = this.loop.trainingMs;
    this.sums.epochTrainMs += spent;
    this.sums.trainMs += spent;
  }

  /** End of an epoch: the training-only summary, validation (every evaluateEvery epochs and the last), the "epoch" event. */
  async endEpoch(pos: LoopPosition): Promise<void> {
    this.syncTime();
    const learningRate = this.schedule.learningRate(pos.epoch);
    const { epochLoss, epochTokens, epochTrainMs, trainMs } = this.sums;
    // Training-only time (the structured-dropout comparison is about step cost, not evaluation).
    this.final = { ...this.final, trainLoss: epochLoss / Math.max(1, epochTokens), epochTrainSeconds: epochTrainMs / 1000, trainSeconds: trainMs / 1000 };
    const every = this.options.evaluateEvery ?? 1;
    if (this.spec.evaluate && ((pos.epoch + 1) % every === 0 || pos.epoch === this.options.epochs - 1)) this.validate(pos);
    this.loop.emit("epoch", "train", { ...this.final, learningRate });
  }

  private validate(pos: LoopPosition): void {
    const v = this.spec.evaluate!();
    this.evaluations.push({ step: pos.step, epoch: pos.epoch, metrics: v.metrics });
    for (const [k, value] of Object.entries(v.metrics)) this.final[`valid${capitalize(k)}`] = value;
    this.schedule.observeValidation(v.metrics.loss);
    const at = { step: pos.step, epoch: pos.epoch, averaged: false };
    this.selector.observe(v.metrics.loss, at, this.variables, undefined, v.metrics[this.selector.criterion.metric]);
    this.loop.emit("eval", "valid", v.metrics, { details: v.details });
  }

  startEpoch(): void {
    this.sums = { epochLoss: 0, epochTokens: 0, epochTrainMs: 0, trainMs: this.sums.trainMs };
  }

  // ---- the result ----------------------------------------------------------------------------------

  /**
   * The selected parameters become the trained variables (what the caller evaluates on test); `final`'s
   * valid<Metric> are theirs, and `selection` says which they are.
   */
  async finish(): Promise<EpochTrainingResult> {
    const { step } = this.loop.position;
    const kept = this.selector.selectedCopy(step);
    const last = this.evaluations.at(-1);
    if (kept) {
      for (const [k, v] of Object.entries(this.variables)) v.assign(kept[k]);
      const chosen = this.evaluations.find((e) => e.step === this.selector.best!.step)!;
      for (const [k, value] of Object.entries(chosen.metrics)) this.final[`valid${capitalize(k)}`] = value;
    }
    if (last) {
      const metric = this.selector.criterion.metric;
      const lastAt = { step, epoch: last.epoch, averaged: false, validLoss: last.metrics.loss, value: last.metrics[metric] };
      this.selection = this.selector.selection(kept !== undefined, lastAt, this.selector.best?.loss ?? last.metrics.loss);
    }
    const { checkpoints } = this.options;
    if (checkpoints) writeSelectedModel(checkpoints, this.spec.kind, this.spec.config ?? null, this.variables, this.selector.best);
    this.loop.emit("done", "train", this.final, { epoch: this.options.epochs - 1 });
    this.done = true;
    this.loop.save();
    return this.result();
  }

  private result(): EpochTrainingResult {
    return {
      final: this.final, steps: this.loop.position.step, elapsedMs: this.loop.clock.elapsedMs(), evaluations: this.evaluations, resumedFromStep: this.resumedFromStep,
      curves: { trainLoss: this.curves.values("train"), gradientNorm: this.curves.values("norm") }, selection: this.selection,
    };
  }

  dispose(): void {
    this.loop.dispose();
    this.selector.dispose();
    this.optimizer.dispose();
  }
}
