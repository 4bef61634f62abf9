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
import { tf, Rng } from "@rnnlab/core";
import { GateTracer, type State } from "@rnnlab/cells";
import { LossAccumulator, perplexity, bitsPerCharacter } from "@rnnlab/metrics";
import { LanguageModel, ARCHITECTURE_KEYS, type LanguageModelArchitecture, type LanguageModelParams } from "./model";
import { createVariables, computeGradients, disposeNamed, type NamedTensors, type NamedVariables } from "./params";
import {
  Optimizer, clipByGlobalNorm, nonMonotoneInitial, nonMonotoneObserve, withParameters, type OptimizerOptions, type NonMonotoneState,
} from "./optim";
import { learningRateAt, plateauInitial, plateauObserve, sgdrCycleIndex, validateSchedule, type ScheduleOptions, type PlateauState } from "./schedules";
import { emit, Stopwatch, DecimatedCurve, type OnProgress, type Split } from "./events";
import { CheckpointManager, configHash, type CheckpointData } from "./checkpoint";
import { batchifyTokens, windowTensors, variableWindowLength, type BatchedStream } from "./batching";
import { Synthesizer, flattenStates, validateDni, type DniConfig, type GradientMode } from "./dni";
import { serializeNamed, deserializeTensor, type SerializedTensor } from "./serialize";
import { OrthogonalUpdater, type OrthogonalOptions } from "./orthogonal";
import { checkKeys, checkPositiveInteger } from "./validate";

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

