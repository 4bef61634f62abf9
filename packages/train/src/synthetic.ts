/**
 * Trainer for the synthetic long-memory tasks (docs/papers/atn.md, docs/papers/nc-gru.md, docs/papers/baselines.md), each evaluated next to its trivial
 * baseline from @rnnlab/data:
 *   adding:      y = w·h_T + b, loss = mean (y − target)²              baseline MSE 1/6
 *   copying:     logits_t = W h_t + b, loss = mean_t,b CE                 baseline 10·ln 8/(T+20)
 *   denoise:     same as copying                                         baseline 10·ln n/(T+20)
 *   parenthesis: 3 × 6-way softmax per step, loss = mean CE per output   baseline H(time-averaged counts)
 * Inputs: adding's two channels as they are; symbols one-hot. The recurrent stack is any cells variant;
 * NC-GRU's orthogonal matrix is updated after each optimizer step (./orthogonal.ts) and its orthogonality
 * error ‖UᵀU − I‖_F is logged with the gradient norm. Training batches are fresh draws from the train
 * stream; evaluation uses a fixed set drawn once from its own stream. Schedule positions are counted
 * in optimizer steps (an SGDR period of 500 means 500 steps).
 */
import { tf, Rng } from "@rnnlab/core";
import { createCell, ORTHOGONAL_CELL_KINDS, type Cell } from "@rnnlab/cells";
import type { RecurrentCellConfig } from "./model";
import { createVariables, computeGradients, type VariableSet } from "./params";
import { Optimizer, type OptimizerOptions } from "./optim";
import { validateSchedule, type ScheduleOptions } from "./schedules";
import type { OnProgress } from "./events";
import type { CheckpointData, CheckpointManager } from "./checkpoint";
import { OrthogonalUpdater, type OrthogonalOptions } from "./orthogonal";
import { checkKeys, checkPositiveInteger } from "./validate";
import { TrainingLoop, type LoopPosition, type LoopTask, type StepOutput } from "./loop";
import { GradientUpdater, OrthogonalHook, ScheduleHook, optimizedVariables, type PostStepHook } from "./loop-hooks";
import {
  CurveSet, checkCheckpointIdentity, encodeParts, loadForResume, optimizerPart, orthogonalPart, parametersPart, restoreParts, type CheckpointPart,
} from "./loop-checkpoint";
import { ModelSelector, writeSelectedModel, type ModelSelection } from "./loop-selection";
import { taskSpec, syntheticForward, disposeBatch, type Batch, type SyntheticParams, type TaskSpec } from "./synthetic-tasks";

export type SyntheticTask =
  | { kind: "adding"; length: number }
  | { kind: "copying"; delay: number; dataSymbols?: number }
  | { kind: "denoise"; length: number; dataSymbols?: number }
  | { kind: "parenthesis"; length: number };

export interface SyntheticTrainConfig {
  task: SyntheticTask;
  cell: RecurrentCellConfig;
  hiddenSize: number;
  /** Default 1. */
  layers?: number;
  batchSize: number;
  steps: number;
  optimizer: OptimizerOptions;
  /** Positions in optimizer steps. */
  schedule: ScheduleOptions;
  clipNorm?: number;
  seed: number;
  /** Evaluate every N steps (and at the end). */
  evaluateEvery: number;
  /** Size of the fixed evaluation set, in batches of batchSize (default 4). */
  evaluationBatches?: number;
  stepCurveCapacity?: number;
}

const KEYS = ["task", "cell", "hiddenSize", "layers", "batchSize", "steps", "optimizer", "schedule", "clipNorm", "seed", "evaluateEvery", "evaluationBatches", "stepCurveCapacity"];

export interface SyntheticEvaluation {
  step: number;
  loss: number;
  baseline: number;
  /** Share of correctly predicted symbols on the steps that carry data (copying, denoise) or of all outputs (parenthesis). */
  accuracy?: number;
}

export interface SyntheticResult {
  steps: number;
  elapsedMs: number;
  baseline: number;
  /** "mse" for adding, "crossEntropy" (nats per output) otherwise. */
  lossKind: "mse" | "crossEntropy";
  final: SyntheticEvaluation;
  evaluations: SyntheticEvaluation[];
  trainLossCurve: { step: number; value: number }[];
  gradientNormCurve: { step: number; value: number }[];
  orthogonalityErrorCurve?: { step: number; value: number }[];
  /**
   * Which parameters `final` reports: always the last ones (rule "last"; the evaluation set is the only
   * held-out set, so selecting on it would report a selected-on number). Written as selected.rnnlab.
   */
  selection?: ModelSelection;
}

