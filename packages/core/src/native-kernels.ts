/**
 * The addon's fused kernels (packages/native-blas/src/blas.c) as wasm-backend TF.js kernels, registered
 * with the native products (blas-kernels.ts) and removed with them. cells reaches them through
 * `tf.engine().runKernel(NAME, inputs, attrs)` after checking `tf.getKernel(NAME, tf.getBackend())`, so
 * every other backend takes cells' TF.js path. No gradients are registered: cells wraps each forward /
 * backward pair in a tf.customGrad.
 *
 *   LSTM_FORWARD_KERNEL   {proj, whh, h0, c0[, mask]}                 -> [hs, gates, cells, tanhCells[, ys]]
 *   LSTM_BACKWARD_KERNEL  {dy [T+2,B,H], gates, cells, tanhCells, c0, whh[, mask]} -> [dz, dh0, dc0]
 *   GRU_FORWARD_KERNEL    {proj, u, brec, h0}                          -> [ys, saved]
 *   GRU_BACKWARD_KERNEL   {dy, saved, h0, ys, u}                       -> [dx, drec, dh0]
 *   NCGRU_FORWARD_KERNEL  {proj, urz, uc, bmod, h0} {resetAfter}       -> [ys, saved]
 *   NCGRU_BACKWARD_KERNEL {dy, saved, h0, ys, urz, uc} {resetAfter}    -> [dx, dh0, dbmod]
 *   SCORNN_FORWARD_KERNEL {proj, u, bmod, h0}                          -> [ys, saved]
 *   SCORNN_BACKWARD_KERNEL {dy, saved, ys, u}                          -> [dx, dh0, dbmod]
 *   LAYER_NORM_KERNEL     {a, gain, bias} {epsilon}                    -> [out, xhat, inv]
 *   LAYER_NORM_BACKWARD_KERNEL {dy, xhat, inv, gain}                   -> [da, dgain, dbias]
 *   ATN_KERNEL            {a, gain, bias, wsum, wsq, count} {epsilon}  -> [out, newSum, newSq, xhat, stats]
 *   ATN_BACKWARD_KERNEL   {dout, dnewSum, dnewSq, a, xhat, stats, gain, wsum, count} -> [da, dgain, dbias, dwsum, dwsq]
 *   NORM_LSTM_FORWARD_KERNEL  {proj, u, params, h0, c0[, win0, count0]} {window: P, epsilon}
 *                             -> [hs, gates, recs, xhats, cells, tanhCells, stats[, winOut]]
 *   NORM_LSTM_BACKWARD_KERNEL {dy [T+2,B,H], proj, u, params, c0[, count0], gates, recs, xhats, cells, tanhCells, stats} {window: P}
 *                             -> [dproj, drec, dh0, dc0, dparams[, dwin0]]
 * Shapes and equations: the addon's comments.
 */
import { tf } from "./tf";
import type { NativeBlas } from "@rnnlab/native-blas";

export const LSTM_FORWARD_KERNEL = "RnnlabLstmRecurrence";
export const LSTM_BACKWARD_KERNEL = "RnnlabLstmRecurrenceGrad";
export const GRU_FORWARD_KERNEL = "RnnlabGruRecurrence";
export const GRU_BACKWARD_KERNEL = "RnnlabGruRecurrenceGrad";
export const NCGRU_FORWARD_KERNEL = "RnnlabNcGruRecurrence";
export const NCGRU_BACKWARD_KERNEL = "RnnlabNcGruRecurrenceGrad";
export const SCORNN_FORWARD_KERNEL = "RnnlabScoRnnRecurrence";
export const SCORNN_BACKWARD_KERNEL = "RnnlabScoRnnRecurrenceGrad";
export const LAYER_NORM_KERNEL = "RnnlabLayerNorm";
export const LAYER_NORM_BACKWARD_KERNEL = "RnnlabLayerNormGrad";
export const ATN_KERNEL = "RnnlabAssortedTimeNorm";
export const ATN_BACKWARD_KERNEL = "RnnlabAssortedTimeNormGrad";
export const NORM_LSTM_FORWARD_KERNEL = "RnnlabNormLstmRecurrence";
export const NORM_LSTM_BACKWARD_KERNEL = "RnnlabNormLstmRecurrenceGrad";

type TensorInfo = tf.TensorInfo;
type Views = (t: TensorInfo) => Float32Array;

/** The parts of tfjs-backend-wasm's backend the native kernels use (it exports no types to import). */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * A kernel from: the output shapes for the given inputs, and the addon call on heap views of the inputs
 * and outputs (outputs are allocated first: an allocation may grow, and detach, the heap).
 */
function kernel(
  name: string,
  shapes: (x: Record<string, TensorInfo>, attrs: Record<string, number>) => number[][],
  call: (x: Record<string, TensorInfo>, out: TensorInfo[], view: Views, attrs: Record<string, number>) => void,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs as Record<string, TensorInfo>;
      const heap = backend as WasmHeapBackend; // registered for "wasm" only, so tfjs hands us its wasm backend
      const out = shapes(x, attrs as Record<string, number>).map((shape) => heap.makeOutput(shape, "float32"));
      call(x, out, (t) => heap.typedArrayFromHeap(t) as Float32Array, attrs as Record<string, number>);
      return out;
    },
  };
}