export interface EvaluationMetrics {
  loss: number;
  perplexity: number;
  bitsPerCharacter?: number;
  tokens: number;
  /** Largest |h| or |c| of the carried state at any window boundary of the pass (see the header). */
  maxCarriedState: number;
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

export interface ModelSelection {
  rule: "best-valid" | "last";
  /** "best": the kept best-validation copy; "last": the final parameters. Either is in selected.rnnlab. */
  parameters: "best" | "last";
  step: number;
  epoch: number;
  /** The copy holds NT-ASGD's averaged parameters. */
  averaged: boolean;
  validLoss: number;
}

export function validateLanguageModelConfig(c: LanguageModelTrainConfig): void {
  checkKeys("config", c as unknown as Record<string, unknown>, LM_TRAIN_KEYS);
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

/** Keep h and c across windows; every other state entry (e.g. the ATN window) starts fresh per window. */
const CARRIED = ["h", "c"];
function carryStates(model: LanguageModel, states: State[], batch: number): State[] {
  return tf.tidy(() =>
    states.map((s, l) => {
      const fresh = model.cells[l].initialState(batch) as State;
      const out: State = {};
      for (const k of Object.keys(fresh)) out[k] = CARRIED.includes(k) && s[k] ? (s[k].clone() as tf.Tensor2D) : fresh[k];
      return out;
    }),
  ) as State[];
}
function disposeStates(states: State[] | undefined): void {
  if (states) for (const s of states) tf.dispose(Object.values(s));
}

/**
 * One evaluation pass over a batched split: state from zero, carried across fixed `bptt` windows, the
 * token-weighted mean NLL. Depends only on its arguments (see the header).
 */
export function evaluateLanguageModel(
  model: LanguageModel,
  params: LanguageModelParams,
  stream: BatchedStream,
  bptt: number,
  options: { characterLevel?: boolean; tracer?: GateTracer } = {},
): EvaluationMetrics {
  const acc = new LossAccumulator();
  let maxCarriedState = 0;
  let states = model.initialStates(stream.batch);
  try {
    for (let row = 0; row < stream.rows - 1; row += bptt) {
      const w = windowTensors(stream, row, bptt);
      const out = tf.tidy(() => {
        const r = model.forward(params, w.inputs, w.targets, states, { training: false, tracer: options.tracer });
        const next = carryStates(model, r.states, stream.batch);
        const magnitudes = next.flatMap((s) => CARRIED.filter((k) => s[k]).map((k) => tf.max(tf.abs(s[k]))));
        return { values: tf.stack([r.loss, ...magnitudes]), states: next }; // [1 + carried entries]
      });
      const values = out.values.dataSync();
      acc.add(values[0], w.length * stream.batch);
      for (let i = 1; i < values.length; i++) maxCarriedState = Math.max(maxCarriedState, values[i]);
      tf.dispose([out.values, w.inputs, w.targets]);
      disposeStates(states);
      states = out.states;
    }
  } finally {
    disposeStates(states);
  }
  const loss = acc.meanLoss();
  return { loss, perplexity: perplexity(loss), bitsPerCharacter: options.characterLevel ? bitsPerCharacter(loss) : undefined, tokens: acc.count, maxCarriedState };
}

/**
 * The checkpoint beside a run's checkpoint that holds the parameters `final` reports (`param/<name>`): the
 * best-validation copy, or the final parameters (NT-ASGD's averages when averaging) under rule "last".
 */
export function selectedModelCheckpoints(checkpoints: CheckpointManager): CheckpointManager {
  return new CheckpointManager({ ...checkpoints.options, everySteps: 0, name: "selected" });
}

interface Progress {
  step: number;
  epoch: number;
  row: number;
  batchIndex: number;
  nonMonotone?: NonMonotoneState;
  plateau?: PlateauState;
  evaluations: EvaluationPoint[];
  averagingStartedAtStep: number;
  /** The best validation evaluation so far (its parameters are `bestParams`). */
  best?: { loss: number; step: number; epoch: number; averaged: boolean };
  elapsedMs: number;
  done: boolean;
  result?: LanguageModelResult;
}

export async function trainLanguageModel(config: LanguageModelTrainConfig, data: LanguageModelData, options: TrainerRunOptions = {}): Promise<LanguageModelResult> {
  validateLanguageModelConfig(config);
  const architecture = Object.fromEntries(ARCHITECTURE_KEYS.filter((k) => k in config).map((k) => [k, (config as unknown as Record<string, unknown>)[k]])) as unknown as LanguageModelArchitecture;
  const model = new LanguageModel(architecture);
  const root = new Rng(config.seed);
  // Reassigned on resume (Rng.fromState); every user reads these bindings at call time.
  let trainRng = root.fork("train");
  let dniRng = root.fork("dni");
  const initial = model.init(root.fork("init"));
  const set = createVariables(initial as never, { scope: "lm" });
  tf.dispose(initial as never);
  const evalBatch = config.evaluationBatchSize ?? config.batchSize;
  const trainStream = batchifyTokens(data.train, config.batchSize, "data.train");
  const validStream = batchifyTokens(data.valid, evalBatch, "data.valid");
  const testStream = data.test ? batchifyTokens(data.test, evalBatch, "data.test") : undefined;

  // NC-GRU: U_c is written by the orthogonal updater, not by the optimizer.
  const orthogonal = config.cell.kind === "nc-gru" ? new OrthogonalUpdater(set.variables, config.cell as OrthogonalOptions, config.optimizer) : undefined;
  const optimized: NamedVariables = {};
  for (const [k, v] of Object.entries(set.variables)) if (!orthogonal?.owns(k)) optimized[k] = v;
  const optimizer = new Optimizer(config.optimizer, optimized);
  const ntAsgd = config.optimizer.kind === "asgd" && !config.optimizer.averageFromStart;

  const probe = model.initialStates(1);
  const stateEntries = probe.map((s) => Object.keys(s).filter((k) => CARRIED.includes(k)));
  disposeStates(probe);
  const stateSize = model.layerSizes.reduce((acc, h, l) => acc + h * stateEntries[l].length, 0);
  const synthesizer = config.dni ? new Synthesizer(config.dni, stateSize, root.fork("dni-init")) : undefined;
  const stateVariables: tf.Variable[][] | undefined = config.dni
    ? model.layerSizes.map((h, l) => stateEntries[l].map((k) => tf.tidy(() => tf.variable(tf.zeros([config.batchSize, h]), true, `${set.scope}/state${l}.${k}`))))
    : undefined;

  const capacity = config.stepCurveCapacity ?? 512;
  let trainCurve = new DecimatedCurve(capacity);
  let normCurve = new DecimatedCurve(capacity);
  let synthCurve = new DecimatedCurve(capacity);
  let orthCurve = new DecimatedCurve(capacity);
  const p: Progress = {
    step: 0, epoch: 0, row: 0, batchIndex: 0, evaluations: [], averagingStartedAtStep: -1, elapsedMs: 0, done: false,
    nonMonotone: ntAsgd ? nonMonotoneInitial(config.nonmono ?? 5) : undefined,
    plateau: config.schedule.kind === "plateau" ? plateauInitial(config.schedule) : undefined,
  };
  let carried = model.initialStates(config.batchSize);
  /** Copy of the parameters of the best validation evaluation (p.best). */
  let bestParams: NamedTensors | undefined;

  const checkpoints = options.checkpoints;
  const save = () => {
    if (!checkpoints) return;
    const tensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of Object.entries(serializeNamed(set.variables))) tensors[`param/${k}`] = v;
    const opt = optimizer.exportState();
    for (const [k, v] of Object.entries(opt.tensors)) tensors[`opt/${k}`] = v;
    carried.forEach((s, l) => {
      for (const [k, v] of Object.entries(serializeNamed(s))) tensors[`state/${l}/${k}`] = v;
    });
    if (bestParams) for (const [k, v] of Object.entries(serializeNamed(bestParams))) tensors[`best/${k}`] = v;
    let dniMeta: unknown;
    if (synthesizer) {
      const st = synthesizer.exportState();
      dniMeta = st.meta;
      for (const [k, v] of Object.entries(st.tensors)) tensors[`dni/${k}`] = v;
    }
    const meta = {
      kind: "language-model", config, progress: { ...p, elapsedMs: stopwatch.elapsedMs() }, optimizer: opt.meta,
      rng: { train: trainRng.state(), dni: dniRng.state() }, dni: dniMeta, orthogonal: orthogonal?.exportState(),
      curves: { train: trainCurve.toJSON(), norm: normCurve.toJSON(), synth: synthCurve.toJSON(), orth: orthCurve.toJSON() },
    };
    checkpoints.save({ meta: meta as unknown as Record<string, unknown>, tensors });
  };

  let stopwatch = new Stopwatch(0);
  if (checkpoints && (options.resume ?? true)) {
    const ck = checkpoints.load();
    if (ck) {
      restore(ck);
      stopwatch = new Stopwatch(p.elapsedMs);
      if (p.done && p.result) {
        cleanup();
        if (!p.result.selection)
          throw new Error(`checkpoint ${checkpoints.file} holds a finished run from before model selection (issue 17): delete it to rerun`);
        return p.result;
      }
    }
  }

  function restore(ck: CheckpointData): void {
    const meta = ck.meta as Record<string, never>;
    if (meta.kind !== "language-model") throw new Error(`checkpoint ${checkpoints!.file} is not a language-model checkpoint (kind ${meta.kind}); delete it or use another checkpoint directory`);
    if (configHash(meta.config) !== configHash(config))
      throw new Error(`checkpoint ${checkpoints!.file} was written with a different trainer config; resume with the same config, or delete it / use another checkpoint directory to start fresh`);
    for (const [k, v] of Object.entries(set.variables)) {
      const st = ck.tensors[`param/${k}`];
      if (!st) throw new Error(`checkpoint ${checkpoints!.file} has no parameter "${k}": the model differs; delete the checkpoint to start fresh`);
      const t = deserializeTensor(st);
      v.assign(t);
      t.dispose();
    }
    disposeNamed(bestParams);
    bestParams = undefined;
    if (Object.keys(ck.tensors).some((k) => k.startsWith("best/"))) {
      bestParams = {};
      for (const k of Object.keys(set.variables)) {
        const st = ck.tensors[`best/${k}`];
        if (!st) throw new Error(`checkpoint ${checkpoints!.file} has no best-model parameter "${k}": delete the checkpoint to start fresh`);
        bestParams[k] = deserializeTensor(st);
      }
    }
    const optTensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith("opt/")) optTensors[k.slice(4)] = v;
    optimizer.importState({ meta: meta.optimizer, tensors: optTensors });
    disposeStates(carried);
    carried = model.initialStates(config.batchSize).map((s, l) => {
      const out: State = {};
      for (const k of Object.keys(s)) {
        const st = ck.tensors[`state/${l}/${k}`];
        out[k] = st ? (deserializeTensor(st) as tf.Tensor2D) : s[k];
        if (st) s[k].dispose();
      }
      return out;
    });
    const rngs = meta.rng as { train: ReturnType<Rng["state"]>; dni: ReturnType<Rng["state"]> };
    trainRng = Rng.fromState(rngs.train);
    dniRng = Rng.fromState(rngs.dni);
    if (synthesizer) {
      const tensors: Record<string, SerializedTensor> = {};
      for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith("dni/")) tensors[k.slice(4)] = v;
      synthesizer.importState({ meta: meta.dni, tensors });
    }
    if (orthogonal && meta.orthogonal) orthogonal.importState(meta.orthogonal);
    Object.assign(p, meta.progress);
    const curves = meta.curves as Record<string, never>;
    trainCurve = DecimatedCurve.fromJSON(curves.train);
    normCurve = DecimatedCurve.fromJSON(curves.norm);
    synthCurve = DecimatedCurve.fromJSON(curves.synth);
    orthCurve = DecimatedCurve.fromJSON(curves.orth);
  }

  function cleanup(): void {
    disposeStates(carried);
    disposeNamed(bestParams);
    if (stateVariables) for (const l of stateVariables) for (const v of l) v.dispose();
    synthesizer?.dispose();
    optimizer.dispose();
    orthogonal?.dispose();
    set.dispose();
  }

  const totalSteps = config.epochs * Math.min(config.maxStepsPerEpoch ?? Infinity, Math.ceil((trainStream.rows - 1) / config.bptt));

  function gradientMode(epochPosition: number): GradientMode {
    const d = config.dni;
    if (!d) return "real";
    if (d.mode === "alternating") return sgdrCycleIndex(config.schedule as never, epochPosition) % 2 === 0 ? "real" : "synthetic";
    return d.mode;
  }

  function evaluate(stream: BatchedStream, tracer?: GateTracer): EvaluationMetrics {
    return evaluateLanguageModel(model, set.tree as never, stream, config.bptt, { characterLevel: config.characterLevel, tracer });
  }

  /**
   * Evaluates the current parameters (NT-ASGD's averages when averaging). `keepIfBest`: a validation
   * evaluation that improves on p.best keeps a copy of the evaluated parameters.
   */
  async function evaluateWithAverage(stream: BatchedStream, tracer?: GateTracer, keepIfBest = false): Promise<{ metrics: EvaluationMetrics; averaged: boolean }> {
    const averagedParams = optimizer.averagedParameters();
    try {
      const metrics = await withParameters(set.variables, averagedParams, () => evaluate(stream, tracer));
      const averaged = averagedParams !== undefined;
      if (keepIfBest && !(p.best && p.best.loss <= metrics.loss)) {
        disposeNamed(bestParams);
        bestParams = {};
        for (const [k, v] of Object.entries(set.variables)) bestParams[k] = (averagedParams?.[k] ?? v).clone();
        p.best = { loss: metrics.loss, step: p.step, epoch: p.epoch, averaged };
      }
      return { metrics, averaged };
    } finally {
      disposeNamed(averagedParams);
    }
  }

  function metricsRecord(m: EvaluationMetrics): Record<string, number> {
    const r: Record<string, number> = { loss: m.loss, perplexity: m.perplexity };
    if (m.bitsPerCharacter !== undefined) r.bitsPerCharacter = m.bitsPerCharacter;
    return r;
  }

  async function evaluationPoint(split: Split, stream: BatchedStream): Promise<EvaluationPoint> {
    const { metrics, averaged } = await evaluateWithAverage(stream, undefined, split === "valid" && (config.modelSelection ?? "best-valid") === "best-valid");
    const point: EvaluationPoint = { ...metrics, step: p.step, epoch: p.epoch, split, averaged };
    p.evaluations.push(point);
    emit(options.onProgress, { kind: "eval", step: p.step, epoch: p.epoch, split, metrics: metricsRecord(metrics), elapsedMs: stopwatch.elapsedMs(), totalSteps });
    return point;
  }

  /** One truncated-BPTT window: forward, backward, clip, update, (DNI) synthesizer update. */
  function trainStep(inputs: tf.Tensor2D, targets: tf.Tensor2D, learningRate: number, mode: GradientMode): { loss: number; norm: number; synthesizerLoss?: number } {
    let newStates: State[] = [];
    let crossEntropy: tf.Scalar | undefined;
    let finalFlat: tf.Tensor2D | undefined;
    let statesIn: State[] = carried;
    const gradVariables: NamedVariables = { ...set.variables };
    if (stateVariables) {
      statesIn = carried.map((s, l) => {
        const out: State = { ...s };
        stateEntries[l].forEach((k, j) => {
          stateVariables[l][j].assign(s[k]);
          out[k] = stateVariables[l][j] as unknown as tf.Tensor2D;
          gradVariables[`#state/${l}/${k}`] = stateVariables[l][j];
        });
        return out;
      });
    }
    const { loss, grads } = computeGradients(() => {
      const r = model.forward(set.tree as never, inputs, targets, statesIn, { training: true, rng: trainRng });
      newStates = r.states.map((s) => {
        for (const t of Object.values(s)) tf.keep(t);
        return s;
      });
      crossEntropy = tf.keep(r.loss.clone());
      const objective = r.regularizer ? (tf.add(r.loss, r.regularizer) as tf.Scalar) : r.loss;
      if (synthesizer) finalFlat = tf.keep(flattenStates(r.states, stateEntries));
      if (synthesizer && mode === "synthetic") {
        // Surrogate term: its gradient w.r.t. s_T is exactly scale·δ̂ (docs/papers/README.md, general notes).
        const predicted = synthesizer.injected(finalFlat!, dniRng);
        return tf.add(objective, tf.sum(tf.mul(predicted, finalFlat!))) as tf.Scalar;
      }
      return objective;
    }, gradVariables);
    loss.dispose();
    let target: tf.Tensor2D | undefined;
    if (stateVariables) {
      target = tf.tidy(() => {
        const parts: tf.Tensor[] = [];
        stateEntries.forEach((entries, l) => entries.forEach((k) => parts.push(grads[`#state/${l}/${k}`])));
        return (parts.length === 1 ? parts[0].clone() : tf.concat(parts, 1)) as tf.Tensor2D; // [B, D]
      });
      for (const k of Object.keys(grads)) if (k.startsWith("#state/")) { grads[k].dispose(); delete grads[k]; }
    }
    const orthGrads: NamedTensors = {};
    for (const k of Object.keys(grads)) if (orthogonal?.owns(k)) { orthGrads[k] = grads[k]; delete grads[k]; }
    const clipped = clipByGlobalNorm(grads, config.clipNorm ?? 0);
    optimizer.step(clipped.grads, learningRate);
    if (orthogonal) orthogonal.step(orthGrads, learningRate);
    disposeNamed(clipped.grads);
    disposeNamed(grads);
    disposeNamed(orthGrads);
    let synthesizerLoss: number | undefined;
    if (synthesizer && target) {
      const s0 = tf.tidy(() => flattenStates(carried, stateEntries).clone());
      synthesizerLoss = synthesizer.train(s0, target, dniRng);
      synthesizer.advance(finalFlat!);
      tf.dispose([s0, target]);
    }
    if (finalFlat) finalFlat.dispose();
    const lossValue = crossEntropy!.dataSync()[0];
    crossEntropy!.dispose();
    const next = carryStates(model, newStates, config.batchSize);
    disposeStates(newStates);
    disposeStates(carried);
    carried = next;
    return { loss: lossValue, norm: clipped.norm, synthesizerLoss };
  }

  try {
    while (p.epoch < config.epochs) {
      const rowsPerEpoch = trainStream.rows - 1;
      while (p.row < rowsPerEpoch && !(config.maxStepsPerEpoch && p.batchIndex >= config.maxStepsPerEpoch)) {
        const length = config.variableLength ? variableWindowLength(config.bptt, trainRng) : config.bptt;
        const epochPosition = p.epoch + p.row / rowsPerEpoch;
        const w = windowTensors(trainStream, p.row, length);
        const learningRate = learningRateAt(config.schedule, epochPosition, p.plateau) * (config.variableLength ? w.length / config.bptt : 1);
        const mode = gradientMode(epochPosition);
        const r = trainStep(w.inputs, w.targets, learningRate, mode);
        tf.dispose([w.inputs, w.targets]);
        if (!Number.isFinite(r.loss)) throw new Error(`training loss became ${r.loss} at step ${p.step + 1}: lower the learning rate or set clipNorm`);
        p.row += w.length;
        p.batchIndex++;
        p.step++;
        trainCurve.add(p.step, r.loss);
        normCurve.add(p.step, r.norm);
        const metrics: Record<string, number> = { loss: r.loss, gradientNorm: r.norm, learningRate };
        if (r.synthesizerLoss !== undefined) {
          synthCurve.add(p.step, r.synthesizerLoss);
          metrics.synthesizerLoss = r.synthesizerLoss;
        }
        if (orthogonal) {
          const e = orthogonal.orthogonalityError();
          orthCurve.add(p.step, e);
          metrics.orthogonalityError = e;
        }
        emit(options.onProgress, { kind: "step", step: p.step, epoch: p.epoch, split: "train", metrics, elapsedMs: stopwatch.elapsedMs(), totalSteps, gradientMode: config.dni ? mode : undefined });
        if (config.evaluateEverySteps && p.step % config.evaluateEverySteps === 0) await evaluationPoint("valid", validStream);
        if (checkpoints?.shouldSave(p.step)) save();
      }
      // End of epoch: validation, NT-ASGD trigger, plateau reducer; then the next epoch starts with a fresh state.
      const point = await evaluationPoint("valid", validStream);
      if (p.nonMonotone && !p.nonMonotone.triggered) {
        p.nonMonotone = nonMonotoneObserve(p.nonMonotone, point.loss);
        if (p.nonMonotone.triggered) {
          optimizer.startAveraging();
          p.averagingStartedAtStep = p.step;
        }
      }
      if (p.plateau && config.schedule.kind === "plateau") p.plateau = plateauObserve(config.schedule, p.plateau, point.loss);
      emit(options.onProgress, { kind: "epoch", step: p.step, epoch: p.epoch, split: "valid", metrics: metricsRecord(point), elapsedMs: stopwatch.elapsedMs(), totalSteps });
      p.epoch++;
      p.row = 0;
      p.batchIndex = 0;
      disposeStates(carried);
      carried = model.initialStates(config.batchSize);
      synthesizer?.resetMemory();
      if (checkpoints && p.epoch < config.epochs) save();
    }
    const { metrics: lastValid, averaged: lastAveraged } = await evaluateWithAverage(validStream);
    const lastTest = testStream ? (await evaluateWithAverage(testStream)).metrics : undefined;
    const rule = config.modelSelection ?? "best-valid";
    // The last epoch's validation evaluation saw the final parameters, so a best from an earlier step is strictly better.
    const useBest = rule === "best-valid" && bestParams !== undefined && p.best !== undefined && p.best.step !== p.step;
    const selected = useBest ? bestParams : optimizer.averagedParameters();
    let valid = lastValid;
    let test = lastTest;
    let gateHistograms: unknown;
    try {
      if (useBest) {
        valid = await withParameters(set.variables, selected, () => evaluate(validStream));
        test = testStream ? await withParameters(set.variables, selected, () => evaluate(testStream)) : undefined;
      }
      if (checkpoints) {
        const tensors: Record<string, SerializedTensor> = {};
        for (const [k, v] of Object.entries(serializeNamed(selected ?? set.variables))) tensors[`param/${k}`] = v;
        selectedModelCheckpoints(checkpoints).save({ meta: { kind: "language-model-selected", config, best: p.best ?? null }, tensors });
      }
      if (config.gateHistograms) {
        const tracer = new GateTracer();
        await withParameters(set.variables, selected, () => evaluate(validStream, tracer));
        gateHistograms = tracer.toJSON();
      }
    } finally {
      if (!useBest) disposeNamed(selected);
    }
    const selection: ModelSelection = useBest
      ? { rule, parameters: "best", step: p.best!.step, epoch: p.best!.epoch, averaged: p.best!.averaged, validLoss: valid.loss }
      : { rule, parameters: "last", step: p.step, epoch: Math.max(0, p.epoch - 1), averaged: lastAveraged, validLoss: lastValid.loss };
    const result: LanguageModelResult = {
      steps: p.step,
      epochs: p.epoch,
      elapsedMs: stopwatch.elapsedMs(),
      final: { valid, test },
      last: { valid: lastValid, test: lastTest },
      selection,
      evaluations: p.evaluations,
      trainLossCurve: trainCurve.values(),
      gradientNormCurve: normCurve.values(),
      synthesizerLossCurve: synthesizer ? synthCurve.values() : undefined,
      orthogonalityErrorCurve: orthogonal ? orthCurve.values() : undefined,
      averagingStartedAtStep: p.averagingStartedAtStep,
      gateHistograms,
      parameterCount: Object.values(set.variables).reduce((a, v) => a + v.size, 0),
    };
    emit(options.onProgress, {
      kind: "done", step: p.step, epoch: p.epoch, split: "valid", metrics: metricsRecord(valid), elapsedMs: result.elapsedMs, totalSteps,
      details: { test: test ? metricsRecord(test) : undefined },
    });
    p.done = true;
    p.result = result;
    save();
    return result;
  } finally {
    cleanup();
  }
}
