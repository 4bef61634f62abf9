/**
 * Fused recurrence of the normalised LSTM (./../lstm.ts with normalization "layer" or "assortedTime"):
 *   a_t = N_R(h_{t-1}·U) + N_X(x_t·W) + b     i, f, o = σ(a)   g = tanh(a_g)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g                 h_t = o ⊙ tanh(N_C(c_t))
 * with N = layer norm (window 0) or assorted-time norm over the last k steps (window k − 1 past sums per
 * site, carried in the state). One native call per window each way (core's NORM_LSTM_FORWARD_KERNEL /
 * NORM_LSTM_BACKWARD_KERNEL: the step loop, the three norms and their backward passes in C, one BLAS
 * product per step); dU = Σ h_{t-1}ᵀ·drec_t is one product outside. The windows' final sums are side
 * outputs without gradient (they only feed the next, detached, truncated-BPTT window); the initial
 * sums do get theirs. Returns undefined on backends without the kernels (the cell then steps); held equal
 * to stepping by cells/test/scan.test.ts.
 */
import { tf, NORM_LSTM_BACKWARD_KERNEL, NORM_LSTM_FORWARD_KERNEL } from "@rnnlab/core";
import { weightGradient } from "./dense";
import { NORM_EPSILON } from "../norms";

export interface NormLstmParams {
  recurrentKernel: tf.Tensor2D; // U [H, 4H] (possibly weight-dropped)
  recurrentNormGain: tf.Tensor1D;
  recurrentNormBias: tf.Tensor1D;
  inputNormGain: tf.Tensor1D;
  inputNormBias: tf.Tensor1D;
  bias: tf.Tensor1D;
  cellNormGain: tf.Tensor1D;
  cellNormBias: tf.Tensor1D;
}

/** The assorted-time windows of the three sites [B, k−1] each, and the steps seen [B, 1]; absent for layer norm. */
export interface NormLstmWindows {
  recurrentSum: tf.Tensor2D;
  recurrentSquares: tf.Tensor2D;
  inputSum: tf.Tensor2D;
  inputSquares: tf.Tensor2D;
  cellSum: tf.Tensor2D;
  cellSquares: tf.Tensor2D;
  count: tf.Tensor2D;
}

function makeRecurrence(window: number, sideOutputs: { windows?: tf.Tensor }) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const windowed = window > 0;
    const [proj, h0, c0, u, params] = args as tf.Tensor[];
    const win0 = windowed ? (args[5] as tf.Tensor) : undefined;
    const count0 = windowed ? (args[6] as tf.Tensor) : undefined;
    const save = args[windowed ? 7 : 5] as tf.GradSaveFunc;
    const [T, B, H4] = proj.shape;
    const H = H4 / 4;
    const inputs: Record<string, tf.Tensor> = { proj, u, params, h0, c0, ...(windowed ? { win0: win0!, count0: count0! } : {}) };
    const outs = tf.engine().runKernel(NORM_LSTM_FORWARD_KERNEL, inputs, { window, epsilon: NORM_EPSILON }) as tf.Tensor[];
    const [hs, gates, recs, xhats, cells, tanhCells, stats, winOut] = outs;
    if (winOut) sideOutputs.windows = tf.keep(tf.clone(winOut));
    const value = tf.concat([hs, tf.slice(hs, [T - 1, 0, 0], [1, B, H]), tf.slice(cells, [T - 1, 0, 0], [1, B, H])], 0); // [T+2, B, H]
    save([proj, u, params, h0, c0, gates, recs, xhats, cells, tanhCells, stats, hs, ...(windowed ? [count0!] : [])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sproj, su, sparams, sh0, sc0, sgates, srecs, sxhats, scells, stc, sstats, shs, scount] = saved;
      const grads = tf.engine().runKernel(
        NORM_LSTM_BACKWARD_KERNEL,
        {
          dy, proj: sproj, u: su, params: sparams, c0: sc0, gates: sgates, recs: srecs, xhats: sxhats, cells: scells, tanhCells: stc,
          stats: sstats, ...(windowed ? { count0: scount } : {}),
        },
        { window },
      ) as tf.Tensor[];
      const [dproj, drec, dh0, dc0, dparams, dwin0] = grads;
      const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(shs, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
      const dU = weightGradient(hPrev, tf.reshape(drec, [T * B, H4]) as tf.Tensor2D); // [H, 4H]
      return [dproj, dh0, dc0, dU, dparams, ...(windowed ? [dwin0, tf.zerosLike(scount)] : [])];
    };
    return { value, gradFunc };
  });
}

/**
 * The normalised LSTM over a projected sequence (x·W without bias, [T, B, 4H]); `window` = k − 1 (0: layer
 * norm). Returns the outputs, the final h and c, and the shifted windows; undefined without the kernels.
 */
export function normLstmRecurrence(
  params: NormLstmParams, projected: tf.Tensor3D, h0: tf.Tensor2D, c0: tf.Tensor2D, window: number, windows?: NormLstmWindows,
): { ys: tf.Tensor3D; h: tf.Tensor2D; c: tf.Tensor2D; windows?: NormLstmWindows } | undefined {
  if (!tf.getKernel(NORM_LSTM_FORWARD_KERNEL, tf.getBackend())) return undefined;
  if (window > 0 && !windows) throw new Error("normLstmRecurrence: an assorted-time window needs the carried windows");
  const [T, B, H4] = projected.shape;
  const H = H4 / 4;
  const side: { windows?: tf.Tensor } = {};
  const result = tf.tidy(() => {
    const packedParams = tf.concat([
      params.recurrentNormGain, params.recurrentNormBias, params.inputNormGain, params.inputNormBias, params.bias, params.cellNormGain, params.cellNormBias,
    ]); // [22H]
    const recurrence = makeRecurrence(window, side);
    const packed = (window > 0
      ? recurrence(projected, h0, c0, params.recurrentKernel, packedParams,
          tf.stack([windows!.recurrentSum, windows!.recurrentSquares, windows!.inputSum, windows!.inputSquares, windows!.cellSum, windows!.cellSquares]),
          tf.reshape(windows!.count, [B]))
      : recurrence(projected, h0, c0, params.recurrentKernel, packedParams)) as tf.Tensor3D; // [T+2, B, H]
    const [ys, hLast, cLast] = tf.split(packed, [T, 1, 1], 0);
    return { ys: ys as tf.Tensor3D, h: tf.reshape(hLast, [B, H]) as tf.Tensor2D, c: tf.reshape(cLast, [B, H]) as tf.Tensor2D };
  });
  if (window === 0) return result;
  const w = side.windows!; // [6, B, k−1], kept: ownership passes to the returned state
  const parts = tf.unstack(w) as tf.Tensor2D[];
  w.dispose();
  const [recurrentSum, recurrentSquares, inputSum, inputSquares, cellSum, cellSquares] = parts;
  const count = tf.add(windows!.count, T) as tf.Tensor2D;
  return { ...result, windows: { recurrentSum, recurrentSquares, inputSum, inputSquares, cellSum, cellSquares, count } };
}
