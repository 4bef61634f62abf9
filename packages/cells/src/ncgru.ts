/**
 * NC-GRU (Mucllari, Zadorozhnyy, Pospisil, Nguyen & Ye 2022, docs/papers/nc-gru.md): a GRU with a modReLU
 * candidate whose candidate recurrent matrix U_c is Cayley-orthogonal. Row-vector convention:
 *   r = σ(x_t W_r + h U_r + b_r)
 *   z = σ(x_t W_z + h U_z + b_z)
 *   ĉ = x_t W_c + (r ⊙ h) U_c                 (the TF code's form W_c x + U_c (r ⊙ h))
 *   c = sign(ĉ) ⊙ ReLU(|ĉ| + b_c)             (modReLU; b_c: modReluBias ~ U(−0.1, 0.1), the TF init)
 *   h_t = z ⊙ h + (1 − z) ⊙ c
 * Params: inputKernel [I,3H] (column blocks r, z, c), recurrentKernel [H,2H] (r, z), bias [2H] (r, z),
 * candidateRecurrentKernel [H,H] = U_c, modReluBias [H].
 * NC-GRU(U_c, U_r) (`orthogonalReset: true`): U_r is a second Cayley-orthogonal matrix with its own A
 * (and its own D with the same ρ); then recurrentKernel is [H,H] = U_z only and resetRecurrentKernel
 * [H,H] = U_r:  r = σ(x_t W_r + h U_r + b_r),  z = σ(x_t W_z + h U_z + b_z).
 * Candidate form (`candidate`): "resetBeforeProduct" (default, the TF code) ĉ = x_t W_c + (r ⊙ h) U_c;
 * "resetAfterProduct" (the authors' PyTorch char-PTB code, model.py NCGRUCell) ĉ = x_t W_c + r ⊙ (h U_c).
 * modReLU bias init (`candidateBiasInit`): "uniform" (default, U(−0.1, 0.1), the TF code) or "zero" (the
 * PyTorch char-PTB code); the uniform draw is made either way, so the other parameters' draws do not change.
 * The fused native recurrence implements both forms (the kernels' resetAfter flag).
 * Each orthogonal matrix is maintained by its own OrthogonalRecurrence (./orthogonal.ts): make it a
 * tf.Variable, exclude it from the main optimiser, and turn its autodiff gradient into a gradient on
 * its A with gradientA(). (The authors' TF code pairs U_r with U_c's inverse and gradient in this mode;
 * docs/papers/nc-gru.md calls that a bug, and here each matrix has its own A, inverse and gradient.)
 */
import { tf, type Rng } from "@rnnlab/core";
import { ncgruRecurrence } from "./fast/ncgru-sequence";
import type { Cell, CellContext, State } from "./types";
import { resolveDropoutConfig, prepareInputDropout, projectInput, type DropoutConfig, type InputDropoutPrepared } from "./dropout";
import { uniformTensor } from "./init";
import { OrthogonalRecurrence } from "./orthogonal";
import { checkInteger, checkOptions } from "./validate";
import type { GateTracer } from "./tracing";

export interface NcGruOptions {
  inputSize: number;
  hiddenSize: number;
  /** ρ: number of −1 entries of D; default floor(0.4·hiddenSize) (our CPU plan in docs/papers/nc-gru.md: ≈ 40 %). */
  negativeOnes?: number;
  /** NC-GRU(U_c, U_r): also make the reset gate's recurrent matrix orthogonal (default false). */
  orthogonalReset?: boolean;
  /** Where the reset gate acts in the candidate (default "resetBeforeProduct", the TF code); see the header. */
  candidate?: NcGruCandidateForm;
  /** modReLU bias b_c at init: "uniform" U(−0.1, 0.1) (default, the TF code) or "zero" (the PyTorch char-PTB code). */
  candidateBiasInit?: NcGruCandidateBiasInit;
  inputDropout?: DropoutConfig;
}

/** ĉ = x W_c + (r ⊙ h) U_c ("resetBeforeProduct", TF code) or x W_c + r ⊙ (h U_c) ("resetAfterProduct", PyTorch char-PTB code). */
export type NcGruCandidateForm = "resetBeforeProduct" | "resetAfterProduct";
export type NcGruCandidateBiasInit = "uniform" | "zero";
export const NCGRU_CANDIDATE_FORMS: readonly NcGruCandidateForm[] = ["resetBeforeProduct", "resetAfterProduct"];
export const NCGRU_CANDIDATE_BIAS_INITS: readonly NcGruCandidateBiasInit[] = ["uniform", "zero"];

