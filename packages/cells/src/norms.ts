/**
 * Normalisation of pre-activations inside a cell.
 *
 * Layer norm (Ba, Kiros & Hinton 2016, docs/papers/baselines.md), per example over the F features:
 *   LN(a; γ, β) = γ ⊙ (a − μ)/sqrt(σ² + ε) + β,   μ = mean_j a_j,  σ² = mean_j (a_j − μ)²,  ε = 1e-5
 *
 * Assorted-time normalisation (Pospisil, Zadorozhnyy & Ye 2022, docs/papers/atn.md), per example, over the
 * current and the previous k−1 pre-activations of the same norm site (n = |S_t| ≤ k of them):
 *   μ_t  = (1/(n·F)) Σ_{s∈S_t} Σ_j a_s[j]
 *   σ²_t = (1/(n·F)) Σ_{s∈S_t} Σ_j (a_s[j] − μ_t)²  =  (1/(n·F)) Σ_s Σ_j a_s[j]²  −  μ_t²
 *   ATN(a_t) = γ ⊙ (a_t − μ_t)/sqrt(σ²_t + ε) + β        (only the current a_t is normalised)
 * So the window only needs, per past step, the per-example sums Σ_j a and Σ_j a². We keep those in
 * the cell state ([batch, k−1] each, oldest first) together with a step counter [batch, 1]. They are
 * not detached, so gradients flow into earlier steps through μ and σ, as in the reference code. A new
 * scan starts from an empty window (the state the caller passes in), i.e. the window is reset per
 * sequence / BPTT segment. With k = 1 there is no window and ATN is computed by the layer-norm code
 * path, so it equals LN exactly.
 */
import { ATN_BACKWARD_KERNEL, ATN_KERNEL, LAYER_NORM_BACKWARD_KERNEL, LAYER_NORM_KERNEL, tf } from "@rnnlab/core";
import { checkInteger, checkKind, checkOptions } from "./validate";

export const NORM_EPSILON = 1e-5;

export type NormalizationConfig = { kind: "none" } | { kind: "layer" } | { kind: "assortedTime"; window: number };

export const NORMALIZATION_KINDS = ["none", "layer", "assortedTime"] as const;

export function resolveNormalizationConfig(where: string, config: NormalizationConfig | undefined): NormalizationConfig {
  if (config === undefined) return { kind: "none" };
  const kind = checkKind(where, "normalization", config, NORMALIZATION_KINDS);
  if (kind !== "assortedTime") {
    checkOptions(`${where} normalization`, config, ["kind"]);
    return { kind };
  }
  checkOptions(`${where} normalization (assortedTime)`, config, ["kind", "window"]);
  const window = (config as { window: number }).window;
  checkInteger(`${where} normalization`, "window", window, 1);
  return { kind, window };
}

/** Layer norm over the last axis of [batch, F] (two-pass moments). */
/**
 * The same layer norm as one native kernel each way (core's LAYER_NORM_KERNEL: the row statistics,
 * normalisation and the gradient's two row means in C), for backends that have it.
 */
const nativeLayerNorm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, gain, bias] = args as tf.Tensor[];
  const save = args[3] as tf.GradSaveFunc;
  const [out, xhat, inv] = tf.engine().runKernel(LAYER_NORM_KERNEL, { a, gain, bias }, { epsilon: NORM_EPSILON }) as tf.Tensor[];
  save([xhat, inv, gain]);
  return {
    value: out,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xhat, inv, gain] = saved;
      return tf.engine().runKernel(LAYER_NORM_BACKWARD_KERNEL, { dy, xhat, inv, gain }, {}) as tf.Tensor[];
    },
  };
});

export function layerNorm(a: tf.Tensor2D, gain: tf.Tensor, bias: tf.Tensor): tf.Tensor2D {
  if (gain.rank === 1 && bias.rank === 1 && tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend())) return nativeLayerNorm(a, gain, bias) as tf.Tensor2D;
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(a, 1, true); // [batch, 1] each
    return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, NORM_EPSILON))), gain), bias) as tf.Tensor2D;
  });
}

