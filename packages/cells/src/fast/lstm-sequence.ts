/**
 * Fast LSTM layer over a whole sequence: the recurrence is one tf.customGrad with hand-written
 * backpropagation through time; the input projection is one matMul for all steps.
 *
 * LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000; PyTorch's gate order i, f, g, o):
 *   z_t = x_t·W_ih + h_{t-1}·W_hh + b                      // [batch, 4*hidden]
 *   i = σ(z_i)   f = σ(z_f)   g = tanh(z_g)   o = σ(z_o)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g
 *   h_t = o ⊙ tanh(c_t)
 * Backward, with dh_t = dy_t + (dz_{t+1}·W_hhᵀ) and dc_t carried from step t+1:
 *   do = dh ⊙ tanh(c)        dĉ = dc + dh ⊙ o ⊙ (1 − tanh²(c))
 *   di = dĉ ⊙ g   df = dĉ ⊙ c_{t-1}   dg = dĉ ⊙ i   dc_{t-1} = dĉ ⊙ f
 *   dz = [di, df, dg, do] ⊙ σ'(·)  (tanh' for the g block)
 *   dW_hh = Σ_t h_{t-1}ᵀ·dz_t   dW_ih = Σ_t x_tᵀ·dz_t   db = Σ_t Σ_batch dz_t   dx_t = dz_t·W_ihᵀ
 *
 * Why it is shaped this way (see docs/performance.md §1-3, measured on tfjs-backend-wasm 4.22):
 * - The input projection of all T steps is one [T·B, I]x[I, 4H] matMul; one fused gate matMul per step.
 * - tanh is computed as 2σ(2x) − 1: wasm's tanh is scalar (~20x slower than its XNNPACK sigmoid). The factor 2 of
 *   the g gate is folded into W_hh's and the projection's g columns once per sequence (`gateScale`), so one
 *   sigmoid over [B, 4H] gives all four gates, and g = 2·σ − 1.
 * - W_hhᵀ is transposed once per sequence (XNNPACK packs a right-hand matrix once per tensor).
 * - dW_hh is one matMul over all T·B rows instead of T small ones plus T accumulating adds; the input
 *   projection (and so dW_ih, dx) is outside the customGrad, one big matMul, so other projections
 *   (structured dropout) can feed `lstmRecurrence`.
 * - tf.split (one kernel) rather than four slices.
 * - Weight gradients run as (dzᵀ·x)ᵀ (./dense.ts: the small activation is the packed operand).
 * Backend-agnostic: only public tf ops; checked against autodiff of the plain equations, against
 * scan(createLstm) and against finite differences in test/fast-lstm.test.ts.
 */
import { tf, LSTM_BACKWARD_KERNEL, LSTM_FORWARD_KERNEL } from "@rnnlab/core";
import type { LstmParams, LstmState } from "../lstm";
import { denseProjection, weightGradient } from "./dense";

export interface LstmSequenceResult {
  ys: tf.Tensor3D; // [time, batch, hidden]
  state: LstmState;
}

/**
 * Temperatures of the input and forget gates on the fast path: i = σ(z_i·inputScale), f = σ(z_f·forgetScale).
 * 1 / 1 is the plain LSTM; 1/τ / 1/τ is G2-LSTM's sharpened gate, and its Gumbel gate in training when
 * the caller adds the gate noise to the projected input (cells' `gumbelGateNoise`). The output gate and
 * the candidate never change.
 */
export interface FastGateScales {
  inputScale: number;
  forgetScale: number;
}

const PLAIN: FastGateScales = { inputScale: 1, forgetScale: 1 };

/**
 * Column scale of the fused pre-activation: the i and f blocks by their temperatures, the g block by 2
 * (so tanh(z) = 2σ(2z) − 1), o by 1.
 */
function gateScale(hidden: number, scales: FastGateScales): tf.Tensor1D {
  return tf.concat([
    tf.fill([hidden], scales.inputScale), tf.fill([hidden], scales.forgetScale), tf.fill([hidden], 2), tf.ones([hidden]),
  ]) as tf.Tensor1D; // [4*hidden]
}

