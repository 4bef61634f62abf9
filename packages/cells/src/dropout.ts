/**
 * Dropout, all inverted (kept values scaled by 1/(1−p)), all seeded from an Rng.
 *
 *   elementwise  (Zaremba et al. 2014)   a new Bernoulli mask for every element and every call / step
 *   locked       (Gal & Ghahramani 2016) one mask per sequence [batch, features], constant over time
 *   embedding    (Gal & Ghahramani 2016) whole rows (words) of the embedding matrix dropped
 *   structured   (Sarma et al. NeurIPS 2021, docs/papers/structured-dropout.md) one keep-index set K_t per (layer, time step),
 *                shared by the whole batch, executed as  x[:, K_t] · W[K_t, :] / (1−p)
 *                so the forward matMul, the data gradient and the weight gradient all shrink to
 *                |K_t| ≈ (1−p)·n rows. TF.js autodiff of gather gives the scatter-add into dW[K_t].
 *
 * DEVIATION (structured): exactly round((1−p)·n) units are kept per step (a fixed-size index set, so
 * the shrunken matMul has a static shape) instead of an independent Bernoulli draw per unit; the
 * scale stays 1/(1−p) as in the paper's formulation.
 */
import { tf, type Rng } from "@rnnlab/core";
import { denseProjection } from "./fast/dense";
import { checkKind, checkOptions, checkRate, requireRng } from "./validate";
import { unstackSteps } from "./scan";

export type DropoutConfig =
  | { kind: "none" }
  | { kind: "elementwise"; rate: number }
  | { kind: "locked"; rate: number }
  | { kind: "structured"; rate: number; execution?: StructuredExecution };

export const DROPOUT_KINDS = ["none", "elementwise", "locked", "structured"] as const;

export function resolveDropoutConfig(where: string, name: string, config: DropoutConfig | undefined): DropoutConfig {
  if (config === undefined) return { kind: "none" };
  const kind = checkKind(where, name, config, DROPOUT_KINDS);
  if (kind === "none") {
    checkOptions(`${where} ${name}`, config, ["kind"]);
    return { kind };
  }
  checkOptions(`${where} ${name}`, config, kind === "structured" ? ["kind", "rate", "execution"] : ["kind", "rate"]);
  const rate = (config as { rate: number }).rate;
  checkRate(`${where} ${name}`, "rate", rate);
  if (kind !== "structured") return { kind, rate };
  const execution = (config as { execution?: string }).execution ?? "gather";
  if (execution !== "gather" && execution !== "mask") {
    throw new Error(`${where} ${name}: option "execution" must be "gather" or "mask", got ${JSON.stringify(execution)}.`);
  }
  return { kind, rate, execution };
}

/** A {0, 1/(1−p)} mask of the given shape. */
export function dropoutMask(shape: number[], rate: number, rng: Rng): tf.Tensor {
  checkRate("dropoutMask", "rate", rate);
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, "float32", rng.tfSeed()), rate), "float32");
    return tf.div(keep, 1 - rate);
  });
}

/** Per-element dropout with a fresh mask. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, rng: Rng): T {
  return tf.tidy(() => tf.mul(x, dropoutMask(x.shape, rate, rng))) as T;
}

/** One mask per sequence; multiply it into every step (or broadcast over [T, B, F] as [1, B, F]). */
export function lockedDropoutMask(shape: number[], rate: number, rng: Rng): tf.Tensor {
  return dropoutMask(shape, rate, rng);
}

/**
 * Elementwise or locked dropout on a whole sequence [time, batch, features]. Elementwise draws a mask
 * per (t, b, j); locked draws one [batch, features] mask shared by all steps. Structured dropout
 * cannot be applied to a sequence alone (it changes the following matMul): use
 * structuredSequenceMatMul / denseSequence / a cell's inputDropout.
 */
export function applyDropout(xs: tf.Tensor3D, config: DropoutConfig, rng: Rng | undefined, training = true): tf.Tensor3D {
  if (!training || config.kind === "none") return xs;
  const r = requireRng("applyDropout", rng);
  const [, batch, features] = xs.shape;
  switch (config.kind) {
    case "elementwise":
      return dropout(xs, config.rate, r);
    case "locked":
      return tf.tidy(() => tf.mul(xs, tf.reshape(lockedDropoutMask([batch, features], config.rate, r), [1, batch, features]))) as tf.Tensor3D;
    case "structured":
      throw new Error(
        `applyDropout: dropout kind "structured" needs the following matMul; use structuredSequenceMatMul, denseSequence, or a cell's inputDropout.`,
      );
  }
}