/** The ATN window of one norm site: per-example sums of past pre-activations, oldest first. */
export interface NormWindow {
  sum: tf.Tensor2D; // [batch, k−1]
  squares: tf.Tensor2D; // [batch, k−1]
}

/**
 * ATN of a_t given the window and the number of steps already seen (`count`, [batch, 1]). Returns the
 * normalised tensor and the window shifted by one with a_t's sums appended.
 */
/**
 * The same step as one native kernel each way (core's ATN_KERNEL), for backends that have it. tf.customGrad
 * takes one output, so the normalised tensor and the two shifted windows travel packed as [B, F + 2(k−1)].
 */
const nativeAssortedTimeNorm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, gain, bias, wsum, wsq, count] = args as tf.Tensor[];
  const save = args[6] as tf.GradSaveFunc;
  const [out, newSum, newSq, xhat, stats] = tf.engine().runKernel(ATN_KERNEL, { a, gain, bias, wsum, wsq, count }, { epsilon: NORM_EPSILON }) as tf.Tensor[];
  save([a, xhat, stats, gain, wsum, count]);
  const F = a.shape[1] as number;
  const P = wsum.shape[1] as number;
  return {
    value: tf.concat([out, newSum, newSq], 1), // [B, F + 2P]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sxhat, sstats, sgain, swsum, scount] = saved;
      const [dout, dnewSum, dnewSq] = tf.split(dy, [F, P, P], 1);
      const [da, dgain, dbias, dwsum, dwsq] = tf.engine().runKernel(
        ATN_BACKWARD_KERNEL, { dout, dnewSum, dnewSq, a: sa, xhat: sxhat, stats: sstats, gain: sgain, wsum: swsum, count: scount }, {},
      ) as tf.Tensor[];
      return [da, dgain, dbias, dwsum, dwsq, tf.zerosLike(scount)];
    },
  };
});

export function assortedTimeNorm(
  a: tf.Tensor2D,
  gain: tf.Tensor,
  bias: tf.Tensor,
  window: NormWindow,
  count: tf.Tensor2D,
): { normalized: tf.Tensor2D; window: NormWindow } {
  const past = window.sum.shape[1]; // k − 1
  const features = a.shape[1];
  if (gain.rank === 1 && bias.rank === 1 && tf.getKernel(ATN_KERNEL, tf.getBackend())) {
    return tf.tidy(() => {
      const packed = nativeAssortedTimeNorm(a, gain, bias, window.sum, window.squares, count) as tf.Tensor2D;
      const [normalized, sum, squares] = tf.split(packed, [features, past, past], 1) as tf.Tensor2D[];
      return { normalized, window: { sum, squares } };
    });
  }
  return tf.tidy(() => {
    const sumNow = tf.sum(a, 1, true); // [batch, 1]
    const squaresNow = tf.sum(tf.square(a), 1, true); // [batch, 1]
    // Valid past entries are the newest min(count, k−1): entry s (oldest = 0) is valid iff s >= k−1−min(count, k−1).
    const seen = tf.minimum(count, past); // [batch, 1]
    const positions = tf.range(0, past, 1, "float32").reshape([1, past]); // [1, k−1]
    const valid = tf.cast(tf.greaterEqual(positions, tf.sub(past, seen)), "float32"); // [batch, k−1]
    const n = tf.mul(tf.add(seen, 1), features); // [batch, 1]
    const mean = tf.div(tf.add(sumNow, tf.sum(tf.mul(window.sum, valid), 1, true)), n); // [batch, 1]
    const meanSquare = tf.div(tf.add(squaresNow, tf.sum(tf.mul(window.squares, valid), 1, true)), n); // [batch, 1]
    const variance = tf.relu(tf.sub(meanSquare, tf.square(mean))); // guards tiny negative rounding
    const normalized = tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, NORM_EPSILON))), gain), bias) as tf.Tensor2D;
    const shift = (w: tf.Tensor2D, now: tf.Tensor) =>
      (past === 1 ? now : tf.concat([tf.slice(w, [0, 1], [-1, past - 1]), now], 1)) as tf.Tensor2D; // [batch, k−1]
    return { normalized, window: { sum: shift(window.sum, sumNow), squares: shift(window.squares, squaresNow) } };
  });
}
