/**
 * The training loop every trainer runs: epoch and step iteration, evaluation scheduling (through the
 * task's callbacks), the logging-interval read of the step scalars, progress events, curves and
 * checkpoints. A trainer is what differs: a `LoopTask` (its batches, its loss and update, its evaluations)
 * and its checkpoint layout (./loop-checkpoint.ts). The update itself is ./loop-hooks.ts' GradientUpdater
 * (clip -> optimizer -> post-step hooks); schedules and NT-ASGD are validation hooks; best-validation
 * selection is ./loop-selection.ts.
 *
 * Reads: a step returns its loss, gradient norm (and e.g. a synthesizer loss) as device scalars; the loop
 * keeps them and reads every pending step with ONE `await data()` each `logEvery` steps (and before an
 * evaluation, a checkpoint and the end of an epoch), then records every step in the curves, checks that
 * the losses are finite and emits one "step" event for the interval's last step. Nothing in a step reads
 * the device synchronously (webgpu cannot in Node, and a synchronous read stalls the GPU queue).
 *
 * Where a new trainer goes: a file that builds its model and variables, a `LoopTask` whose `step` computes
 * gradients and calls `GradientUpdater.apply`, the checkpoint parts it needs, and a function that runs
 * `new TrainingLoop(...).run(task)` and assembles its result (./synthetic.ts is the smallest example,
 * ./lm.ts the fullest).
 */
import { tf } from "@rnnlab/core";
import type { CheckpointData, CheckpointManager } from "./checkpoint";
import { emit, Stopwatch, type OnProgress, type ProgressEvent, type Split } from "./events";
import type { CurveSet } from "./loop-checkpoint";

export interface LoopPosition {
  /** Optimizer steps done (global). */
  step: number;
  /** Current epoch (0-based). */
  epoch: number;
  /** Steps done in the current epoch. */
  batchIndex: number;
}

export interface StepOutput {
  /** The step's device scalars (loss first; gradientNorm, ...): read with the logging interval; the loop disposes them. */
  scalars: Record<string, tf.Scalar>;
  /** Host values known when the step ends (learningRate, orthogonalityError, ...). */
  metrics: Record<string, number>;
  /** DNI gradient mode in force, reported on the step event. */
  gradientMode?: string;
}

export interface LoopTask {
  /** Whether the current epoch has another step at `position`. */
  hasStep(position: LoopPosition): boolean;
  /** One training step (forward, backward, update); the task advances its own data position. */
  step(position: LoopPosition): Promise<StepOutput>;
  /** After a step and its event: mid-epoch evaluations (the loop has read every pending step). */
  afterStep?(position: LoopPosition): Promise<void>;
  /** Whether `afterStep` needs the pending steps read first (e.g. it evaluates at this step). */
  wantsRead?(position: LoopPosition): boolean;
  /** The end of the epoch `position.epoch`: validation, validation hooks, the "epoch" event. */
  endEpoch?(position: LoopPosition): Promise<void>;
  /** Before the next epoch's first step (`position.epoch` is the new epoch): fresh carried state. */
  startEpoch?(position: LoopPosition): void;
  /** Each step's read scalars and host metrics, in step order, when the loop reads them (e.g. a token-weighted epoch loss). */
  readStep?(step: number, metrics: Record<string, number>): void;
}

export interface TrainingLoopOptions {
  epochs: number;
  /** Planned steps, for progress bars. */
  totalSteps: number;
  onProgress?: OnProgress;
  checkpoints?: CheckpointManager;
  /** The trainer's checkpoint (its layout). */
  encode(): CheckpointData;
  curves: CurveSet;
  /** Read the pending step scalars and emit a step event every N steps (default 1). */
  logEvery?: number;
  /** Also save at each epoch end except the last (default false: only at checkpoints.shouldSave(step)). */
  saveEachEpoch?: boolean;
  /**
   * A save due (checkpoints.shouldSave) at an epoch's last step is made after the epoch's end instead (its
   * evaluation done, positioned at the next epoch; none after the last epoch). Default false.
   */
  saveAfterEpochEnd?: boolean;
  /** The error for a non-finite loss at `step` (names the fix). */
  nonFinite(loss: number, step: number): string;
  /** Split named on step events (default "train"). */
  split?: Split;
}