function checkShapes(params: LstmParams, xs: tf.Tensor, initial: LstmState): void {
  const [inputSize, fourH] = params.inputKernel.shape;
  const hidden = fourH / 4;
  const problems: string[] = [];
  for (const k of ["inputNormGain", "inputNormBias", "recurrentNormGain", "recurrentNormBias", "cellNormGain", "cellNormBias"] as const)
    if (params[k]) problems.push(`params.${k} is set, but the fast path has no normalisation (use scan with createLstm)`);
  if (xs.rank !== 3 || xs.shape[0] < 1) problems.push(`xs must be [time >= 1, batch, features], got [${xs.shape}]`);
  if (!Number.isInteger(hidden)) problems.push(`inputKernel's second dimension ${fourH} is not 4*hidden`);
  if (xs.rank === 3 && xs.shape[2] !== inputSize)
    problems.push(`xs has ${xs.shape[2]} features but inputKernel expects ${inputSize}`);
  if (params.recurrentKernel.shape[0] !== hidden || params.recurrentKernel.shape[1] !== fourH)
    problems.push(`recurrentKernel must be [${hidden}, ${fourH}], got [${params.recurrentKernel.shape}]`);
  if (params.bias.rank !== 1 || params.bias.shape[0] !== fourH) problems.push(`bias must be [${fourH}], got [${params.bias.shape}]`);
  for (const k of ["h", "c"] as const) {
    const s = initial[k].shape;
    if (s.length !== 2 || s[0] !== xs.shape[1] || s[1] !== hidden)
      problems.push(`state.${k} must be [${xs.shape[1]}, ${hidden}], got [${s}]`);
  }
  if (problems.length) throw new Error(`lstmSequence: ${problems.join("; ")}.`);
}

/**
 * The recurrence as one customGrad, given the input projection of every step (x_t·W_ih + b, unscaled).
 * Output [T+1, B, H] = the T hidden outputs followed by the final cell state (tf.customGrad supports a
 * single output tensor). The final h is ys[T-1].
 */
const recurrences = new Map<string, ReturnType<typeof makeRecurrence>>();

function recurrencePacked(scales: FastGateScales) {
  const key = `${scales.inputScale}/${scales.forgetScale}`;
  let r = recurrences.get(key);
  if (!r) recurrences.set(key, (r = makeRecurrence(scales)));
  return r;
}

