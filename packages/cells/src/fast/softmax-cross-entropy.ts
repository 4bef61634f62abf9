/**
 * Mean softmax cross-entropy over integer labels, as one tf.customGrad built on tf.softmax.
 *
 *   p = softmax(z)                    loss = −(1/N) Σ_n log p[n, y_n]
 *   ∂loss/∂z = (p − onehot(y)) / N
 *
 * Why not tf.losses.softmaxCrossEntropy: it uses logSumExp, whose exp is scalar on wasm (60-95 ms on
 * [700, 10000] against ~10 ms for the XNNPACK softmax; docs/performance.md §3). And the "onehot" is
 * built by tensorScatterUpdate of float values, never a float32 tf.oneHot (wrong on stock wasm, pitfall 5).
 *
 * Stability: log p[n, y] would be −∞ when p underflows. Then we use log p[n,y] = z[n,y] − z[n,m] + log p[n,m]
 * with m = argmax (p[n,m] ≥ 1/V never underflows), which is exact for any logits.
 */
import { tf } from "@rnnlab/core";

function flatIndices(labels: tf.Tensor1D, vocab: number): tf.Tensor1D {
  const n = labels.shape[0];
  return tf.add(tf.mul(tf.range(0, n, 1, "int32"), tf.scalar(vocab, "int32")), labels) as tf.Tensor1D; // [N] positions in the flat [N*V]
}

/** Backends whose tensors live in host memory, where reading one number back costs nothing. */
const SYNC_READS_ARE_CHEAP = new Set(["cpu", "wasm", "tensorflow"]);

const crossEntropy = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [logits, labels] = args as [tf.Tensor2D, tf.Tensor1D];
  const save = args[2] as tf.GradSaveFunc;
  const [n, vocab] = logits.shape;
  const p = tf.softmax(logits); // [N, V]
  const labelIndices = flatIndices(labels, vocab); // [N]
  const pLabel = tf.gather(tf.reshape(p, [n * vocab]), labelIndices); // [N]
  let logPLabel: tf.Tensor1D; // [N]
  // log p[n, y] directly, unless some p[n, y] underflowed (its log would be −∞): then the exact form
  // z[n,y] − z[n,m] + log p[n,m] with m = argmax. The check reads one number (free on wasm/cpu); the two
  // max reductions over [N, V] it usually saves cost ~2 % of a small LM step. Where a read waits for a GPU
  // (webgpu, webgl: and synchronous reads fail there in Node) both forms are computed and chosen per entry.
  if (!SYNC_READS_ARE_CHEAP.has(tf.getBackend())) {
    const zLabel = tf.gather(tf.reshape(logits, [n * vocab]), labelIndices); // [N]
    const exact = tf.add(tf.sub(zLabel, tf.max(logits, 1)), tf.log(tf.max(p, 1))); // [N]
    logPLabel = tf.where(tf.greater(pLabel, 1e-30), tf.log(pLabel), exact) as tf.Tensor1D;
  } else if (tf.min(pLabel).dataSync()[0] > 1e-30) logPLabel = tf.log(pLabel) as tf.Tensor1D;
  else {
    const zLabel = tf.gather(tf.reshape(logits, [n * vocab]), labelIndices); // [N]
    logPLabel = tf.add(tf.sub(zLabel, tf.max(logits, 1)), tf.log(tf.max(p, 1))) as tf.Tensor1D;
  }
  const value = tf.neg(tf.mean(logPLabel));
  save([p, labels, pLabel]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [sp, sl, spl] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
    const k = tf.div(dy, n); // scalar
    const at = tf.stack([tf.range(0, n, 1, "int32"), sl], 1); // [N, 2]
    // (p − onehot)·k as p·k with the N label entries overwritten by (p[n, y] − 1)·k: one pass over [N, V].
    const dLogits = tf.tensorScatterUpdate(tf.mul(sp, k), at, tf.mul(tf.sub(spl, 1), k)); // [N, V]
    return [dLogits, tf.zerosLike(sl)];
  };
  return { value, gradFunc };
});

/**
 * Mean softmax cross-entropy. `logits` [N, V] float32, `labels` [N] int32 class indices in [0, V).
 * Returns a scalar. Differentiable w.r.t. the logits (labels get a zero gradient).
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0])
    throw new Error(
      `softmaxCrossEntropy: logits must be [N, V] and labels [N]; got logits [${logits.shape}] and labels [${labels.shape}].`,
    );
  if (labels.dtype !== "int32") throw new Error(`softmaxCrossEntropy: labels must be int32 (got ${labels.dtype}); use tf.cast(labels, "int32").`);
  return crossEntropy(logits, labels) as tf.Scalar;
}