interface Pending {
  step: number;
  epoch: number;
  names: string[];
  values: tf.Scalar[];
  metrics: Record<string, number>;
  gradientMode?: string;
}

export class TrainingLoop {
  position: LoopPosition = { step: 0, epoch: 0, batchIndex: 0 };
  clock = new Stopwatch(0);
  private pending: Pending[] = [];
  private readonly logEvery: number;
  private task?: LoopTask;
  private busyMs = 0;

  constructor(readonly options: TrainingLoopOptions) {
    this.logEvery = options.logEvery ?? 1;
    if (!Number.isInteger(this.logEvery) || this.logEvery < 1) throw new Error(`logEvery=${this.logEvery} must be a positive integer`);
  }

  /** Continue a restored run: its position and the wall time it had already spent. */
  resumeAt(position: LoopPosition, elapsedMs: number): void {
    this.position = { ...position };
    this.clock = new Stopwatch(elapsedMs);
  }

  /** Emit an event at the current position. */
  emit(kind: ProgressEvent["kind"], split: Split, metrics: Record<string, number>, extra: Partial<ProgressEvent> = {}): void {
    const { step, epoch } = this.position;
    emit(this.options.onProgress, { kind, step, epoch, split, metrics, elapsedMs: this.clock.elapsedMs(), totalSteps: this.options.totalSteps, ...extra });
  }

  /** Wall time this process spent in training steps and in reading their scalars (no evaluation, no checkpoint). */
  get trainingMs(): number {
    return this.busyMs;
  }

  save(): void {
    if (this.options.checkpoints) this.options.checkpoints.save(this.options.encode());
  }

  /** Read every pending step (one wait on the device), record the curves, check the losses, emit the last step's event. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const all = batch.flatMap((p) => p.values);
    const stacked = tf.stack(all);
    const started = Date.now();
    let values: Float32Array;
    try {
      values = (await stacked.data()) as Float32Array;
    } finally {
      tf.dispose([stacked, ...all]);
      this.busyMs += Date.now() - started;
    }
    let at = 0;
    let metrics: Record<string, number> = {};
    for (const p of batch) {
      const read = Object.fromEntries(p.names.map((n) => [n, values[at++]]));
      if (!Number.isFinite(read[p.names[0]])) throw new Error(this.options.nonFinite(read[p.names[0]], p.step));
      metrics = { ...read, ...p.metrics };
      this.options.curves.record(p.step, metrics);
      this.task?.readStep?.(p.step, metrics);
    }
    const last = batch[batch.length - 1];
    emit(this.options.onProgress, {
      kind: "step", step: last.step, epoch: last.epoch, split: this.options.split ?? "train", metrics,
      elapsedMs: this.clock.elapsedMs(), totalSteps: this.options.totalSteps, gradientMode: last.gradientMode,
    });
  }

  /** Pending scalars are disposed on an early exit (an exception, a kill). */
  dispose(): void {
    tf.dispose(this.pending.flatMap((p) => p.values));
    this.pending = [];
  }

  /** The epochs from the current position to `epochs`. */
  async run(task: LoopTask): Promise<void> {
    const { checkpoints, epochs, saveAfterEpochEnd } = this.options;
    const pos = this.position;
    this.task = task;
    while (pos.epoch < epochs) {
      while (task.hasStep(pos)) {
        const started = Date.now();
        const out = await task.step(pos);
        this.busyMs += Date.now() - started;
        pos.step++;
        pos.batchIndex++;
        const names = Object.keys(out.scalars);
        this.pending.push({ step: pos.step, epoch: pos.epoch, names, values: names.map((n) => out.scalars[n]), metrics: out.metrics, gradientMode: out.gradientMode });
        const save = (checkpoints?.shouldSave(pos.step) ?? false) && !(saveAfterEpochEnd && !task.hasStep(pos));
        if (pos.step % this.logEvery === 0 || save || task.wantsRead?.(pos)) await this.flush();
        await task.afterStep?.(pos);
        if (save) this.save();
      }
      await this.flush();
      await task.endEpoch?.(pos);
      pos.epoch++;
      pos.batchIndex = 0;
      task.startEpoch?.(pos);
      const due = this.options.saveEachEpoch || (saveAfterEpochEnd && checkpoints?.shouldSave(pos.step));
      if (checkpoints && due && pos.epoch < epochs) this.save();
    }
    await this.flush();
  }
}
