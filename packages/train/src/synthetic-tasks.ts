/**
 * The synthetic long-memory tasks as the trainer sees them (./synthetic.ts): a TaskSpec per task (sizes,
 * trivial baseline, a batch drawn time-major from a seeded stream) and the loss of a recurrent stack with
 * a linear head on a batch (adding: MSE of the last step's output; symbols: cross-entropy per step;
 * parenthesis: 3 x 6-way cross-entropy per step), with correct/total counts for evaluation.
 */
import { tf, type Rng } from "@rnnlab/core";
import { softmaxCrossEntropy, stackScan, type Cell, type Layer, type State } from "@rnnlab/cells";
import {
  generateAdding, generateCopying, generateDenoise, generateParenthesis, addingBaselineMse, copyingBaselineCrossEntropy,
  denoiseBaselineCrossEntropy, parenthesisBaselineCrossEntropy, PARENTHESIS_TOKENS, PARENTHESIS_MAX_COUNT,
} from "@rnnlab/data";
import type { SyntheticTask } from "./synthetic";

/** The trained parameters: the recurrent layers and the linear head. */
/** A type alias (not an interface), so that it is a ParamTree as it stands. */
export type SyntheticParams = {
  layers: Record<string, tf.Tensor>[];
  head: { kernel: tf.Tensor2D; bias: tf.Tensor1D };
};

export interface Batch {
  inputs: tf.Tensor3D; // [T, B, I]
  targets: tf.Tensor; // adding [B, 1]; symbols [T, B]; parenthesis [T, B, 3]
  dataMask?: tf.Tensor; // [T, B] 1 where a data symbol is to be recalled
}

export interface TaskSpec {
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

export function taskSpec(task: SyntheticTask): TaskSpec {
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

export function disposeBatch(b: Batch): void {
  tf.dispose([b.inputs, b.targets, ...(b.dataMask ? [b.dataMask] : [])]);
}

/** Loss (and correct/total counts when not training) of the stack and head on a batch. */
export function syntheticForward(
  task: SyntheticTask, cells: Cell[], params: SyntheticParams, batch: Batch, training: boolean, rng?: Rng,
): { loss: tf.Scalar; correct?: tf.Scalar; total?: number } {
  const H = params.head.kernel.shape[0];
  const [T, B] = batch.inputs.shape;
  const layers: Layer[] = cells.map((cell, l) => ({ cell, params: params.layers[l] }));
  const states = cells.map((c) => c.initialState(B) as State);
  const r = stackScan(layers, batch.inputs, states, { training, rng });
  if (task.kind === "adding") {
    const last = tf.reshape(tf.slice(r.ys, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D; // [B, H]
    const y = tf.add(tf.matMul(last, params.head.kernel), params.head.bias); // [B, 1]
    return { loss: tf.mean(tf.square(tf.sub(y, batch.targets))) as tf.Scalar };
  }
  const flat = tf.reshape(r.ys, [T * B, H]) as tf.Tensor2D;
  const logits = tf.add(tf.matMul(flat, params.head.kernel), params.head.bias) as tf.Tensor2D; // [T*B, outputSize]
  if (task.kind === "parenthesis") {
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