export function validateSyntheticConfig(c: SyntheticTrainConfig): void {
  checkKeys("config", c, KEYS);
  checkPositiveInteger("config.hiddenSize", c.hiddenSize);
  checkPositiveInteger("config.batchSize", c.batchSize);
  checkPositiveInteger("config.steps", c.steps);
  checkPositiveInteger("config.evaluateEvery", c.evaluateEvery);
  if (c.layers !== undefined) checkPositiveInteger("config.layers", c.layers);
  if (!Number.isInteger(c.seed)) throw new Error(`config.seed=${c.seed} must be an integer`);
  validateSchedule(c.schedule);
  const kinds = ["adding", "copying", "denoise", "parenthesis"];
  if (!c.task || !kinds.includes(c.task.kind)) throw new Error(`config.task.kind="${(c.task as { kind?: string })?.kind}" must be one of ${kinds.join(", ")}`);
  const length = c.task.kind === "copying" ? c.task.delay : c.task.length;
  checkPositiveInteger(`config.task.${c.task.kind === "copying" ? "delay" : "length"}`, length, c.task.kind === "denoise" ? 10 : 2);
}

/**
 * The synthetic trainer as a `LoopTask` (./loop.ts): one "epoch" of `steps` fresh batches, evaluation on
 * the fixed set every `evaluateEvery` steps and at the end. Checkpoint layout (unchanged from before the
 * loop, so older checkpoints resume): meta { kind "synthetic", config, step, done, result, optimizer, rng,
 * orthogonal?, elapsedMs, evaluations, curves { train, norm, orth } }, tensors param/, opt/.
 */
class SyntheticTrainer implements LoopTask {
  readonly loop: TrainingLoop;
  readonly set: VariableSet<SyntheticParams>;
  private readonly spec: TaskSpec;
  private readonly cells: Cell[];
  private readonly optimizer: Optimizer;
  private readonly orthogonal?: OrthogonalUpdater;
  private readonly updater: GradientUpdater;
  private readonly schedule: ScheduleHook;
  private readonly selector = new ModelSelector("last");
  private readonly curves: CurveSet;
  private readonly evalBatches: Batch[];
  private rng: Rng;
  private evaluations: SyntheticEvaluation[] = [];
  private result?: SyntheticResult;

  constructor(readonly config: SyntheticTrainConfig, readonly options: { onProgress?: OnProgress; checkpoints?: CheckpointManager; resume?: boolean }) {
    this.spec = taskSpec(config.task);
    const H = config.hiddenSize;
    this.cells = Array.from({ length: config.layers ?? 1 }, (_, l) => createCell(config.cell, l === 0 ? this.spec.inputSize : H, H));
    const root = new Rng(config.seed);
    this.rng = root.fork("train");
    const initRng = root.fork("init");
    const limit = 1 / Math.sqrt(H);
    const tree: SyntheticParams = {
      layers: this.cells.map((c, l) => c.init(initRng.fork(`layer${l}`)) as Record<string, tf.Tensor>),
      head: { kernel: tf.tensor2d(initRng.fillUniform(new Float32Array(H * this.spec.outputSize), -limit, limit), [H, this.spec.outputSize]), bias: tf.zeros<tf.Rank.R1>([this.spec.outputSize]) },
    };
    this.set = createVariables(tree, { scope: `synthetic-${config.task.kind}` });
    tf.dispose([...tree.layers.flatMap((l) => Object.values(l)), tree.head.kernel, tree.head.bias]);
    this.orthogonal = ORTHOGONAL_CELL_KINDS.includes(config.cell.kind) ? new OrthogonalUpdater(this.set.variables, config.cell as OrthogonalOptions, config.optimizer) : undefined;
    const hooks: PostStepHook[] = this.orthogonal ? [new OrthogonalHook(this.orthogonal)] : [];
    this.optimizer = new Optimizer(config.optimizer, optimizedVariables(this.set.variables, hooks));
    this.updater = new GradientUpdater(this.optimizer, config.clipNorm ?? 0, hooks);
    this.schedule = new ScheduleHook(config.schedule);
    const evalRng = root.fork("evaluation");
    this.evalBatches = Array.from({ length: config.evaluationBatches ?? 4 }, () => this.spec.draw(evalRng, config.batchSize));
    this.curves = new CurveSet({ train: "loss", norm: "gradientNorm", orth: "orthogonalityError" }, config.stepCurveCapacity ?? 512);
    this.loop = new TrainingLoop({
      epochs: 1, totalSteps: config.steps, onProgress: options.onProgress, checkpoints: options.checkpoints, curves: this.curves,
      encode: () => this.encode(), nonFinite: (loss, step) => `training loss became ${loss} at step ${step}: lower the learning rate or set clipNorm`,
    });
  }

  private get params(): SyntheticParams {
    return this.set.tree;
  }

  private statePart(): CheckpointPart {
    return {
      save: (ck) => {
        Object.assign(ck.meta, {
          step: this.loop.position.step, done: this.result !== undefined, result: this.result, rng: this.rng.state(),
          elapsedMs: this.loop.clock.elapsedMs(), evaluations: this.evaluations,
        });
      },
      restore: (ck) => {
        const meta = ck.meta as { step: number; done: boolean; result?: SyntheticResult; rng: ReturnType<Rng["state"]>; elapsedMs: number; evaluations: SyntheticEvaluation[] };
        this.rng = Rng.fromState(meta.rng);
        this.evaluations = meta.evaluations;
        this.result = meta.done ? meta.result : undefined;
        this.loop.resumeAt({ step: meta.step, epoch: 0, batchIndex: meta.step }, meta.elapsedMs);
      },
    };
  }

