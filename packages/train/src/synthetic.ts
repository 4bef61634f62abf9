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
import { createCell, stackScan, type Cell, type Layer, type State } from "@rnnlab/cells";
import {
  generateAdding, generateCopying, generateDenoise, generateParenthesis, addingBaselineMse, copyingBaselineCrossEntropy,
  denoiseBaselineCrossEntropy, parenthesisBaselineCrossEntropy, PARENTHESIS_TOKENS, PARENTHESIS_MAX_COUNT,
} from "@rnnlab/data";
import { softmaxCrossEntropy } from "@rnnlab/cells";
import type { RecurrentCellConfig } from "./model";
import { createVariables, computeGradients, disposeNamed, type NamedTensors, type NamedVariables } from "./params";
import { Optimizer, clipByGlobalNormOnDevice, type OptimizerOptions } from "./optim";
import { learningRateAt, validateSchedule, type ScheduleOptions } from "./schedules";
import { emit, Stopwatch, DecimatedCurve, type OnProgress } from "./events";
import { configHash, type CheckpointManager } from "./checkpoint";
import { serializeNamed, deserializeTensor, type SerializedTensor } from "./serialize";
import { OrthogonalUpdater, type OrthogonalOptions, type OrthogonalUpdaterState } from "./orthogonal";
import { checkKeys, checkPositiveInteger } from "./validate";

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
}

interface Batch {
  inputs: tf.Tensor3D; // [T, B, I]
  targets: tf.Tensor; // adding [B, 1]; symbols [T, B]; parenthesis [T, B, 3]
  dataMask?: tf.Tensor; // [T, B] 1 where a data symbol is to be recalled
}

interface TaskSpec {
  inputSize: number;
  outputSize: number;
  length: number;
  baseline: number;
  lossKind: "mse" | "crossEntropy";
  draw(rng: Rng, batch: number): Batch;
}

function timeMajor(values: Int32Array, batch: number, length: number, depth = 1): Int32Array {
  const out = new Int32Array(values.length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) for (let k = 0; k < depth; k++) out[(t * batch + b) * depth + k] = values[(b * length + t) * depth + k];
  return out;
}

function oneHot(ids: Int32Array, shape: [number, number], depth: number): tf.Tensor3D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor2d(ids, shape, "int32"), depth), "float32")) as tf.Tensor3D; // [T, B, depth]
}

function taskSpec(task: SyntheticTask): TaskSpec {
  switch (task.kind) {
    case "adding":
      return {
        inputSize: 2, outputSize: 1, length: task.length, baseline: addingBaselineMse(), lossKind: "mse",
        draw(rng, batch) {
          const d = generateAdding(rng, batch, task.length);
          const T = task.length;
          const x = new Float32Array(d.inputs.length);
          for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) for (let k = 0; k < 2; k++) x[(t * batch + b) * 2 + k] = d.inputs[(b * T + t) * 2 + k];
          return { inputs: tf.tensor3d(x, [T, batch, 2]), targets: tf.tensor2d(d.targets, [batch, 1]) };
        },
      };
    case "copying":
    case "denoise": {
      const n = task.dataSymbols ?? (task.kind === "copying" ? 8 : 9);
      const length = (task.kind === "copying" ? task.delay : task.length) + 20;
      const baseline = task.kind === "copying" ? copyingBaselineCrossEntropy(task.delay, n) : denoiseBaselineCrossEntropy(task.length, n);
      return {
        inputSize: n + 2, outputSize: n + 1, length, baseline, lossKind: "crossEntropy",
        draw(rng, batch) {
          const d = task.kind === "copying" ? generateCopying(rng, batch, task.delay, { dataSymbols: n }) : generateDenoise(rng, batch, task.length, { dataSymbols: n });
          const inputs = oneHot(timeMajor(d.inputs, batch, length), [length, batch], d.inputSymbols);
          const targets = tf.tensor2d(timeMajor(d.targets, batch, length), [length, batch], "int32");
          const mask = new Float32Array(length * batch);
          for (let t = length - 10; t < length; t++) for (let b = 0; b < batch; b++) mask[t * batch + b] = 1;
          return { inputs, targets, dataMask: tf.tensor2d(mask, [length, batch]) };
        },
      };
    }
    case "parenthesis":
      return {
        inputSize: PARENTHESIS_TOKENS.length, outputSize: 3 * (PARENTHESIS_MAX_COUNT + 1), length: task.length,
        baseline: parenthesisBaselineCrossEntropy(task.length), lossKind: "crossEntropy",
        draw(rng, batch) {
          const d = generateParenthesis(rng, batch, task.length);
          const T = task.length;
          return {
            inputs: oneHot(timeMajor(d.inputs, batch, T), [T, batch], PARENTHESIS_TOKENS.length),
            targets: tf.tensor3d(timeMajor(d.targets, batch, T, 3), [T, batch, 3], "int32"),
          };
        },
      };
    default:
      throw new Error(`config.task.kind="${(task as { kind: string }).kind}" must be adding, copying, denoise or parenthesis`);
  }
}

