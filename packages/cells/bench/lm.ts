/**
 * The benchmark's word-level LSTM language model on the fast path (src/fast):
 *   embedding [V, E] → LSTM(H) → LSTM(H) → linear [H, V] → softmax cross-entropy,
 * trained with plain SGD and truncated BPTT (state carried across batches, detached), as in
 * docs/performance.md §1 (Zaremba et al. 2014 small/medium shapes).
 *
 * Dropout variants on the non-recurrent connections (embedding → L1, L1 → L2, L2 → softmax), p = rate:
 *   none        no dropout
 *   elementwise per-element inverted dropout masks (tf.randomUniform)
 *   structured  one keep set per group of T/groups steps, shared over the batch (src/fast/structured-dropout.ts)
 */
import { Rng, tf } from "@rnnlab/core";
import {
  denseProjection,
  lstmRecurrence,
  sequenceProjection,
  softmaxCrossEntropy,
  structuredDropoutGroupedMatMul,
  structuredDropoutSequenceProjection,
} from "../src/fast";
import type { LstmState } from "../src/lstm";

export interface LmSize {
  vocab: number;
  embedding: number;
  hidden: number;
  layers: number;
  batch: number;
  steps: number; // BPTT length
}

export const SIZES: Record<string, LmSize> = {
  small: { vocab: 10000, embedding: 200, hidden: 200, layers: 2, batch: 20, steps: 35 },
  medium: { vocab: 10000, embedding: 650, hidden: 650, layers: 2, batch: 20, steps: 35 },
  quick: { vocab: 50, embedding: 8, hidden: 8, layers: 2, batch: 4, steps: 6 },
};

export type DropoutVariant = { kind: "none" } | { kind: "elementwise"; rate: number } | { kind: "structured"; rate: number; groups: number };

export interface LmModel {
  size: LmSize;
  embedding: tf.Variable;
  layers: { inputKernel: tf.Variable; recurrentKernel: tf.Variable; bias: tf.Variable }[];
  outputKernel: tf.Variable;
  outputBias: tf.Variable;
  variables: tf.Variable[];
  state: LstmState[];
}

export function createLm(size: LmSize, rng: Rng): LmModel {
  const u = (shape: number[]) => tf.variable(tf.randomUniform(shape, -0.1, 0.1, "float32", rng.tfSeed()));
  const layers = Array.from({ length: size.layers }, (_, l) => ({
    inputKernel: u([l === 0 ? size.embedding : size.hidden, 4 * size.hidden]),
    recurrentKernel: u([size.hidden, 4 * size.hidden]),
    bias: tf.variable(tf.zeros([4 * size.hidden])),
  }));
  const embedding = u([size.vocab, size.embedding]);
  const outputKernel = u([size.hidden, size.vocab]);
  const outputBias = tf.variable(tf.zeros([size.vocab]));
  const variables = [embedding, ...layers.flatMap((l) => [l.inputKernel, l.recurrentKernel, l.bias]), outputKernel, outputBias];
  const state = layers.map(() => ({ h: tf.zeros([size.batch, size.hidden]) as tf.Tensor2D, c: tf.zeros([size.batch, size.hidden]) as tf.Tensor2D }));
  return { size, embedding, layers, outputKernel, outputBias, variables, state };
}

export function disposeLm(m: LmModel): void {
  tf.dispose(m.variables);
  m.state.forEach((s) => tf.dispose([s.h, s.c]));
}

/** Random token batch: inputs and targets, time-major flattened [T·B] int32. */
export function randomBatch(size: LmSize, rng: Rng): { inputs: tf.Tensor1D; targets: tf.Tensor1D } {
  const n = size.steps * size.batch;
  const ids = Int32Array.from({ length: n + size.batch }, () => rng.int(size.vocab));
  return { inputs: tf.tensor1d(ids.subarray(0, n), "int32"), targets: tf.tensor1d(ids.subarray(size.batch), "int32") };
}

function elementwiseDropout(x: tf.Tensor2D, rate: number, rng: Rng): tf.Tensor2D {
  const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", rng.tfSeed()), rate), "float32");
  return tf.mul(x, tf.mul(keep, 1 / (1 - rate))) as tf.Tensor2D;
}

function keepSets(groups: number, features: number, rate: number, rng: Rng): Int32Array[] {
  const kept = Math.max(1, Math.round((1 - rate) * features));
  return Array.from({ length: groups }, () => Int32Array.from(rng.sampleWithoutReplacement(features, kept)));
}

