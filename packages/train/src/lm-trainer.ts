/**
 * The language-model trainer as a `LoopTask` of ./loop.ts: its batches (truncated-BPTT windows over the
 * batchified train stream), its step (./lm-step.ts, with DNI as a wrapper), its evaluations (valid at
 * epoch ends and every `evaluateEverySteps`, averaged under NT-ASGD), its validation hooks (NT-ASGD,
 * plateau), best-validation selection (./loop-selection.ts) and its checkpoint layout:
 *   meta { kind "language-model", config, progress { step, epoch, row, batchIndex, nonMonotone?, plateau?,
 *          evaluations, averagingStartedAtStep, best?, elapsedMs, done, result? }, optimizer,
 *          rng { train, dni }, dni?, orthogonal?, curves { train, norm, synth, orth } }
 *   tensors param/, opt/, state/<layer>/<entry>, best/, dni/
 * (the layout written before the loop existed, so those checkpoints resume).
 */
import { tf, Rng } from "@rnnlab/core";
import { GateTracer, ORTHOGONAL_CELL_KINDS } from "@rnnlab/cells";
import { LanguageModel, pickArchitecture, type LanguageModelParams } from "./model";
import { createVariables, disposeNamed, type NamedTensors, type VariableSet } from "./params";
import { Optimizer, withParameters, type NonMonotoneState } from "./optim";
import type { PlateauState } from "./schedules";
import type { Split } from "./events";
import type { CheckpointData } from "./checkpoint";
import { batchifyTokens, windowTensors, variableWindowLength, type BatchedStream } from "./batching";
import { OrthogonalUpdater, type OrthogonalOptions } from "./orthogonal";
import { TrainingLoop, type LoopPosition, type LoopTask, type StepOutput } from "./loop";
import { GradientUpdater, NtAsgdHook, OrthogonalHook, ScheduleHook, optimizedVariables, type PostStepHook } from "./loop-hooks";
import {
  CurveSet, checkCheckpointIdentity, encodeParts, loadForResume, optimizerPart, orthogonalPart, parametersPart, restoreParts, type CheckpointPart,
} from "./loop-checkpoint";
import { ModelSelector, writeSelectedModel, type BestEvaluation } from "./loop-selection";
import { DniWrapper } from "./lm-dni";
import { LanguageModelStepper, carriedEntries } from "./lm-step";
import { evaluateLanguageModelAsync, type EvaluationMetrics } from "./lm-evaluate";
import type { EvaluationPoint, LanguageModelData, LanguageModelResult, LanguageModelTrainConfig, TrainerRunOptions } from "./lm";

const KIND = "language-model";

interface Progress {
  step: number;
  epoch: number;
  row: number;
  batchIndex: number;
  nonMonotone?: NonMonotoneState;
  plateau?: PlateauState;
  evaluations: EvaluationPoint[];
  averagingStartedAtStep: number;
  best?: BestEvaluation;
  elapsedMs: number;
  done: boolean;
  result?: LanguageModelResult;
}

export function metricsRecord(m: EvaluationMetrics): Record<string, number> {
  const r: Record<string, number> = { loss: m.loss, perplexity: m.perplexity };
  if (m.bitsPerCharacter !== undefined) r.bitsPerCharacter = m.bitsPerCharacter;
  return r;
}

export class LanguageModelTrainer implements LoopTask {
  readonly model: LanguageModel;
  readonly set: VariableSet<LanguageModelParams>;
  readonly rngs: { train: Rng; dni: Rng };
  readonly loop: TrainingLoop;
  private readonly streams: { train: BatchedStream; valid: BatchedStream; test?: BatchedStream };
  private readonly optimizer: Optimizer;
  private readonly orthogonal?: OrthogonalUpdater;
  private readonly schedule: ScheduleHook;
  private readonly ntAsgd?: NtAsgdHook;
  private readonly stepper: LanguageModelStepper;
  private readonly selector: ModelSelector;
  private readonly curves: CurveSet;
  private row = 0;
  private evaluations: EvaluationPoint[] = [];
  private result?: LanguageModelResult;