export type NcGruParams = {
  inputKernel: tf.Tensor2D;
  recurrentKernel: tf.Tensor2D;
  bias: tf.Tensor1D;
  candidateRecurrentKernel: tf.Tensor2D;
  modReluBias: tf.Tensor1D;
  /** U_r, present only with orthogonalReset (recurrentKernel is then U_z alone). */
  resetRecurrentKernel?: tf.Tensor2D;
};

export type NcGruState = State & { h: tf.Tensor2D };

export interface NcGruPrepared {
  input: InputDropoutPrepared;
  tracer?: GateTracer;
  layerName: string;
}

export interface NcGruCell extends Cell<NcGruParams, NcGruState, NcGruPrepared> {
  readonly options: Readonly<{
    inputSize: number; hiddenSize: number; negativeOnes: number; orthogonalReset: boolean;
    candidate: NcGruCandidateForm; candidateBiasInit: NcGruCandidateBiasInit; inputDropout: DropoutConfig;
  }>;
  /** Parameters plus the OrthogonalRecurrences that produced candidateRecurrentKernel (and resetRecurrentKernel). */
  initWithOrthogonal(rng: Rng): { params: NcGruParams; orthogonal: OrthogonalRecurrence; resetOrthogonal?: OrthogonalRecurrence };
}

