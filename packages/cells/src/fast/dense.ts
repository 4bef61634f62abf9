/**
 * Fast dense layers for the training path: y = x·W + b with hand-written gradients
 *   dx = dy·Wᵀ      dW = xᵀ·dy = (dyᵀ·x)ᵀ      db = 1ᵀ·dy
 * chosen for tfjs-backend-wasm 4.22 (XNNPACK packs the right-hand matrix of every product, and packing a
 * fresh large matrix costs about as much as multiplying; docs/performance.md §2):
 * - dW is computed as (dyᵀ·x)ᵀ: the packed operand is then x [N, H] (small) instead of dy [N, V]
 *   (e.g. 700 x 10000 for a word LM's output layer). Measured ~1.4-1.7x faster for that product.
 * - db is a last-axis sum of dyᵀ, which the dW product needs anyway: a sum over axis 0 transposes dy
 *   again (~25 ms on [700, 10000]), and 1ᵀ·dy as a matMul would pack all of dy.
 * - With `columnBlock` > 0 the forward product and dx are computed in blocks of W's columns, so each
 *   packed block stays cache-sized (large right-hand matrices run at ~11-17 GFLOP/s, blocks at 22-27).
 *   Worth it for big layers (medium LM: output layer ~1.4x), not for small ones.
 * Where matMul's transpose flags are free (native BLAS under wasm, native backends: core's
 * `transposeFlagsAreFree`), none of that applies: dx = dy·Wᵀ and dW = xᵀ·dy are single products with
 * the flags set, db = 1ᵀ·dy is a matrix-vector product, and W is never split into column blocks
 * (the transposes above would be pure memory traffic: ~20 ms per step of a small word LM).
 */
import { tf, transposeFlagsAreFree } from "@rnnlab/core";

/**
 * xᵀ·dy for x [N, F], dy [N, V] as (dyᵀ·x)ᵀ, so the packed right-hand operand is x rather than dy.
 * The weight gradient of every x·W in the fast path.
 */
export function weightGradient(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (transposeFlagsAreFree()) return tf.matMul(x, dy, true, false); // [F, V]
  return tf.tidy(() => tf.transpose(tf.matMul(tf.transpose(dy), x)) as tf.Tensor2D); // [F, V]
}

/** x [N, F] + b [F] (the bias gradient is the column sum of dy). */
export function addBias(x: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(x, bias) as tf.Tensor2D;
}

export interface DenseProjectionOptions {
  /** Compute x·W and dy·Wᵀ in blocks of this many columns of W; 0 = one product (default). */
  columnBlock?: number;
}

function blocks(total: number, block: number): [number, number][] {
  if (!(block > 0) || block >= total) return [[0, total]];
  const out: [number, number][] = [];
  for (let c = 0; c < total; c += block) out.push([c, Math.min(block, total - c)]);
  return out;
}

/** y = x·W (+ b) for x [N, F], W [F, V]; see the file comment for the gradient's shape choices. */
export function denseProjection(x: tf.Tensor2D, kernel: tf.Tensor2D, bias?: tf.Tensor1D, options: DenseProjectionOptions = {}): tf.Tensor2D {
  const [n, features] = x.shape;
  const [kernelRows, outputs] = kernel.shape;
  if (kernelRows !== features) throw new Error(`denseProjection: kernel must have ${features} rows to match x [${x.shape}], got [${kernel.shape}].`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outputs)) throw new Error(`denseProjection: bias must be [${outputs}], got [${bias.shape}].`);
  const flagsFree = transposeFlagsAreFree();
  const parts = blocks(outputs, flagsFree ? 0 : options.columnBlock ?? 0);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, bIn] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D | undefined];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    let value: tf.Tensor =
      parts.length === 1 ? tf.matMul(xIn, wIn) : tf.concat(parts.map(([c, w]) => tf.matMul(xIn, tf.slice(wIn, [0, c], [features, w]))), 1); // [N, V]
    if (bias) value = tf.add(value, bIn as tf.Tensor1D);
    save([xIn, wIn]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D;
      if (flagsFree) {
        const dxFree = tf.matMul(d, sw, false, true); // [N, F]
        const dwFree = tf.matMul(sx, d, true, false); // [F, V]
        return bias ? [dxFree, dwFree, tf.reshape(tf.matMul(tf.ones([1, n]), d), [outputs])] : [dxFree, dwFree];
      }
      let dx: tf.Tensor2D;
      if (parts.length === 1) dx = tf.matMul(d, tf.transpose(sw)); // [N, F]
      else {
        const wT = tf.transpose(sw); // [V, F]: its row blocks are contiguous
        dx = tf.addN(parts.map(([c, w]) => tf.matMul(tf.slice(d, [0, c], [n, w]), tf.slice(wT, [c, 0], [w, features])))) as tf.Tensor2D;
      }
      const dT = tf.transpose(d); // [V, N]
      const dw = tf.transpose(tf.matMul(dT, sx)); // [F, V] = (dyᵀ·x)ᵀ, so x (small) is the packed operand
      // The bias gradient is a last-axis sum of the transposed dy we already have (a sum over axis 0, or a
      // [1, N]·dy matMul, would transpose or pack all of dy again).
      return bias ? [dx, dw, tf.sum(dT, 1)] : [dx, dw];
    };
    return { value, gradFunc };
  });
  return (bias ? op(x, kernel, bias) : op(x, kernel)) as tf.Tensor2D;
}
