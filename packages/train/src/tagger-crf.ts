/**
 * Linear-chain CRF output layer for the tagger (Lafferty et al. 2001; as in Lample et al. 2016's BiLSTM-CRF).
 *
 *   score(y | x) = start[y_1] + Σ_{t=1..n} e_t[y_t] + Σ_{t=2..n} A[y_{t−1}, y_t] + end[y_n]
 *   log Z(x)     = log Σ_y exp score(y | x), by the forward recursion
 *                  α_1 = start + e_1,   α_t[j] = logsumexp_i(α_{t−1}[i] + A[i, j]) + e_t[j]   (t ≤ n; frozen after)
 *                  log Z = logsumexp_j(α_n[j] + end[j])
 *   NLL          = log Z(x) − score(y* | x)
 *   decoding     = Viterbi (max instead of logsumexp, with back-pointers), in JS on the read-back emissions
 *
 * e_t are the BiLSTM's per-token tag scores [T, B, C]; A = transitions [C, C] (row: from, column: to);
 * padding steps (t ≥ n_b) leave α unchanged, so a sentence's NLL does not depend on the batch's padding.
 * The forward recursion runs over at most C×C per step, so the scalar exp of wasm (docs/performance.md §3) is no cost here.
 */
import { tf } from "@rnnlab/core";

/** A type alias (not an interface), so that it can sit in a parameter tree. */
export type CrfParams = {
  /** A[i, j]: score of tag j following tag i. */
  transitions: tf.Tensor2D;
  start: tf.Tensor1D;
  end: tf.Tensor1D;
};

export function initCrfParams(tagCount: number): CrfParams {
  return { transitions: tf.zeros([tagCount, tagCount]), start: tf.zeros([tagCount]), end: tf.zeros([tagCount]) };
}

/** [T, B, 1] float masks: real[t, b] = t < n_b, last[t, b] = t === n_b − 1. */
function stepMasks(T: number, lengths: readonly number[]): { real: tf.Tensor3D; last: tf.Tensor3D } {
  const B = lengths.length;
  const real = new Float32Array(T * B);
  const last = new Float32Array(T * B);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) real[t * B + b] = 1;
    last[(n - 1) * B + b] = 1;
  });
  return { real: tf.tensor3d(real, [T, B, 1]), last: tf.tensor3d(last, [T, B, 1]) };
}

/** log Z per sentence [B] for emissions [T, B, C]. Differentiable. */
export function crfLogPartition(crf: CrfParams, emissions: tf.Tensor3D, lengths: readonly number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const [T, B, C] = emissions.shape;
    const { real } = stepMasks(T, lengths);
    const steps = tf.unstack(emissions) as tf.Tensor2D[]; // T x [B, C]
    const masks = tf.unstack(real) as tf.Tensor2D[]; // T x [B, 1]
    let alpha = tf.add(steps[0], crf.start) as tf.Tensor2D; // [B, C]
    const transitions = tf.reshape(crf.transitions, [1, C, C]);
    for (let t = 1; t < T; t++) {
      const scores = tf.add(tf.reshape(alpha, [B, C, 1]), transitions); // [B, C_from, C_to]
      const next = tf.add(tf.logSumExp(scores, 1), steps[t]) as tf.Tensor2D; // [B, C]
      alpha = tf.add(tf.mul(masks[t], next), tf.mul(tf.sub(1, masks[t]), alpha)) as tf.Tensor2D; // frozen past n_b
    }
    return tf.logSumExp(tf.add(alpha, crf.end), 1) as tf.Tensor1D; // [B]
  });
}

/** score(y | x) per sentence [B]; tags [T, B] int32 (padding positions ignored). Differentiable. */
export function crfSequenceScore(crf: CrfParams, emissions: tf.Tensor3D, tags: tf.Tensor2D, lengths: readonly number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const [T, B, C] = emissions.shape;
    const { real, last } = stepMasks(T, lengths);
    const hot = tf.cast(tf.oneHot(tf.cast(tags, "int32"), C), "float32") as tf.Tensor3D; // [T, B, C]
    const emitted = tf.sum(tf.mul(tf.mul(emissions, hot), real), [0, 2]); // [B]
    const first = tf.sum(tf.mul(tf.slice(hot, [0, 0, 0], [1, B, C]), crf.start), [0, 2]); // [B]
    const final = tf.sum(tf.mul(tf.mul(hot, last), crf.end), [0, 2]); // [B]
    if (T === 1) return tf.add(tf.add(emitted, first), final) as tf.Tensor1D;
    // A[y_{t−1}, y_t] for t ≥ 1: onehot(y_{t−1}) · A · onehot(y_t)ᵀ, counted where t is real.
    const previous = tf.reshape(tf.slice(hot, [0, 0, 0], [T - 1, B, C]), [(T - 1) * B, C]); // [(T−1)·B, C]
    const current = tf.slice(hot, [1, 0, 0], [T - 1, B, C]); // [T−1, B, C]
    const fromPrevious = tf.reshape(tf.matMul(previous, crf.transitions), [T - 1, B, C]); // [T−1, B, C]
    const realAfterFirst = tf.slice(real, [1, 0, 0], [T - 1, B, 1]);
    const transitions = tf.sum(tf.mul(tf.mul(fromPrevious, current), realAfterFirst), [0, 2]); // [B]
    return tf.add(tf.add(tf.add(emitted, first), final), transitions) as tf.Tensor1D;
  });
}

/** Σ_b NLL_b (scalar): log Z − score(gold), summed over the batch. */
export function crfNegativeLogLikelihood(crf: CrfParams, emissions: tf.Tensor3D, tags: tf.Tensor2D, lengths: readonly number[]): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.sub(crfLogPartition(crf, emissions, lengths), crfSequenceScore(crf, emissions, tags, lengths))) as tf.Scalar);
}

/**
 * Viterbi: the highest-scoring tag sequence per sentence. `emissions` [T, B, C] and the CRF parameters are
 * read back once; the recursion runs in JS (C is small).
 */
export function crfViterbi(crf: CrfParams, emissions: tf.Tensor3D, lengths: readonly number[]): number[][] {
  const [, B, C] = emissions.shape;
  const e = emissions.dataSync();
  const A = crf.transitions.dataSync();
  const start = crf.start.dataSync();
  const end = crf.end.dataSync();
  const at = (t: number, b: number, c: number) => e[(t * B + b) * C + c];
  const out: number[][] = [];
  for (let b = 0; b < B; b++) {
    const n = lengths[b];
    let delta = Float64Array.from({ length: C }, (_, c) => start[c] + at(0, b, c));
    const back: Int32Array[] = [];
    for (let t = 1; t < n; t++) {
      const next = new Float64Array(C);
      const pointer = new Int32Array(C);
      for (let j = 0; j < C; j++) {
        let best = -Infinity;
        let arg = 0;
        for (let i = 0; i < C; i++) {
          const v = delta[i] + A[i * C + j];
          if (v > best) {
            best = v;
            arg = i;
          }
        }
        next[j] = best + at(t, b, j);
        pointer[j] = arg;
      }
      delta = next;
      back.push(pointer);
    }
    let last = 0;
    for (let c = 1; c < C; c++) if (delta[c] + end[c] > delta[last] + end[last]) last = c;
    const path = [last];
    for (let t = back.length - 1; t >= 0; t--) path.unshift(back[t][path[0]]);
    out.push(path);
  }
  return out;
}
