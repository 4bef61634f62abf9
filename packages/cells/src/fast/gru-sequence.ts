/**
 * Fused GRU recurrence over a whole sequence (PyTorch's GRU, ./../gru.ts):
 *   rec_t = h_{t-1}·U + b_rec                                   U: recurrentKernel [H,3H], b_rec [3H]
 *   r = σ(x_r + rec_r)   z = σ(x_z + rec_z)   n = tanh(x_n + r ⊙ rec_n)   h_t = n + z ⊙ (h_{t-1} − n)
 * given x_t = the projected input (x_t·W + b, [T, B, 3H]). Backward, with dh_t = dy_t + carried:
 *   dn̂ = dh ⊙ (1 − z) ⊙ (1 − n²)   dẑ = dh ⊙ (h_{t-1} − n) ⊙ z(1 − z)   dr̂ = dn̂ ⊙ rec_n ⊙ r(1 − r)
 *   dx_t = [dr̂, dẑ, dn̂]   drec_t = [dr̂, dẑ, dn̂ ⊙ r]   dh_{t-1} = dh ⊙ z + drec_t·Uᵀ
 *   dU = Σ_t h_{t-1}ᵀ·drec_t (one product)   db_rec = Σ drec_t
 * The step loop runs in the native kernels (core's GRU_FORWARD_KERNEL / GRU_BACKWARD_KERNEL: C with one
 * BLAS product per step); `gruRecurrence` returns undefined on backends without them, and the cell
 * then steps (scan). Held equal to stepping by cells/test/scan.test.ts.
 */
import { tf, GRU_BACKWARD_KERNEL, GRU_FORWARD_KERNEL } from "@rnnlab/core";
import { weightGradient } from "./dense";

const recurrence = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [proj, h0, u, brec] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const save = args[4] as tf.GradSaveFunc;
  const [T, B, H3] = proj.shape;
  const H = H3 / 3;
  const [ys, saved] = tf.engine().runKernel(GRU_FORWARD_KERNEL, { proj, u, brec, h0 }, {}) as tf.Tensor[];
  save([h0, u, ys, saved]);
  const gradFunc = (dy: tf.Tensor, s: tf.Tensor[]): tf.Tensor[] => {
    const [sh0, su, sys, ssaved] = s;
    const [dx, drec, dh0] = tf.engine().runKernel(GRU_BACKWARD_KERNEL, { dy, saved: ssaved, h0: sh0, ys: sys, u: su }, {}) as tf.Tensor[];
    const dRec = tf.reshape(drec, [T * B, H3]) as tf.Tensor2D; // [T*B, 3H]
    const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(sys, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
    const dU = weightGradient(hPrev, dRec); // [H, 3H]
    const dB = tf.reshape(tf.matMul(tf.ones([1, T * B]), dRec), [H3]); // [3H]
    return [dx, dh0, dU, dB];
  };
  return { value: ys, gradFunc };
});

/**
 * The GRU over a whole projected sequence [T, B, 3H] from h0 [B, H]: outputs [T, B, H] and the final h,
 * or undefined when the backend has no fused GRU kernels.
 */
export function gruRecurrence(
  recurrentKernel: tf.Tensor2D, recurrentBias: tf.Tensor1D, projected: tf.Tensor3D, h0: tf.Tensor2D,
): { ys: tf.Tensor3D; h: tf.Tensor2D } | undefined {
  if (!tf.getKernel(GRU_FORWARD_KERNEL, tf.getBackend())) return undefined;
  const [T, B, H3] = projected.shape;
  const H = H3 / 3;
  if (recurrentKernel.shape[0] !== H || recurrentKernel.shape[1] !== H3 || recurrentBias.shape[0] !== H3 || h0.shape[1] !== H)
    throw new Error(`gruRecurrence: shapes do not agree: projected [${projected.shape}], U [${recurrentKernel.shape}], b [${recurrentBias.shape}], h0 [${h0.shape}].`);
  return tf.tidy(() => {
    const ys = recurrence(projected, h0, recurrentKernel, recurrentBias) as tf.Tensor3D; // [T, B, H]
    const h = tf.reshape(tf.slice(ys, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D;
    return { ys, h };
  });
}