/** One training step (forward, backward, SGD update); returns the loss. State is carried and detached. */
export function trainStep(
  m: LmModel,
  batch: { inputs: tf.Tensor1D; targets: tf.Tensor1D },
  variant: DropoutVariant,
  learningRate: number,
  rng: Rng,
  outputColumnBlock = 0,
): number {
  const { steps: T, batch: B } = m.size;
  const nextState: LstmState[] = [];
  const { value, grads } = tf.variableGrads(() => {
    let x = tf.gather(m.embedding, batch.inputs) as tf.Tensor2D; // [T*B, E]
    for (let l = 0; l < m.layers.length; l++) {
      const p = m.layers[l];
      const features = x.shape[1];
      let projected: tf.Tensor3D; // [T, B, 4H]
      if (variant.kind === "structured") {
        const sets = keepSets(variant.groups, features, variant.rate, rng);
        projected = structuredDropoutSequenceProjection(tf.reshape(x, [T, B, features]), p.inputKernel as tf.Tensor as tf.Tensor2D, p.bias as tf.Tensor as tf.Tensor1D, sets, variant.rate);
      } else {
        const xd = variant.kind === "elementwise" ? elementwiseDropout(x, variant.rate, rng) : x;
        projected = sequenceProjection(tf.reshape(xd, [T, B, features]), p.inputKernel as tf.Tensor as tf.Tensor2D, p.bias as tf.Tensor as tf.Tensor1D);
      }
      const r = lstmRecurrence(p.recurrentKernel as tf.Tensor as tf.Tensor2D, projected, m.state[l]);
      nextState.push({ h: tf.keep(r.state.h), c: tf.keep(r.state.c) });
      x = tf.reshape(r.ys, [T * B, m.size.hidden]); // [T*B, H]
    }
    if (variant.kind === "structured") {
      const sets = keepSets(variant.groups, m.size.hidden, variant.rate, rng);
      return softmaxCrossEntropy(
        structuredDropoutGroupedMatMul(x, m.outputKernel as tf.Tensor as tf.Tensor2D, m.outputBias as tf.Tensor as tf.Tensor1D, sets, variant.rate, { columnBlock: outputColumnBlock }),
        batch.targets,
      );
    } else {
      const xd = variant.kind === "elementwise" ? elementwiseDropout(x, variant.rate, rng) : x;
      const logits = denseProjection(xd, m.outputKernel as tf.Tensor as tf.Tensor2D, m.outputBias as tf.Tensor as tf.Tensor1D, { columnBlock: outputColumnBlock }); // [T*B, V]
      return softmaxCrossEntropy(logits, batch.targets);
    }
  }, m.variables);
  tf.tidy(() => {
    for (const v of m.variables) v.assign(tf.sub(v, tf.mul(grads[v.name], learningRate)));
  });
  m.state.forEach((s) => tf.dispose([s.h, s.c]));
  m.state = nextState;
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}

export interface MatMulShape {
  m: number;
  k: number;
  n: number;
  count: number;
  reusedB: boolean;
  role: string;
}

/**
 * The matMuls one fast training step executes (m x k · k x n), how often, and whether B is reused
 * across calls: weight gradients run as (dyᵀ·x)ᵀ, i.e. [outputs, N]·[N, inputs]; with an output column
 * block the output layer's forward and dx products run per block.
 */
export function stepMatMuls(size: LmSize, outputColumnBlock = 0): MatMulShape[] {
  const N = size.steps * size.batch;
  const H = size.hidden;
  const V = size.vocab;
  const out: MatMulShape[] = [];
  for (let l = 0; l < size.layers; l++) {
    const I = l === 0 ? size.embedding : H;
    out.push({ m: N, k: I, n: 4 * H, count: 1, reusedB: false, role: `L${l} input projection` });
    out.push({ m: size.batch, k: H, n: 4 * H, count: size.steps, reusedB: true, role: `L${l} recurrent forward` });
    out.push({ m: size.batch, k: 4 * H, n: H, count: size.steps, reusedB: true, role: `L${l} recurrent backward` });
    out.push({ m: 4 * H, k: N, n: H, count: 1, reusedB: false, role: `L${l} dW_hh (transposed)` });
    out.push({ m: 4 * H, k: N, n: I, count: 1, reusedB: false, role: `L${l} dW_ih (transposed)` });
    out.push({ m: N, k: 4 * H, n: I, count: 1, reusedB: false, role: `L${l} dx` });
  }
  const block = outputColumnBlock > 0 && outputColumnBlock < V ? outputColumnBlock : V;
  const full = Math.floor(V / block);
  const rest = V - full * block;
  out.push({ m: N, k: H, n: block, count: full, reusedB: false, role: "output forward" });
  out.push({ m: N, k: block, n: H, count: full, reusedB: false, role: "output dx" });
  if (rest > 0) {
    out.push({ m: N, k: H, n: rest, count: 1, reusedB: false, role: "output forward (last block)" });
    out.push({ m: N, k: rest, n: H, count: 1, reusedB: false, role: "output dx (last block)" });
  }
  out.push({ m: V, k: N, n: H, count: 1, reusedB: false, role: "output dW (transposed)" });
  return out;
}

/**
 * Time each distinct matMul shape as a plain NN product (operands prepared outside the timed region; a
 * fresh right-hand tensor per call unless the step reuses it, as after a weight update). Returns the
 * milliseconds per call for each entry of `shapes`.
 */
export function timeMatMuls(shapes: MatMulShape[], rng: Rng): { wallMs: number; cpuMs: number }[] {
  const cache = new Map<string, { wallMs: number; cpuMs: number }>();
  return shapes.map((s) => {
    const key = `${s.m}x${s.k}x${s.n}:${s.reusedB}:${s.count}`;
    const known = cache.get(key);
    if (known !== undefined) return known;
    const a = tf.randomUniform([s.m, s.k], -1, 1, "float32", rng.tfSeed());
    const b0 = tf.randomUniform([s.k, s.n], -1, 1, "float32", rng.tfSeed());
    if (s.reusedB) tf.dispose(tf.matMul(a, b0)); // pack B once, as the step's first call does
    // Otherwise a fresh right-hand tensor per call: XNNPACK must pack it, as after a weight update.
    const operands = s.reusedB ? [] : Array.from({ length: s.count }, () => tf.add(b0, 0));
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < s.count; i++) {
      const y = tf.matMul(a, s.reusedB ? b0 : operands[i]);
      y.dataSync(); // wait for asynchronous backends
      y.dispose();
    }
    const wallMs = (performance.now() - t0) / s.count;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / s.count;
    tf.dispose([a, b0, ...operands]);
    const r = { wallMs, cpuMs };
    cache.set(key, r);
    return r;
  });
}