/** Embedding dropout: drop whole rows (vocabulary entries) of [vocab, dim], scale the rest by 1/(1−p). */
export function embeddingDropout(embedding: tf.Tensor2D, rate: number, rng: Rng): tf.Tensor2D {
  return tf.tidy(() => tf.mul(embedding, dropoutMask([embedding.shape[0], 1], rate, rng))) as tf.Tensor2D;
}

/** Sorted indices of the round((1−p)·n) kept units; at p = 0 every unit. At least one unit is kept. */
export function structuredKeepIndices(featureCount: number, rate: number, rng: Rng): Int32Array {
  checkRate("structuredKeepIndices", "rate", rate);
  const keep = Math.max(1, Math.round((1 - rate) * featureCount));
  return Int32Array.from(rng.sampleWithoutReplacement(featureCount, keep));
}

/** x[:, K] · W[K, :] / (1−p):  [batch, I] x [I, N] -> [batch, N], contraction length |K|. */
export function structuredDropoutMatMul(x: tf.Tensor2D, kernel: tf.Tensor2D, keepIndices: Int32Array, rate: number): tf.Tensor2D {
  checkRate("structuredDropoutMatMul", "rate", rate);
  return tf.tidy(() => {
    const indices = tf.tensor1d(keepIndices, "int32");
    const xKept = tf.gather(x, indices, 1); // [batch, K]
    const kernelKept = tf.gather(kernel, indices, 0); // [K, N]
    return tf.div(tf.matMul(xKept, kernelKept), 1 - rate) as tf.Tensor2D; // [batch, N]
  });
}

export type StructuredExecution = "gather" | "mask";

/**
 * Structured dropout for every step of a sequence: step t uses its own index set keepIndices[t] (all
 * of equal size K). xs [T, B, I], kernel [I, N] -> [T, B, N].
 *   execution "gather" (default, the paper's method): per step x_t[:, K_t] · W[K_t, :] / (1−p), so the
 *     forward GEMM, the data gradient and the weight gradient all have contraction length K.
 *   execution "mask": the same numbers as one dense [T·B, I] x [I, N] matMul of (x_t ⊙ m_t)/(1−p)
 *     with m_t the 0/1 indicator of K_t. No shrinkage, but one large GEMM instead of T small ones.
 * Which is faster depends on the backend: on tfjs-wasm (2 cores, measured in the package README) one
 * large GEMM beats T small gathered ones, because each step re-packs a fresh W[K_t, :].
 * The per-step GEMMs are independent (no recurrence), so this loop is not a time loop in scan's sense.
 * (A single batched matMul over gathered [T, K, N] kernels was 3-4x slower than this on wasm.)
 */
export function structuredSequenceMatMul(
  xs: tf.Tensor3D,
  kernel: tf.Tensor2D,
  keepIndices: Int32Array[],
  rate: number,
  execution: StructuredExecution = "gather",
): tf.Tensor3D {
  checkRate("structuredSequenceMatMul", "rate", rate);
  const [steps, batch, inputSize] = xs.shape;
  if (keepIndices.length !== steps) {
    throw new Error(`structuredSequenceMatMul: need one keep-index set per step (${steps}), got ${keepIndices.length}.`);
  }
  if (execution === "mask") {
    const mask = new Float32Array(steps * inputSize);
    keepIndices.forEach((indices, t) => indices.forEach((k) => (mask[t * inputSize + k] = 1 / (1 - rate))));
    return tf.tidy(() => sequenceMatMul(tf.mul(xs, tf.tensor3d(mask, [steps, 1, inputSize])) as tf.Tensor3D, kernel)); // [T, B, N]
  }
  if (execution !== "gather") throw new Error(`structuredSequenceMatMul: option "execution" must be "gather" or "mask", got ${JSON.stringify(execution)}.`);
  return tf.tidy(() => {
    const rows = unstackSteps(xs); // T x [B, I]
    const out = rows.map((x, t) => structuredDropoutMatMul(x, kernel, keepIndices[t], rate)); // T x [B, N]
    return tf.stack(out) as tf.Tensor3D; // [T, B, N]
  });
}