  constructor(readonly config: LanguageModelTrainConfig, data: LanguageModelData, readonly options: TrainerRunOptions) {
    this.model = new LanguageModel(pickArchitecture(config));
    const root = new Rng(config.seed);
    this.rngs = { train: root.fork("train"), dni: root.fork("dni") }; // replaced on resume; read at call time
    const initial = this.model.init(root.fork("init"));
    this.set = createVariables(initial, { scope: "lm" });
    tf.dispose(initial);
    const evalBatch = config.evaluationBatchSize ?? config.batchSize;
    this.streams = {
      train: batchifyTokens(data.train, config.batchSize, "data.train"),
      valid: batchifyTokens(data.valid, evalBatch, "data.valid"),
      test: data.test ? batchifyTokens(data.test, evalBatch, "data.test") : undefined,
    };
    // NC-GRU: U_c is written by the orthogonal updater (a post-step hook), not by the optimizer.
    this.orthogonal = ORTHOGONAL_CELL_KINDS.includes(config.cell.kind) ? new OrthogonalUpdater(this.set.variables, config.cell as OrthogonalOptions, config.optimizer) : undefined;
    const hooks: PostStepHook[] = this.orthogonal ? [new OrthogonalHook(this.orthogonal)] : [];
    this.optimizer = new Optimizer(config.optimizer, optimizedVariables(this.set.variables, hooks));
    this.schedule = new ScheduleHook(config.schedule);
    if (config.optimizer.kind === "asgd" && !config.optimizer.averageFromStart) this.ntAsgd = new NtAsgdHook(this.optimizer, config.nonmono ?? 5);
    const dni = config.dni
      ? new DniWrapper(config.dni, carriedEntries(this.model), this.model.layerSizes, config.batchSize, this.set.scope, root.fork("dni-init"), () => this.rngs.dni)
      : undefined;
    const updater = new GradientUpdater(this.optimizer, config.clipNorm ?? 0, hooks);
    this.stepper = new LanguageModelStepper(this.model, this.set, config.batchSize, updater, () => this.rngs.train, dni);
    this.selector = new ModelSelector(config.modelSelection ?? "best-valid");
    this.curves = new CurveSet({ train: "loss", norm: "gradientNorm", synth: "synthesizerLoss", orth: "orthogonalityError" }, config.stepCurveCapacity ?? 512);
    this.loop = new TrainingLoop({
      epochs: config.epochs, totalSteps: this.totalSteps(), onProgress: options.onProgress, checkpoints: options.checkpoints, curves: this.curves,
      saveEachEpoch: true, encode: () => this.encode(), nonFinite: (loss, step) => `training loss became ${loss} at step ${step}: lower the learning rate or set clipNorm`,
    });
  }

  private totalSteps(): number {
    const windows = Math.ceil((this.streams.train.rows - 1) / this.config.bptt);
    return this.config.epochs * Math.min(this.config.maxStepsPerEpoch ?? Infinity, windows);
  }

  private get params(): LanguageModelParams {
    return this.set.tree;
  }

  // ---- checkpoint ---------------------------------------------------------------------------------

  private progressPart(): CheckpointPart {
    return {
      save: (ck) => {
        const p: Progress = {
          ...this.loop.position, row: this.row, nonMonotone: this.ntAsgd?.state, plateau: this.schedule.plateau, evaluations: this.evaluations,
          averagingStartedAtStep: this.ntAsgd?.averagingStartedAtStep ?? -1, best: this.selector.best, elapsedMs: this.loop.clock.elapsedMs(),
          done: this.result !== undefined, result: this.result,
        };
        ck.meta.progress = p;
        ck.meta.rng = { train: this.rngs.train.state(), dni: this.rngs.dni.state() };
      },
      restore: (ck) => {
        const p = ck.meta.progress as Progress;
        const rng = ck.meta.rng as Record<"train" | "dni", ReturnType<Rng["state"]>>;
        this.rngs.train = Rng.fromState(rng.train);
        this.rngs.dni = Rng.fromState(rng.dni);
        this.row = p.row;
        if (this.ntAsgd && p.nonMonotone) {
          this.ntAsgd.state = p.nonMonotone;
          this.ntAsgd.averagingStartedAtStep = p.averagingStartedAtStep;
        }
        this.schedule.plateau = p.plateau;
        this.evaluations = p.evaluations;
        this.selector.best = p.best;
        this.result = p.done ? p.result : undefined;
        this.loop.resumeAt({ step: p.step, epoch: p.epoch, batchIndex: p.batchIndex }, p.elapsedMs);
      },
    };
  }