  private parts(): CheckpointPart[] {
    return [parametersPart(this.set.variables), optimizerPart(this.optimizer), orthogonalPart(this.orthogonal), this.statePart(), this.curves.part()];
  }

  private encode(): CheckpointData {
    return encodeParts({ kind: "synthetic", config: this.config }, this.parts());
  }

  /** Restore from the run's checkpoint when there is one; returns the result of a finished run. */
  resume(): SyntheticResult | undefined {
    const ck = loadForResume(this.options.checkpoints, this.options.resume);
    if (!ck) return undefined;
    checkCheckpointIdentity(ck, this.options.checkpoints!.file, "synthetic", "synthetic-task", this.config);
    restoreParts(ck, this.options.checkpoints!.file, this.parts());
    return this.result;
  }

  hasStep(pos: LoopPosition): boolean {
    return pos.step < this.config.steps;
  }

  async step(pos: LoopPosition): Promise<StepOutput> {
    const batch = this.spec.draw(this.rng, this.config.batchSize);
    let computed: { loss: tf.Scalar; grads: Record<string, tf.Tensor> };
    try {
      computed = computeGradients(() => syntheticForward(this.config.task, this.cells, this.params, batch, true, this.rng).loss, this.set.variables);
    } finally {
      disposeBatch(batch);
    }
    const learningRate = this.schedule.learningRate(pos.step);
    try {
      const gradientNorm = await this.updater.apply(computed.grads, learningRate);
      return { scalars: { loss: computed.loss, gradientNorm }, metrics: { learningRate, baseline: this.spec.baseline, ...this.updater.metrics() } };
    } catch (e) {
      computed.loss.dispose();
      throw e;
    }
  }

  wantsRead(pos: LoopPosition): boolean {
    return pos.step % this.config.evaluateEvery === 0 || pos.step === this.config.steps;
  }

  async afterStep(pos: LoopPosition): Promise<void> {
    if (!this.wantsRead(pos)) return;
    const e = await this.evaluate();
    this.evaluations.push(e);
    const m: Record<string, number> = { loss: e.loss, baseline: e.baseline };
    if (e.accuracy !== undefined) m.accuracy = e.accuracy;
    this.loop.emit("eval", "test", m, { epoch: 0 });
  }

  /** The fixed evaluation set; one asynchronous read per batch: [loss, correct, total]. */
  async evaluate(): Promise<SyntheticEvaluation> {
    let loss = 0;
    let correct = 0;
    let total = 0;
    for (const b of this.evalBatches) {
      const out = tf.tidy(() => {
        const r = syntheticForward(this.config.task, this.cells, this.params, b, false);
        return tf.stack([r.loss, r.correct ?? tf.scalar(0), tf.scalar(r.total ?? 0)]);
      });
      const v = await out.data();
      out.dispose();
      loss += v[0] / this.evalBatches.length;
      correct += v[1];
      total += v[2];
    }
    const e: SyntheticEvaluation = { step: this.loop.position.step, loss, baseline: this.spec.baseline };
    if (total > 0) e.accuracy = correct / total;
    return e;
  }

  async finish(): Promise<SyntheticResult> {
    const step = this.loop.position.step;
    const final = this.evaluations.at(-1) ?? (await this.evaluate());
    const result: SyntheticResult = {
      steps: step, elapsedMs: this.loop.clock.elapsedMs(), baseline: this.spec.baseline, lossKind: this.spec.lossKind, final, evaluations: this.evaluations,
      trainLossCurve: this.curves.values("train"), gradientNormCurve: this.curves.values("norm"), orthogonalityErrorCurve: this.orthogonal ? this.curves.values("orth") : undefined,
      selection: this.selector.selection(false, { step, epoch: 0, averaged: false, validLoss: final.loss }, final.loss),
    };
    if (this.options.checkpoints) writeSelectedModel(this.options.checkpoints, "synthetic", this.config, this.set.variables, undefined);
    this.loop.emit("done", "test", { loss: final.loss, baseline: final.baseline }, { epoch: 0, elapsedMs: result.elapsedMs });
    this.result = result;
    this.loop.save();
    return result;
  }

  dispose(): void {
    this.loop.dispose();
    for (const b of this.evalBatches) disposeBatch(b);
    this.optimizer.dispose();
    this.orthogonal?.dispose();
    this.selector.dispose();
    this.set.dispose();
  }
}

export async function trainSyntheticTask(
  config: SyntheticTrainConfig,
  options: { onProgress?: OnProgress; checkpoints?: CheckpointManager; resume?: boolean } = {},
): Promise<SyntheticResult> {
  validateSyntheticConfig(config);
  const trainer = new SyntheticTrainer(config, options);
  try {
    const finished = trainer.resume();
    if (finished) return finished;
    await trainer.loop.run(trainer);
    return await trainer.finish();
  } finally {
    trainer.dispose();
  }
}