const makeRecurrence = (scales: FastGateScales) => tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [projectedIn, h0, c0, whhIn] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const save = args[4] as tf.GradSaveFunc;
  const [T, B, fourH] = projectedIn.shape;
  const H = fourH / 4;
  const scale = gateScale(H, scales);
  const whh = tf.mul(whhIn, scale) as tf.Tensor2D; // [H, 4H], g columns doubled
  const projected = tf.mul(tf.reshape(projectedIn, [T * B, fourH]), scale); // [T*B, 4H]
  const zx = tf.split(projected, T, 0) as tf.Tensor2D[]; // T x [B, 4H]

  let h = h0;
  let c = c0;
  const hs: tf.Tensor2D[] = [];
  const gates: tf.Tensor2D[] = []; // σ of the scaled pre-activation, [B, 4H] per step
  const cells: tf.Tensor2D[] = []; // c_t
  const tanhCells: tf.Tensor2D[] = []; // tanh(c_t)
  for (let t = 0; t < T; t++) {
    const a = tf.sigmoid(tf.add(zx[t], tf.matMul(h, whh))) as tf.Tensor2D; // [B, 4H]
    const [i, f, sg, o] = tf.split(a, 4, 1) as tf.Tensor2D[]; // 4 x [B, H]
    const g = tf.sub(tf.mul(sg, 2), 1); // tanh(z_g)
    c = tf.add(tf.mul(f, c), tf.mul(i, g)) as tf.Tensor2D;
    const tc = tf.sub(tf.mul(tf.sigmoid(tf.mul(c, 2)), 2), 1) as tf.Tensor2D; // tanh(c)
    h = tf.mul(o, tc) as tf.Tensor2D;
    hs.push(h);
    gates.push(a);
    cells.push(c);
    tanhCells.push(tc);
  }
  const ys = tf.stack(hs); // [T, B, H]
  const value = tf.concat([ys, tf.expandDims(c, 0)], 0); // [T+1, B, H]
  save([h0, c0, whh, ys, ...gates, ...cells, ...tanhCells]);

  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [sh0, sc0, swhh, sys] = saved as tf.Tensor2D[];
    const sa = saved.slice(4, 4 + T) as tf.Tensor2D[];
    const sc = saved.slice(4 + T, 4 + 2 * T) as tf.Tensor2D[];
    const stc = saved.slice(4 + 2 * T, 4 + 3 * T) as tf.Tensor2D[];
    const dyParts = tf.split(tf.reshape(dy, [(T + 1) * B, H]), T + 1, 0) as tf.Tensor2D[]; // T+1 x [B, H]
    const whhT = tf.transpose(swhh); // [4H, H], once per sequence
    let dh: tf.Tensor2D | undefined;
    let dc = dyParts[T];
    const dzs: tf.Tensor2D[] = new Array(T);
    for (let t = T - 1; t >= 0; t--) {
      const a = sa[t];
      const [i, f, sg, o] = tf.split(a, 4, 1) as tf.Tensor2D[];
      const g = tf.sub(tf.mul(sg, 2), 1);
      const tc = stc[t];
      const cPrev = t > 0 ? sc[t - 1] : sc0;
      const dht = dh ? tf.add(dyParts[t], dh) : dyParts[t]; // [B, H]
      const dOut = tf.mul(dht, tc);
      const dcTotal = tf.add(dc, tf.mul(tf.mul(dht, o), tf.sub(1, tf.square(tc)))); // [B, H]
      const di = tf.mul(dcTotal, g);
      const df = tf.mul(dcTotal, cPrev);
      const dsg = tf.mul(tf.mul(dcTotal, i), 2); // d/dσ of g = 2σ − 1
      dc = tf.mul(dcTotal, f) as tf.Tensor2D;
      const dA = tf.concat([di, df, dsg, dOut], 1); // [B, 4H]
      const dz = tf.mul(dA, tf.mul(a, tf.sub(1, a))) as tf.Tensor2D; // w.r.t. the scaled pre-activation
      dzs[t] = dz;
      dh = tf.matMul(dz, whhT) as tf.Tensor2D; // [B, H]
    }
    const dZ = tf.concat(dzs, 0) as tf.Tensor2D; // [T*B, 4H], w.r.t. the scaled pre-activations
    const scale2 = gateScale(H, scales);
    const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(sys, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
    const dWhh = tf.mul(weightGradient(hPrev, dZ), scale2); // [H, 4H]
    const dProjected = tf.reshape(tf.mul(dZ, scale2), [T, B, fourH]); // [T, B, 4H]
    return [dProjected, dh as tf.Tensor2D, dc, dWhh];
  };
  return { value, gradFunc };
});

/**
 * The same recurrence through the native kernels (core's LSTM_FORWARD_KERNEL / LSTM_BACKWARD_KERNEL:
 * one call per window, the step loop in C with one BLAS product per step), when the backend has them.
 * Identical equations and saved values; the weight gradient and the column scale stay TF.js ops.
 * Output [T+2, B, H]: the T outputs, the final h, the final c. With `mask` ([T, B], 0 past a sequence's
 * length) a row's state freezes and its outputs are 0, as scan's `lengths` do.
 */
const nativeRecurrences = new Map<string, ReturnType<typeof makeNativeRecurrence>>();