  private parts(): CheckpointPart[] {
    const parts = [parametersPart(this.set.variables), this.selector.part(this.set.variables), optimizerPart(this.optimizer), this.stepper.statePart()];
    if (this.stepper.dni) parts.push(this.stepper.dni.part());
    return [...parts, orthogonalPart(this.orthogonal), this.progressPart(), this.curves.part()];
  }

  private encode(): CheckpointData {
    return encodeParts({ kind: KIND, config: this.config }, this.parts());
  }

  /** Restore from the run's checkpoint when there is one; returns the result of a finished run. */
  resume(): LanguageModelResult | undefined {
    const ck = loadForResume(this.options.checkpoints, this.options.resume);
    if (!ck) return undefined;
    const file = this.options.checkpoints!.file;
    checkCheckpointIdentity(ck, file, KIND, "language-model", this.config);
    restoreParts(ck, file, this.parts());
    if (this.result && !this.result.selection)
      throw new Error(`checkpoint ${file} holds a finished run from before model selection (issue 17): delete it to rerun`);
    return this.result;
  }

  // ---- the loop task -------------------------------------------------------------------------------

  hasStep(pos: LoopPosition): boolean {
    const max = this.config.maxStepsPerEpoch;
    return this.row < this.streams.train.rows - 1 && !(max && pos.batchIndex >= max);
  }

  async step(pos: LoopPosition): Promise<StepOutput> {
    const c = this.config;
    const length = c.variableLength ? variableWindowLength(c.bptt, this.rngs.train) : c.bptt;
    const epochPosition = pos.epoch + this.row / (this.streams.train.rows - 1);
    const w = windowTensors(this.streams.train, this.row, length);
    const learningRate = this.schedule.learningRate(epochPosition) * (c.variableLength ? w.length / c.bptt : 1);
    const mode = this.stepper.dni ? this.stepper.dni.mode(c.schedule, epochPosition) : "real";
    try {
      const scalars = await this.stepper.step(w.inputs, w.targets, learningRate, mode);
      this.row += w.length;
      return { scalars, metrics: { learningRate, ...this.stepper.updater.metrics() }, gradientMode: c.dni ? mode : undefined };
    } finally {
      tf.dispose([w.inputs, w.targets]);
    }
  }

  wantsRead(pos: LoopPosition): boolean {
    const every = this.config.evaluateEverySteps;
    return !!every && pos.step % every === 0;
  }

  async afterStep(pos: LoopPosition): Promise<void> {
    if (this.wantsRead(pos)) await this.evaluationPoint("valid", this.streams.valid);
  }

  /** End of epoch: validation, NT-ASGD's trigger, the plateau reducer, the "epoch" event. */
  async endEpoch(pos: LoopPosition): Promise<void> {
    const point = await this.evaluationPoint("valid", this.streams.valid);
    this.ntAsgd?.observeValidation(point.loss, pos.step);
    this.schedule.observeValidation(point.loss);
    this.loop.emit("epoch", "valid", metricsRecord(point));
  }

  /** Each epoch starts with a fresh state. */
  startEpoch(): void {
    this.row = 0;
    this.stepper.resetState();
  }

  // ---- evaluation and the result ------------------------------------------------------------------

  private evaluate(stream: BatchedStream, tracer?: GateTracer): Promise<EvaluationMetrics> {
    return evaluateLanguageModelAsync(this.model, this.params, stream, this.config.bptt, { characterLevel: this.config.characterLevel, tracer });
  }