export function validateSyntheticConfig(c: SyntheticTrainConfig): void {
  checkKeys("config", c as unknown as Record<string, unknown>, KEYS);
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

function buildCell(c: RecurrentCellConfig, inputSize: number, hiddenSize: number): Cell {
  return createCell(c, inputSize, hiddenSize);
}

export async function trainSyntheticTask(
  config: SyntheticTrainConfig,
  options: { onProgress?: OnProgress; checkpoints?: CheckpointManager; resume?: boolean } = {},
): Promise<SyntheticResult> {
  validateSyntheticConfig(config);
  const spec = taskSpec(config.task);
  const layersCount = config.layers ?? 1;
  const cells = Array.from({ length: layersCount }, (_, l) => buildCell(config.cell, l === 0 ? spec.inputSize : config.hiddenSize, config.hiddenSize));
  const root = new Rng(config.seed);
  const trainRng = root.fork("train");
  const initRng = root.fork("init");
  const H = config.hiddenSize;
  const limit = 1 / Math.sqrt(H);
  const tree = {
    layers: cells.map((c, l) => c.init(initRng.fork(`layer${l}`)) as Record<string, tf.Tensor>),
    head: {
      kernel: tf.tensor2d(initRng.fillUniform(new Float32Array(H * spec.outputSize), -limit, limit), [H, spec.outputSize]),
      bias: tf.zeros([spec.outputSize]),
    },
  };
  const set = createVariables(tree as never, { scope: `synthetic-${config.task.kind}` });
  tf.dispose(tree as never);
  const orthogonal = config.cell.kind === "nc-gru" ? new OrthogonalUpdater(set.variables, config.cell as OrthogonalOptions, config.optimizer) : undefined;
  const optimized: NamedVariables = {};
  for (const [k, v] of Object.entries(set.variables)) if (!orthogonal?.owns(k)) optimized[k] = v;
  const optimizer = new Optimizer(config.optimizer, optimized);

  const evalRng = root.fork("evaluation");
  const evalBatches = Array.from({ length: config.evaluationBatches ?? 4 }, () => spec.draw(evalRng, config.batchSize));

  const capacity = config.stepCurveCapacity ?? 512;
  let trainCurve = new DecimatedCurve(capacity);
  let normCurve = new DecimatedCurve(capacity);
  let orthCurve = new DecimatedCurve(capacity);
  let evaluations: SyntheticEvaluation[] = [];
  let step = 0;
  let stopwatch = new Stopwatch(0);

  const params = set.tree as unknown as { layers: Record<string, tf.Tensor>[]; head: { kernel: tf.Tensor2D; bias: tf.Tensor1D } };

  /** Loss (and correct/total counts when asked) for a batch. */
  function forward(batch: Batch, training: boolean, rng?: Rng): { loss: tf.Scalar; correct?: tf.Scalar; total?: number } {
    const [T, B] = batch.inputs.shape;
    const layers: Layer[] = cells.map((cell, l) => ({ cell, params: params.layers[l] as never }));
    const states = cells.map((c) => c.initialState(B) as State);
    const r = stackScan(layers, batch.inputs, states, { training, rng });
    if (config.task.kind === "adding") {
      const last = tf.reshape(tf.slice(r.ys, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D; // [B, H]
      const y = tf.add(tf.matMul(last, params.head.kernel), params.head.bias); // [B, 1]
      return { loss: tf.mean(tf.square(tf.sub(y, batch.targets))) as tf.Scalar };
    }
    const flat = tf.reshape(r.ys, [T * B, H]) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(flat, params.head.kernel), params.head.bias) as tf.Tensor2D; // [T*B, outputSize]
    if (config.task.kind === "parenthesis") {
      const classes = PARENTHESIS_MAX_COUNT + 1;
      const perOutput = tf.reshape(logits, [T * B * 3, classes]) as tf.Tensor2D; // [T*B*3, 6]
      const labels = tf.reshape(batch.targets, [T * B * 3]) as tf.Tensor1D;
      const loss = softmaxCrossEntropy(perOutput, labels);
      if (training) return { loss };
      const correct = tf.sum(tf.cast(tf.equal(tf.argMax(perOutput, 1), labels), "float32")) as tf.Scalar;
      return { loss, correct, total: T * B * 3 };
    }
    const labels = tf.reshape(batch.targets, [T * B]) as tf.Tensor1D;
    const loss = softmaxCrossEntropy(logits, labels);
    if (training) return { loss };
    const hits = tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "float32"), tf.reshape(batch.dataMask!, [T * B]));
    return { loss, correct: tf.sum(hits) as tf.Scalar, total: 10 * B };
  }

  async function evaluate(): Promise<SyntheticEvaluation> {
    let loss = 0;
    let correct = 0;
    let total = 0;
    for (const b of evalBatches) {
      // one asynchronous read per batch: [loss, correct, total]
      const out = tf.tidy(() => {
        const r = forward(b, false);
        return tf.stack([r.loss, r.correct ?? tf.scalar(0), tf.scalar(r.total ?? 0)]);
      });
      const v = await out.data();
      out.dispose();
      loss += v[0] / evalBatches.length;
      correct += v[1];
      total += v[2];
    }
    const e: SyntheticEvaluation = { step, loss, baseline: spec.baseline };
    if (total > 0) e.accuracy = correct / total;
    return e;
  }

  const checkpoints = options.checkpoints;
  const save = (done: boolean, result?: SyntheticResult) => {
    if (!checkpoints) return;
    const tensors: Record<string, SerializedTensor> = {};
    for (const [k, v] of Object.entries(serializeNamed(set.variables))) tensors[`param/${k}`] = v;
    const opt = optimizer.exportState();
    for (const [k, v] of Object.entries(opt.tensors)) tensors[`opt/${k}`] = v;
    const meta = {
      kind: "synthetic", config, step, done, result, optimizer: opt.meta, rng: trainRng.state(), orthogonal: orthogonal?.exportState(),
      elapsedMs: stopwatch.elapsedMs(), evaluations,
      curves: { train: trainCurve.toJSON(), norm: normCurve.toJSON(), orth: orthCurve.toJSON() },
    };
    checkpoints.save({ meta: meta as unknown as Record<string, unknown>, tensors });
  };

  let liveRng = trainRng;
  const cleanup = () => {
    for (const b of evalBatches) tf.dispose([b.inputs, b.targets, ...(b.dataMask ? [b.dataMask] : [])]);
    optimizer.dispose();
    orthogonal?.dispose();
    set.dispose();
  };

  try {
    if (checkpoints && (options.resume ?? true)) {
      const ck = checkpoints.load();
      if (ck) {
        const meta = ck.meta as Record<string, never>;
        if (meta.kind !== "synthetic") throw new Error(`checkpoint ${checkpoints.file} is not a synthetic-task checkpoint (kind ${meta.kind}); delete it or use another directory`);
        if (configHash(meta.config) !== configHash(config))
          throw new Error(`checkpoint ${checkpoints.file} was written with a different trainer config; resume with the same config, or delete it / use another checkpoint directory to start fresh`);
        if (meta.done && meta.result) return meta.result as SyntheticResult;
        for (const [k, v] of Object.entries(set.variables)) {
          const t = deserializeTensor(ck.tensors[`param/${k}`]);
          v.assign(t);
          t.dispose();
        }
        const optTensors: Record<string, SerializedTensor> = {};
        for (const [k, v] of Object.entries(ck.tensors)) if (k.startsWith("opt/")) optTensors[k.slice(4)] = v;
        optimizer.importState({ meta: meta.optimizer, tensors: optTensors });
        liveRng = Rng.fromState(meta.rng);
        if (orthogonal && meta.orthogonal) orthogonal.importState(meta.orthogonal as OrthogonalUpdaterState);
        step = meta.step;
        evaluations = meta.evaluations;
        const curves = meta.curves as Record<string, never>;
        trainCurve = DecimatedCurve.fromJSON(curves.train);
        normCurve = DecimatedCurve.fromJSON(curves.norm);
        orthCurve = DecimatedCurve.fromJSON(curves.orth);
        stopwatch = new Stopwatch(meta.elapsedMs);
      }
    }
    while (step < config.steps) {
      const batch = spec.draw(liveRng, config.batchSize);
      const { loss, grads } = computeGradients(() => forward(batch, true, liveRng).loss, set.variables);
      tf.dispose([batch.inputs, batch.targets, ...(batch.dataMask ? [batch.dataMask] : [])]);
      const orthGrads: NamedTensors = {};
      for (const k of Object.keys(grads)) if (orthogonal?.owns(k)) { orthGrads[k] = grads[k]; delete grads[k]; }
      const learningRate = learningRateAt(config.schedule, step);
      const clipped = clipByGlobalNormOnDevice(grads, config.clipNorm ?? 0);
      optimizer.step(clipped.grads, learningRate);
      if (orthogonal) await orthogonal.stepAsync(orthGrads, learningRate);
      disposeNamed(clipped.grads);
      disposeNamed(grads);
      disposeNamed(orthGrads);
      // The step's one read: loss and gradient norm together, asynchronously (webgpu cannot read synchronously).
      const read = tf.stack([loss, clipped.norm]);
      const [lossValue, normValue] = await read.data();
      tf.dispose([read, loss, clipped.norm]);
      if (!Number.isFinite(lossValue)) throw new Error(`training loss became ${lossValue} at step ${step + 1}: lower the learning rate or set clipNorm`);
      step++;
      trainCurve.add(step, lossValue);
      normCurve.add(step, normValue);
      const metrics: Record<string, number> = { loss: lossValue, gradientNorm: normValue, learningRate, baseline: spec.baseline };
      if (orthogonal) {
        metrics.orthogonalityError = orthogonal.orthogonalityError();
        orthCurve.add(step, metrics.orthogonalityError);
      }
      emit(options.onProgress, { kind: "step", step, epoch: 0, split: "train", metrics, elapsedMs: stopwatch.elapsedMs(), totalSteps: config.steps });
      if (step % config.evaluateEvery === 0 || step === config.steps) {
        const e = await evaluate();
        evaluations.push(e);
        const m: Record<string, number> = { loss: e.loss, baseline: e.baseline };
        if (e.accuracy !== undefined) m.accuracy = e.accuracy;
        emit(options.onProgress, { kind: "eval", step, epoch: 0, split: "test", metrics: m, elapsedMs: stopwatch.elapsedMs(), totalSteps: config.steps });
      }
      if (checkpoints?.shouldSave(step)) save(false);
    }
    const final = evaluations.at(-1) ?? (await evaluate());
    const result: SyntheticResult = {
      steps: step, elapsedMs: stopwatch.elapsedMs(), baseline: spec.baseline, lossKind: spec.lossKind, final, evaluations,
      trainLossCurve: trainCurve.values(), gradientNormCurve: normCurve.values(), orthogonalityErrorCurve: orthogonal ? orthCurve.values() : undefined,
    };
    emit(options.onProgress, { kind: "done", step, epoch: 0, split: "test", metrics: { loss: final.loss, baseline: final.baseline }, elapsedMs: result.elapsedMs, totalSteps: config.steps });
    save(true, result);
    return result;
  } finally {
    cleanup();
  }
}