function nativeRecurrencePacked(scales: FastGateScales, masked: boolean) {
  const key = `${scales.inputScale}/${scales.forgetScale}/${masked}`;
  let r = nativeRecurrences.get(key);
  if (!r) nativeRecurrences.set(key, (r = makeNativeRecurrence(scales, masked)));
  return r;
}

const makeNativeRecurrence = (scales: FastGateScales, masked: boolean) => tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [projectedIn, h0, c0, whhIn] = args as [tf.Tensor3D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const mask = masked ? (args[4] as tf.Tensor2D) : undefined;
  const save = args[masked ? 5 : 4] as tf.GradSaveFunc;
  const [T, B, fourH] = projectedIn.shape;
  const H = fourH / 4;
  const scale = gateScale(H, scales);
  const whh = tf.mul(whhIn, scale) as tf.Tensor2D; // [H, 4H], scaled columns
  const proj = tf.mul(projectedIn, scale); // [T, B, 4H], scaled
  const outs = tf.engine().runKernel(LSTM_FORWARD_KERNEL, mask ? { proj, whh, h0, c0, mask } : { proj, whh, h0, c0 }, {}) as tf.Tensor[];
  const [hs, gates, cells, tanhCells] = outs;
  const ys = mask ? outs[4] : hs;
  const value = tf.concat([ys, tf.slice(hs, [T - 1, 0, 0], [1, B, H]), tf.slice(cells, [T - 1, 0, 0], [1, B, H])], 0); // [T+2, B, H]
  save([h0, c0, whh, hs, gates, cells, tanhCells, ...(mask ? [mask] : [])]);
  const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
    const [sh0, sc0, swhh, shs, sgates, scells, stc, smask] = saved;
    const common = { dy, gates: sgates, cells: scells, tanhCells: stc, c0: sc0, whh: swhh };
    const [dZ3, dh0, dc0] = tf.engine().runKernel(LSTM_BACKWARD_KERNEL, smask ? { ...common, mask: smask } : common, {}) as tf.Tensor[];
    const scale2 = gateScale(H, scales); // the forward's scale is gone (tensors made there are disposed)
    const dZ = tf.reshape(dZ3, [T * B, fourH]) as tf.Tensor2D; // w.r.t. the scaled pre-activations
    const hPrev = (T > 1 ? tf.concat([sh0, tf.slice(tf.reshape(shs, [T * B, H]), [0, 0], [(T - 1) * B, H])], 0) : sh0) as tf.Tensor2D; // [T*B, H]
    const dWhh = tf.mul(weightGradient(hPrev, dZ), scale2); // [H, 4H]
    const dProjected = tf.mul(dZ3, scale2); // [T, B, 4H]
    return [dProjected, dh0, dc0, dWhh, ...(smask ? [tf.zerosLike(smask)] : [])];
  };
  return { value, gradFunc };
});