/** xs [T, B, I] · kernel [I, N] (+ bias) as one [T·B, I] matMul. */
export function sequenceMatMul(xs: tf.Tensor3D, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor3D {
  const [steps, batch, inputSize] = xs.shape;
  // One product for all steps, with the hand-written gradient of ./fast/dense.ts (bias gradient as a
  // product, transposes only where the backend needs them).
  return tf.tidy(() => tf.reshape(denseProjection(tf.reshape(xs, [steps * batch, inputSize]) as tf.Tensor2D, kernel, bias), [steps, batch, kernel.shape[1]]) as tf.Tensor3D); // [T, B, N]
}

export interface DenseSequenceOptions {
  /** Dropout on the layer's input; default none. */
  dropout?: DropoutConfig;
  training?: boolean;
  rng?: Rng;
}

/**
 * A dense layer applied at every step, xs [T, B, I] -> [T, B, N], with any dropout kind on its input
 * (training only). Structured dropout draws one index set per step and shrinks the matMul.
 */
export function denseSequence(xs: tf.Tensor3D, kernel: tf.Tensor2D, bias: tf.Tensor1D | undefined, options: DenseSequenceOptions = {}): tf.Tensor3D {
  checkOptions("denseSequence", options as Record<string, unknown>, ["dropout", "training", "rng"]);
  const config = resolveDropoutConfig("denseSequence", "dropout", options.dropout);
  const training = options.training ?? false;
  return tf.tidy(() => {
    if (training && config.kind === "structured") {
      const rng = requireRng("denseSequence", options.rng);
      const indices = Array.from({ length: xs.shape[0] }, () => structuredKeepIndices(xs.shape[2], config.rate, rng));
      const out = structuredSequenceMatMul(xs, kernel, indices, config.rate, config.execution);
      return bias ? (tf.add(out, bias) as tf.Tensor3D) : out;
    }
    return sequenceMatMul(applyDropout(xs, config, options.rng, training), kernel, bias);
  });
}

/**
 * The input side of a recurrent layer, precomputed for all steps: dropout(xs) · kernel + bias.
 * Cells call this from `project`; `keepIndices` is drawn in `prepare` for structured dropout,
 * `mask` ([batch, I]) for locked dropout.
 */
export interface InputDropoutPrepared {
  config: DropoutConfig;
  training: boolean;
  rng?: Rng;
  mask?: tf.Tensor;
  keepIndices?: Int32Array[];
}

export function prepareInputDropout(config: DropoutConfig, training: boolean, rng: Rng | undefined, steps: number, batch: number, inputSize: number, where: string): InputDropoutPrepared {
  if (!training || config.kind === "none") return { config, training: false };
  const r = requireRng(where, rng);
  switch (config.kind) {
    case "locked":
      return { config, training, mask: lockedDropoutMask([batch, inputSize], config.rate, r) };
    case "structured":
      return { config, training, keepIndices: Array.from({ length: steps }, () => structuredKeepIndices(inputSize, config.rate, r)) };
    case "elementwise":
      return { config, training, rng: r };
  }
}

export function projectInput(xs: tf.Tensor3D, kernel: tf.Tensor2D, bias: tf.Tensor1D | undefined, prepared: InputDropoutPrepared): tf.Tensor3D {
  const { config, training } = prepared;
  return tf.tidy(() => {
    if (!training || config.kind === "none") return sequenceMatMul(xs, kernel, bias);
    if (config.kind === "structured") {
      const out = structuredSequenceMatMul(xs, kernel, prepared.keepIndices!, config.rate, config.execution);
      return bias ? (tf.add(out, bias) as tf.Tensor3D) : out;
    }
    if (config.kind === "locked") {
      const [, batch, features] = xs.shape;
      return sequenceMatMul(tf.mul(xs, tf.reshape(prepared.mask!, [1, batch, features])) as tf.Tensor3D, kernel, bias);
    }
    return sequenceMatMul(dropout(xs, config.rate, prepared.rng!), kernel, bias);
  });
}
