/**
 * Masked softmax cross-entropy for sequence models (translation decoder, tagger):
 *
 *   p = softmax(z),  ℓ_n = −log p_n[y_n],  loss = Σ_n w_n ℓ_n / Σ_n w_n     (w_n = 1 real token, 0 padding)
 *   ∂loss/∂z_n = w_n (p_n − onehot(y_n)) / Σ w
 *
 * Built on tf.softmax with a hand-written gradient: on wasm, softmax runs in XNNPACK while exp / logSumExp
 * are scalar loops (docs/performance.md §3), and the closed-form gradient skips autodiff through softmax.
 * Padding positions get weight 0, so their logits receive exactly zero gradient and the loss of the real
 * tokens does not depend on what the padding holds. log p is floored at log(1e-30) ≈ −69 to stay finite.
 */
import { tf } from "@rnnlab/core";

export interface MaskedCrossEntropy {
  /** Σ w ℓ / max(Σ w, 1): mean over real tokens. */
  mean: tf.Scalar;
  /** Σ w (the number of real tokens), as a scalar tensor. */
  count: tf.Scalar;
}

const meanLoss = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [logits, oneHot, weights] = args as tf.Tensor[];
  const save = args[3] as tf.GradSaveFunc;
  const probabilities = tf.softmax(logits); // [N, V]
  const target = tf.sum(tf.mul(probabilities, oneHot), 1); // [N]
  const loss = tf.neg(tf.log(tf.maximum(target, 1e-30))); // [N]
  const count = tf.maximum(tf.sum(weights), 1);
  const value = tf.div(tf.sum(tf.mul(loss, weights)), count) as tf.Scalar;
  save([probabilities, oneHot, weights, count]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [p, y, w, n] = saved;
      const scale = tf.div(tf.mul(dy, w), n).reshape([-1, 1]); // [N, 1]
      return [tf.mul(tf.sub(p, y), scale), tf.zerosLike(y), tf.zerosLike(w)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

function checkShapes(where: string, logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): void {
  const N = logits.shape[0];
  if (targets.shape[0] !== N || weights.shape[0] !== N) {
    throw new Error(`${where}: logits have ${N} rows but targets have ${targets.shape[0]} and weights ${weights.shape[0]}`);
  }
}

/** logits [N, V], targets [N] int32, weights [N] float32 (1 real, 0 padding). Differentiable in logits. */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): MaskedCrossEntropy {
  checkShapes("maskedCrossEntropy", logits, targets, weights);
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(tf.cast(targets, "int32"), logits.shape[1]), "float32") as tf.Tensor2D; // [N, V] (int32 oneHot, then cast: stock wasm float32 oneHot is wrong)
    const w = tf.cast(weights, "float32") as tf.Tensor1D;
    const mean = meanLoss(logits, oneHot, w) as tf.Scalar;
    return { mean, count: tf.maximum(tf.sum(w), 1) as tf.Scalar };
  });
}

/** w_n · ℓ_n per position, [N] (evaluation / scoring; not for gradients). */
export function maskedTokenLosses(logits: tf.Tensor2D, targets: tf.Tensor1D, weights: tf.Tensor1D): tf.Tensor1D {
  checkShapes("maskedTokenLosses", logits, targets, weights);
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(tf.cast(targets, "int32"), logits.shape[1]), "float32"); // [N, V]
    const p = tf.sum(tf.mul(tf.softmax(logits), oneHot), 1); // [N]
    return tf.mul(tf.neg(tf.log(tf.maximum(p, 1e-30))), tf.cast(weights, "float32")) as tf.Tensor1D;
  });
}