export function createNcGru(options: NcGruOptions): NcGruCell {
  const where = "createNcGru";
  checkOptions(where, options, ["inputSize", "hiddenSize", "negativeOnes", "orthogonalReset", "candidate", "candidateBiasInit", "inputDropout"]);
  checkInteger(where, "inputSize", options.inputSize, 1);
  checkInteger(where, "hiddenSize", options.hiddenSize, 1);
  const H = options.hiddenSize;
  const I = options.inputSize;
  const negativeOnes = options.negativeOnes ?? Math.floor(0.4 * H);
  checkInteger(where, "negativeOnes", negativeOnes, 0);
  if (negativeOnes > H) throw new Error(`${where}: option "negativeOnes" must be in [0, hiddenSize=${H}], got ${negativeOnes}.`);
  const orthogonalReset = options.orthogonalReset ?? false;
  if (typeof orthogonalReset !== "boolean") throw new Error(`${where}: option "orthogonalReset" must be true or false, got ${String(orthogonalReset)}.`);
  const candidate = options.candidate ?? "resetBeforeProduct";
  if (!NCGRU_CANDIDATE_FORMS.includes(candidate))
    throw new Error(`${where}: option "candidate" must be one of ${NCGRU_CANDIDATE_FORMS.join(", ")}, got ${String(candidate)}.`);
  const candidateBiasInit = options.candidateBiasInit ?? "uniform";
  if (!NCGRU_CANDIDATE_BIAS_INITS.includes(candidateBiasInit))
    throw new Error(`${where}: option "candidateBiasInit" must be one of ${NCGRU_CANDIDATE_BIAS_INITS.join(", ")}, got ${String(candidateBiasInit)}.`);
  const resolved = Object.freeze({
    inputSize: I, hiddenSize: H, negativeOnes, orthogonalReset, candidate, candidateBiasInit,
    inputDropout: resolveDropoutConfig(where, "inputDropout", options.inputDropout),
  });
  const resetAfterProduct = candidate === "resetAfterProduct";

  const initWithOrthogonal = (rng: Rng) => {
    const limit = 1 / Math.sqrt(H);
    const orthogonal = OrthogonalRecurrence.create(H, negativeOnes, rng.fork("orthogonal"));
    const inputKernel = uniformTensor([I, 3 * H], limit, rng) as tf.Tensor2D;
    const recurrentKernel = uniformTensor([H, orthogonalReset ? H : 2 * H], limit, rng) as tf.Tensor2D; // [H, 2H] (r, z) or [H, H] (z)
    const uniformBias = uniformTensor([H], 0.1, rng) as tf.Tensor1D; // drawn for either init, so later draws are the same
    let modReluBias = uniformBias;
    if (candidateBiasInit === "zero") {
      uniformBias.dispose();
      modReluBias = tf.zeros([H]);
    }
    const params: NcGruParams = { inputKernel, recurrentKernel, bias: tf.zeros([2 * H]), candidateRecurrentKernel: orthogonal.toTensor(), modReluBias };
    if (!orthogonalReset) return { params, orthogonal };
    // Forked after every draw above, so the U_c-only variant's draws are unchanged.
    const resetOrthogonal = OrthogonalRecurrence.create(H, negativeOnes, rng.fork("resetOrthogonal"));
    params.resetRecurrentKernel = resetOrthogonal.toTensor();
    return { params, orthogonal, resetOrthogonal };
  };

  return {
    kind: "nc-gru",
    inputSize: I,
    hiddenSize: H,
    outputSize: H,
    options: resolved,
    initWithOrthogonal,
    init: (rng: Rng) => initWithOrthogonal(rng).params,

    initialState(batchSize: number): NcGruState {
      checkInteger("NC-GRU initialState", "batchSize", batchSize, 1);
      return { h: tf.zeros([batchSize, H]) };
    },

    prepare(_params: NcGruParams, context: CellContext): NcGruPrepared {
      return {
        input: prepareInputDropout(resolved.inputDropout, context.training, context.rng, context.steps, context.batchSize, I, "NC-GRU inputDropout"),
        tracer: context.tracer,
        layerName: context.layerName,
      };
    },

    project(params: NcGruParams, xs: tf.Tensor3D, prepared: NcGruPrepared): tf.Tensor3D {
      // The candidate block has no additive bias (modReLU's b_c plays that role).
      const bias = tf.concat([params.bias, tf.zeros([H])]) as tf.Tensor1D; // [3H]
      return projectInput(xs, params.inputKernel, bias, prepared.input); // [T, B, 3H]
    },

    sequence(params: NcGruParams, projected: tf.Tensor3D, state: NcGruState, _prepared: NcGruPrepared, mask?: Float32Array) {
      if (mask) return undefined; // lengths: the native kernel has no mask yet; scan steps
      // The fused recurrence (./fast/ncgru-sequence.ts), where the backend has its native kernels.
      const recurrentRz = params.resetRecurrentKernel
        ? (tf.concat([params.resetRecurrentKernel, params.recurrentKernel], 1) as tf.Tensor2D) // [H, 2H]: U_r | U_z
        : params.recurrentKernel;
      const r = ncgruRecurrence(recurrentRz, params.candidateRecurrentKernel, params.modReluBias, projected, state.h, resetAfterProduct);
      return r && { ys: r.ys, state: { h: r.h } as NcGruState };
    },

    step(params: NcGruParams, state: NcGruState, x: tf.Tensor2D, prepared: NcGruPrepared) {
      const [xrz, xc] = tf.split(x, [2 * H, H], 1) as tf.Tensor2D[]; // [B, 2H], [B, H]
      const recurrentRz = params.resetRecurrentKernel
        ? tf.concat([tf.matMul(state.h, params.resetRecurrentKernel), tf.matMul(state.h, params.recurrentKernel)], 1) // [B, 2H]: h U_r, h U_z
        : tf.matMul(state.h, params.recurrentKernel); // [B, 2H]
      const rz = tf.sigmoid(tf.add(xrz, recurrentRz)); // [B, 2H]
      const [r, z] = tf.split(rz, 2, 1) as tf.Tensor2D[];
      const recurrentC = resetAfterProduct
        ? tf.mul(r, tf.matMul(state.h, params.candidateRecurrentKernel)) // r ⊙ (h U_c)
        : tf.matMul(tf.mul(r, state.h) as tf.Tensor2D, params.candidateRecurrentKernel); // (r ⊙ h) U_c
      const candidatePre = tf.add(xc, recurrentC); // [B, H]
      const c = tf.mul(tf.sign(candidatePre), tf.relu(tf.add(tf.abs(candidatePre), params.modReluBias)));
      const h = tf.add(c, tf.mul(z, tf.sub(state.h, c))) as tf.Tensor2D; // z⊙h + (1−z)⊙c
      if (prepared.tracer) {
        prepared.tracer.record(prepared.layerName, "r", r);
        prepared.tracer.record(prepared.layerName, "z", z);
      }
      return { state: { h } as NcGruState, y: h };
    },
  };
}