/** xs [T, B, I] · W [I, N] + bias as one [T·B, I] matMul: the input projection of every step at once. */
export function sequenceProjection(xs: tf.Tensor3D, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor3D {
  const [T, B, I] = xs.shape;
  return tf.tidy(() => tf.reshape(denseProjection(tf.reshape(xs, [T * B, I]), kernel, bias), [T, B, kernel.shape[1]]) as tf.Tensor3D); // [T, B, N]
}

/**
 * The LSTM recurrence over a whole sequence, given every step's input projection x_t·W_ih + b
 * (`projected` [T, B, 4H]). Use it when the input projection is computed another way (structured
 * dropout); `lstmSequence` is projection + this.
 */
export function lstmRecurrence(
  recurrentKernel: tf.Tensor2D, projected: tf.Tensor3D, initial: LstmState, gates: FastGateScales = PLAIN, mask?: Float32Array,
): LstmSequenceResult {
  const [T, B, fourH] = projected.shape;
  const H = fourH / 4;
  if (projected.rank !== 3 || T < 1) throw new Error(`lstmRecurrence: projected must be [time >= 1, batch, 4*hidden], got [${projected.shape}].`);
  if (recurrentKernel.shape[0] !== H || recurrentKernel.shape[1] !== fourH)
    throw new Error(`lstmRecurrence: recurrentKernel must be [${H}, ${fourH}], got [${recurrentKernel.shape}].`);
  if (!(gates.inputScale > 0 && gates.forgetScale > 0)) throw new Error(`lstmRecurrence: gate scales must be positive, got ${JSON.stringify(gates)}.`);
  const native = lstmRecurrenceIsNative();
  if (mask && !native) throw new Error("lstmRecurrence: a mask needs the native recurrence kernels (check lstmRecurrenceIsNative() first).");
  if (mask && mask.length !== T * B) throw new Error(`lstmRecurrence: mask must have T*B = ${T * B} entries, got ${mask.length}.`);
  return tf.tidy(() => {
    if (native) {
      const packed = mask
        ? nativeRecurrencePacked(gates, true)(projected, initial.h, initial.c, recurrentKernel, tf.tensor2d(mask, [T, B]))
        : nativeRecurrencePacked(gates, false)(projected, initial.h, initial.c, recurrentKernel); // [T+2, B, H]
      const [ys, hLast, cLast] = tf.split(packed, [T, 1, 1], 0);
      return { ys: ys as tf.Tensor3D, state: { h: tf.reshape(hLast, [B, H]) as tf.Tensor2D, c: tf.reshape(cLast, [B, H]) as tf.Tensor2D } };
    }
    const packed = recurrencePacked(gates)(projected, initial.h, initial.c, recurrentKernel); // [T+1, B, H]
    const [ys, cLast] = tf.split(packed, [T, 1], 0);
    const ys3 = ys as tf.Tensor3D; // [T, B, H]
    const h = tf.reshape(tf.slice(ys3, [T - 1, 0, 0], [1, B, H]), [B, H]) as tf.Tensor2D;
    const c = tf.reshape(cLast, [B, H]) as tf.Tensor2D;
    return { ys: ys3, state: { h, c } };
  });
}

/** Whether the backend runs the recurrence natively (then masks, i.e. per-sequence lengths, are supported). */
export function lstmRecurrenceIsNative(): boolean {
  return tf.getKernel(LSTM_FORWARD_KERNEL, tf.getBackend()) !== undefined;
}

/**
 * Run one LSTM layer over a whole time-major sequence. Differentiable w.r.t. the parameters, xs and the
 * initial state (so truncated BPTT with carried state works: detach the returned state between batches
 * by keeping it outside the gradient scope).
 */
export function lstmSequence(params: LstmParams, xs: tf.Tensor3D, initial: LstmState): LstmSequenceResult {
  checkShapes(params, xs, initial);
  const projected = sequenceProjection(xs, params.inputKernel, params.bias); // [T, B, 4H]
  const result = lstmRecurrence(params.recurrentKernel, projected, initial);
  projected.dispose(); // the tape keeps what backprop needs
  return result;
}

export interface LstmStackResult {
  ys: tf.Tensor3D; // [time, batch, hidden of the last layer]
  states: LstmState[];
}

/**
 * Several LSTM layers over a sequence (each layer's ys feed the next), the fast counterpart of
 * stackScan over createLstm cells. Between-layer dropout is not applied here: use lstmSequence /
 * lstmRecurrence per layer with the projection you want (e.g. structuredDropoutSequenceProjection).
 */
export function lstmStack(layers: LstmParams[], xs: tf.Tensor3D, initial: LstmState[]): LstmStackResult {
  if (layers.length < 1 || initial.length !== layers.length)
    throw new Error(`lstmStack: need at least one layer and one initial state per layer; got ${layers.length} layers and ${initial.length} states.`);
  const states: LstmState[] = [];
  let x = xs;
  for (let l = 0; l < layers.length; l++) {
    const r = lstmSequence(layers[l], x, initial[l]);
    if (x !== xs) x.dispose(); // the tape keeps what backprop needs
    x = r.ys;
    states.push(r.state);
  }
  return { ys: x, states };
}
