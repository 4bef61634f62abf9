/**
 * Fused scoRNN recurrence over a whole sequence (./../scornn.ts), given the projected input x_t = x·W ([T, B, H]):
 *   p = x_t + h_{t-1}·U      h_t = sign(p)·relu(|p| + b)      (modReLU, no epsilon)
 * The step loop runs in the native kernels (core's SCORNN_FORWARD_KERNEL / SCORNN_BACKWARD_KERNEL: C with one
 * BLAS product per step). Backward, with dh_t = dy_t + carried:
 *   dp = dh ⊙ [h_t ≠ 0]      db = Σ dh ⊙ [h_t ≠ 0] ⊙ sign(p)      dh_{t-1} = dp·Uᵀ
 *   dx_t = dp                dU = Σ_t h_{t-1}ᵀ·dp_t (one product over all steps)
 * U is an ordinary input of the custom gradient, so dU reaches train's OrthogonalUpdater (which turns it into
 * dL/dA) exactly as the stepping path's autodiff gradient does. `scornnRecurrence` returns undefined on
 * backends without the kernels, and the cell then steps (scan). Held equal to stepping by cells/test/scornn-fused.test.ts.
 */
import { tf, SCORNN_BACKWARD_KERNEL, SCORNN_FORWARD_KERNEL } from "@rnnlab/core";
import { weightGradient } from "./dense";

const recurrence = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [proj, h0, u, bmod] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const save = args[4] as tf.GradSaveFunc;
  const [T, B, H] = proj.shape;
  const [ys, saved] = tf.engine().runKernel(SCORNN_FORWARD_KERNEL, { proj, u, bmod, h0 }, {}) as tf.Tensor[]; // [T, B, H] each
  save([h0, u, ys, saved]);
  const gradFunc = (dy: tf.Tensor, s: tf.Tensor[]): tf.Tensor[] => {
    const [sh0, su, sys, ssaved] = s;
    const [dx, dh0, dbmod] = tf.engine().runKernel(SCORNN_BACKWARD_KERNEL, { dy, saved: ssaved, ys: sys, u: su }, {}) as tf.Tensor[];
    const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(sys, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
    const dU = weightGradient(hPrev, tf.reshape(dx, [T * B, H]) as tf.Tensor2D); // [H, H]
    return [dx, dh0, dU, dbmod];
  };
  return { value: ys, gradFunc };
});

/** scoRNN over a projected sequence [T, B, H] from h0 [B, H]: outputs [T, B, H] and the final h, or undefined without the kernels. */
export function scornnRecurrence(
  recurrentKernel: tf.Tensor2D, modReluBias: tf.Tensor1D, projected: tf.Tensor3D, h0: tf.Tensor2D,
): { ys: tf.Tensor3D; h: tf.Tensor2D } | undefined {
  if (!tf.getKernel(SCORNN_FORWARD_KERNEL, tf.getBackend())) return undefined;
  const [T, B, H] = projected.shape;
  if (recurrentKernel.shape[0] !== H || recurrentKernel.shape[1] !== H || modReluBias.shape[0] !== H || h0.shape[0] !== B || h0.shape[1] !== H)
    throw new Error(`scornnRecurrence: shapes do not agree: projected [${projected.shape}], U [${recurrentKernel.shape}], b [${modReluBias.shape}], h0 [${h0.shape}].`);
  return tf.tidy(() => {
    const ys = recurrence(projected, h0, recurrentKernel, modReluBias) as tf.Tensor3D; // [T, B, H]
    const h = tf.reshape(tf.slice(ys, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D;
    return { ys, h };
  });
}