  /** Evaluates the current parameters (NT-ASGD's averages when averaging); a validation pass may become the kept best. */
  private async evaluateWithAverage(stream: BatchedStream, selects = false): Promise<{ metrics: EvaluationMetrics; averaged: boolean }> {
    const averagedParams = this.optimizer.averagedParameters();
    try {
      const metrics = await withParameters(this.set.variables, averagedParams, () => this.evaluate(stream));
      const averaged = averagedParams !== undefined;
      const { step, epoch } = this.loop.position;
      if (selects) this.selector.observe(metrics.loss, { step, epoch, averaged }, this.set.variables, averagedParams);
      return { metrics, averaged };
    } finally {
      disposeNamed(averagedParams);
    }
  }

  private async evaluationPoint(split: Split, stream: BatchedStream): Promise<EvaluationPoint> {
    const { metrics, averaged } = await this.evaluateWithAverage(stream, split === "valid");
    const point: EvaluationPoint = { ...metrics, step: this.loop.position.step, epoch: this.loop.position.epoch, split, averaged };
    this.evaluations.push(point);
    this.loop.emit("eval", split, metricsRecord(metrics));
    return point;
  }

  /** The selected parameters' metrics, selected.rnnlab and the gate histograms. */
  private async selectedMetrics(selected: NamedTensors | undefined, reevaluate: boolean) {
    const { valid, test } = this.streams;
    const withSelected = (stream: BatchedStream, tracer?: GateTracer) => withParameters(this.set.variables, selected, () => this.evaluate(stream, tracer));
    const metrics = reevaluate ? { valid: await withSelected(valid), test: test ? await withSelected(test) : undefined } : undefined;
    if (this.options.checkpoints) writeSelectedModel(this.options.checkpoints, KIND, this.config, selected ?? this.set.variables, this.selector.best);
    let gateHistograms: unknown;
    if (this.config.gateHistograms) {
      const tracer = new GateTracer();
      await withSelected(valid, tracer);
      gateHistograms = tracer.toJSON();
    }
    return { metrics, gateHistograms };
  }

  async finish(): Promise<LanguageModelResult> {
    const pos = this.loop.position;
    const { metrics: lastValid, averaged: lastAveraged } = await this.evaluateWithAverage(this.streams.valid);
    const lastTest = this.streams.test ? (await this.evaluateWithAverage(this.streams.test)).metrics : undefined;
    const best = this.selector.selectedCopy(pos.step);
    const selected = best ?? this.optimizer.averagedParameters();
    let chosen: Awaited<ReturnType<LanguageModelTrainer["selectedMetrics"]>>;
    try {
      chosen = await this.selectedMetrics(selected, best !== undefined);
    } finally {
      if (!best) disposeNamed(selected);
    }
    const valid = chosen.metrics?.valid ?? lastValid;
    const test = chosen.metrics ? chosen.metrics.test : lastTest;
    const last = { step: pos.step, epoch: Math.max(0, pos.epoch - 1), averaged: lastAveraged, validLoss: lastValid.loss };
    const result: LanguageModelResult = {
      steps: pos.step, epochs: pos.epoch, elapsedMs: this.loop.clock.elapsedMs(), final: { valid, test }, last: { valid: lastValid, test: lastTest },
      selection: this.selector.selection(best !== undefined, last, valid.loss), evaluations: this.evaluations,
      trainLossCurve: this.curves.values("train"), gradientNormCurve: this.curves.values("norm"),
      synthesizerLossCurve: this.stepper.dni ? this.curves.values("synth") : undefined,
      orthogonalityErrorCurve: this.orthogonal ? this.curves.values("orth") : undefined,
      averagingStartedAtStep: this.ntAsgd?.averagingStartedAtStep ?? -1, gateHistograms: chosen.gateHistograms,
      parameterCount: Object.values(this.set.variables).reduce((a, v) => a + v.size, 0),
    };
    this.loop.emit("done", "valid", metricsRecord(valid), { elapsedMs: result.elapsedMs, details: { test: test ? metricsRecord(test) : undefined } });
    this.result = result;
    this.loop.save();
    return result;
  }

  dispose(): void {
    this.loop.dispose();
    this.stepper.dispose();
    this.selector.dispose();
    this.optimizer.dispose();
    this.orthogonal?.dispose();
    this.set.dispose();
  }
}