const NONE = new Float32Array(0);

export function nativeKernels(blas: NativeBlas): tf.KernelConfig[] {
  return [
    kernel(
      LSTM_FORWARD_KERNEL,
      ({ proj, mask }) => {
        const [T, B, H4] = proj.shape;
        const state = [T, B, H4 / 4];
        return [state, [T, B, H4], state, state, ...(mask ? [state] : [])]; // hs, gates, cells, tanhCells[, ys]
      },
      ({ proj, whh, h0, c0, mask }, [hs, gates, cells, tanhCells, ys], v) => {
        const [T, B, H4] = proj.shape;
        blas.lstmForward(v(proj), v(whh), v(h0), v(c0), mask ? v(mask) : NONE, v(hs), ys ? v(ys) : NONE, v(gates), v(cells), v(tanhCells), T, B, H4 / 4);
      },
    ),
    kernel(
      LSTM_BACKWARD_KERNEL,
      ({ gates }) => {
        const [T, B, H4] = gates.shape;
        return [[T, B, H4], [B, H4 / 4], [B, H4 / 4]]; // dz, dh0, dc0
      },
      ({ dy, gates, cells, tanhCells, c0, whh, mask }, [dz, dh0, dc0], v) => {
        const [T, B, H4] = gates.shape;
        blas.lstmBackward(v(dy), v(gates), v(cells), v(tanhCells), v(c0), v(whh), mask ? v(mask) : NONE, v(dz), v(dh0), v(dc0), T, B, H4 / 4);
      },
    ),
    kernel(
      GRU_FORWARD_KERNEL,
      ({ proj }) => {
        const [T, B, H3] = proj.shape;
        return [[T, B, H3 / 3], [T, B, (4 * H3) / 3]]; // ys, saved
      },
      ({ proj, u, brec, h0 }, [ys, saved], v) => {
        const [T, B, H3] = proj.shape;
        blas.gruForward(v(proj), v(u), v(brec), v(h0), v(ys), v(saved), T, B, H3 / 3);
      },
    ),
    kernel(
      GRU_BACKWARD_KERNEL,
      ({ ys }) => {
        const [T, B, H] = ys.shape;
        return [[T, B, 3 * H], [T, B, 3 * H], [B, H]]; // dx, drec, dh0
      },
      ({ dy, saved, h0, ys, u }, [dx, drec, dh0], v) => {
        const [T, B, H] = ys.shape;
        blas.gruBackward(v(dy), v(saved), v(h0), v(ys), v(u), v(dx), v(drec), v(dh0), T, B, H);
      },
    ),
    kernel(
      NCGRU_FORWARD_KERNEL,
      ({ proj }, attrs) => {
        const [T, B, H3] = proj.shape;
        return [[T, B, H3 / 3], [T, B, ((attrs.resetAfter ? 5 : 4) * H3) / 3]]; // ys, saved (r, z, p, c[, h·U_c])
      },
      ({ proj, urz, uc, bmod, h0 }, [ys, saved], v, attrs) => {
        const [T, B, H3] = proj.shape;
        blas.ncgruForward(v(proj), v(urz), v(uc), v(bmod), v(h0), v(ys), v(saved), T, B, H3 / 3, Boolean(attrs.resetAfter));
      },
    ),
    kernel(
      NCGRU_BACKWARD_KERNEL,
      ({ ys }) => {
        const [T, B, H] = ys.shape;
        return [[T, B, 3 * H], [B, H], [H]]; // dx, dh0, dbmod
      },
      ({ dy, saved, h0, ys, urz, uc }, [dx, dh0, dbmod], v, attrs) => {
        const [T, B, H] = ys.shape;
        blas.ncgruBackward(v(dy), v(saved), v(h0), v(ys), v(urz), v(uc), v(dx), v(dh0), v(dbmod), T, B, H, Boolean(attrs.resetAfter));
      },
    ),
    kernel(
      SCORNN_FORWARD_KERNEL,
      ({ proj }) => [proj.shape, proj.shape], // ys, saved (p)
      ({ proj, u, bmod, h0 }, [ys, saved], v) => {
        const [T, B, H] = proj.shape;
        blas.scornnForward(v(proj), v(u), v(bmod), v(h0), v(ys), v(saved), T, B, H);
      },
    ),
    kernel(
      SCORNN_BACKWARD_KERNEL,
      ({ ys }) => [ys.shape, [ys.shape[1], ys.shape[2]], [ys.shape[2]]], // dx, dh0, dbmod
      ({ dy, saved, ys, u }, [dx, dh0, dbmod], v) => {
        const [T, B, H] = ys.shape;
        blas.scornnBackward(v(dy), v(saved), v(ys), v(u), v(dx), v(dh0), v(dbmod), T, B, H);
      },
    ),
    kernel(
      LAYER_NORM_KERNEL,
      ({ a }) => [a.shape, a.shape, [a.shape[0], 1]], // out, xhat, inv
      ({ a, gain, bias }, [out, xhat, inv], v, attrs) =>
        blas.layerNormForward(v(a), v(gain), v(bias), v(out), v(xhat), v(inv), a.shape[0], a.shape[1], attrs.epsilon),
    ),
    kernel(
      LAYER_NORM_BACKWARD_KERNEL,
      ({ xhat }) => [xhat.shape, [xhat.shape[1]], [xhat.shape[1]]], // da, dgain, dbias
      ({ dy, xhat, inv, gain }, [da, dgain, dbias], v) =>
        blas.layerNormBackward(v(dy), v(xhat), v(inv), v(gain), v(da), v(dgain), v(dbias), xhat.shape[0], xhat.shape[1]),
    ),
    kernel(
      ATN_KERNEL,
      ({ a, wsum }) => [a.shape, wsum.shape, wsum.shape, a.shape, [a.shape[0], 3]], // out, newSum, newSq, xhat, stats
      ({ a, gain, bias, wsum, wsq, count }, [out, newSum, newSq, xhat, stats], v, attrs) =>
        blas.atnForward(v(a), v(gain), v(bias), v(wsum), v(wsq), v(count), v(out), v(newSum), v(newSq), v(xhat), v(stats),
          a.shape[0], a.shape[1], wsum.shape[1], attrs.epsilon),
    ),
    kernel(
      ATN_BACKWARD_KERNEL,
      ({ a, wsum }) => [a.shape, [a.shape[1]], [a.shape[1]], wsum.shape, wsum.shape], // da, dgain, dbias, dwsum, dwsq
      ({ dout, dnewSum, dnewSq, a, xhat, stats, gain, wsum, count }, [da, dgain, dbias, dwsum, dwsq], v) =>
        blas.atnBackward(v(dout), v(dnewSum), v(dnewSq), v(a), v(xhat), v(stats), v(gain), v(wsum), v(count),
          v(da), v(dgain), v(dbias), v(dwsum), v(dwsq), a.shape[0], a.shape[1], wsum.shape[1]),
    ),
    kernel(
      NORM_LSTM_FORWARD_KERNEL,
      ({ proj, win0 }) => {
        const [T, B, H4] = proj.shape;
        const H = H4 / 4;
        return [[T, B, H], [T, B, H4], [T, B, H4], [T, B, 9 * H], [T, B, H], [T, B, H], [T, B, 9], ...(win0 ? [win0.shape] : [])];
      },
      ({ proj, u, params, h0, c0, win0, count0 }, [hs, gates, recs, xhats, cells, tanhCells, stats, winOut], v, attrs) => {
        const [T, B, H4] = proj.shape;
        blas.normLstmForward(
          v(proj), v(u), v(params), v(h0), v(c0), win0 ? v(win0) : NONE, count0 ? v(count0) : NONE, v(hs), v(gates), v(recs), v(xhats),
          v(cells), v(tanhCells), v(stats), winOut ? v(winOut) : NONE, T, B, H4 / 4, attrs.window, attrs.epsilon,
        );
      },
    ),
    kernel(
      NORM_LSTM_BACKWARD_KERNEL,
      ({ proj, params, count0 }, attrs) => {
        const [T, B, H4] = proj.shape;
        const H = H4 / 4;
        return [[T, B, H4], [T, B, H4], [B, H], [B, H], params.shape, ...(count0 ? [[6, B, attrs.window]] : [])];
      },
      ({ dy, proj, u, params, c0, count0, gates, recs, xhats, cells, tanhCells, stats }, [dproj, drec, dh0, dc0, dparams, dwin0], v, attrs) => {
        const [T, B, H4] = proj.shape;
        blas.normLstmBackward(
          v(dy), v(proj), v(u), v(params), v(c0), count0 ? v(count0) : NONE, v(gates), v(recs), v(xhats), v(cells), v(tanhCells), v(stats),
          v(dproj), v(drec), v(dh0), v(dc0), v(dparams), dwin0 ? v(dwin0) : NONE, T, B, H4 / 4, attrs.window,
        );
      },
    ),
  ];
}

export const NATIVE_KERNEL_NAMES: readonly string[] = [
  LSTM_FORWARD_KERNEL, LSTM_BACKWARD_KERNEL, GRU_FORWARD_KERNEL, GRU_BACKWARD_KERNEL, NCGRU_FORWARD_KERNEL, NCGRU_BACKWARD_KERNEL,
  SCORNN_FORWARD_KERNEL, SCORNN_BACKWARD_KERNEL, LAYER_NORM_KERNEL, LAYER_NORM_BACKWARD_KERNEL, ATN_KERNEL, ATN_BACKWARD_KERNEL, NORM_LSTM_FORWARD_KERNEL, NORM_LSTM_BACKWARD_KERNEL,
];
