/**
 * Fused NC-GRU recurrence over a whole sequence (./../ncgru.ts), given the projected input
 * x_t = [x_rz, x_c] ([T, B, 3H]; the candidate block has no additive bias):
 *   [r z] = σ(x_rz + h_{t-1}·U_rz)   p = x_c + (r ⊙ h_{t-1})·U_c   c = sign(p)·relu(|p| + b)
 *   h_t = c + z ⊙ (h_{t-1} − c)
 * U_rz [H, 2H] is the reset and update recurrent matrices side by side (NC-GRU(U_c, U_r) passes
 * [U_r | U_z]). The step loop runs in the native kernels (core's NCGRU_FORWARD_KERNEL /
 * NCGRU_BACKWARD_KERNEL); the weight gradients are two products over all steps:
 *   dU_rz = Σ_t h_{t-1}ᵀ·[dr̂ dẑ]_t     dU_c = Σ_t (r ⊙ h_{t-1})ᵀ·dp_t
 * With `resetAfterProduct` (the "resetAfterProduct" candidate, the authors' PyTorch char-PTB code) the
 * candidate is p = x_c + r ⊙ (h_{t-1}·U_c) instead (the kernels' resetAfter flag), and dU_c = Σ_t h_{t-1}ᵀ·(r ⊙ dp_t).
 * `ncgruRecurrence` returns undefined on backends without the kernels (the cell then steps).
 */
import { tf, NCGRU_BACKWARD_KERNEL, NCGRU_FORWARD_KERNEL } from "@rnnlab/core";
import { weightGradient } from "./dense";

const recurrenceFor = (resetAfter: boolean) => tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [proj, h0, urz, uc, bmod] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  const save = args[5] as tf.GradSaveFunc;
  const [T, B, H3] = proj.shape;
  const H = H3 / 3;
  const attrs = { resetAfter: resetAfter ? 1 : 0 };
  const [ys, saved] = tf.engine().runKernel(NCGRU_FORWARD_KERNEL, { proj, urz, uc, bmod, h0 }, attrs) as tf.Tensor[]; // saved [T, B, 4H or 5H]
  save([h0, urz, uc, ys, saved]);
  const gradFunc = (dy: tf.Tensor, s: tf.Tensor[]): tf.Tensor[] => {
    const [sh0, surz, suc, sys, ssaved] = s;
    const [dx, dh0, dbmod] = tf.engine().runKernel(NCGRU_BACKWARD_KERNEL, { dy, saved: ssaved, h0: sh0, ys: sys, urz: surz, uc: suc }, attrs) as tf.Tensor[];
    const dX = tf.reshape(dx, [T * B, H3]) as tf.Tensor2D; // [T*B, 3H]
    const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(sys, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
    const r = tf.slice(tf.reshape(ssaved, [T * B, ssaved.shape[2]!]), [0, 0], [T * B, H]); // [T*B, H]
    const dUrz = weightGradient(hPrev, tf.slice(dX, [0, 0], [T * B, 2 * H]) as tf.Tensor2D); // [H, 2H]
    const dp = tf.slice(dX, [0, 2 * H], [T * B, H]) as tf.Tensor2D; // [T*B, H]
    const dUc = resetAfter
      ? weightGradient(hPrev, tf.mul(r, dp) as tf.Tensor2D) // Σ h_{t-1}ᵀ (r ⊙ dp)
      : weightGradient(tf.mul(r, hPrev) as tf.Tensor2D, dp); // Σ (r ⊙ h_{t-1})ᵀ dp
    return [dx, dh0, dUrz, dUc, dbmod];
  };
  return { value: ys, gradFunc };
});
const recurrences = { before: recurrenceFor(false), after: recurrenceFor(true) };

/**
 * NC-GRU over a projected sequence [T, B, 3H] from h0: outputs [T, B, H] and the final h, or undefined without the
 * kernels. `resetAfterProduct` (default false) selects the candidate x_c + r ⊙ (h·U_c) instead of x_c + (r ⊙ h)·U_c.
 */
export function ncgruRecurrence(
  recurrentRz: tf.Tensor2D, candidateKernel: tf.Tensor2D, modReluBias: tf.Tensor1D, projected: tf.Tensor3D, h0: tf.Tensor2D,
  resetAfterProduct = false,
): { ys: tf.Tensor3D; h: tf.Tensor2D } | undefined {
  if (!tf.getKernel(NCGRU_FORWARD_KERNEL, tf.getBackend())) return undefined;
  const [T, B, H3] = projected.shape;
  const H = H3 / 3;
  if (recurrentRz.shape[0] !== H || recurrentRz.shape[1] !== 2 * H || candidateKernel.shape[0] !== H || candidateKernel.shape[1] !== H)
    throw new Error(`ncgruRecurrence: shapes do not agree: projected [${projected.shape}], U_rz [${recurrentRz.shape}], U_c [${candidateKernel.shape}].`);
  return tf.tidy(() => {
    const recurrence = resetAfterProduct ? recurrences.after : recurrences.before;
    const ys = recurrence(projected, h0, recurrentRz, candidateKernel, modReluBias) as tf.Tensor3D; // [T, B, H]
    const h = tf.reshape(tf.slice(ys, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D;
    return { ys, h };
  });
}
