/**
 * Structured dropout on a non-recurrent connection, fast path (Sarma et al., NeurIPS 2021, "Structured in
 * Space, Randomized in Time"; docs/papers/structured-dropout.md). Rows of x are time-major (row = t·B + b).
 * With keep set K_g for row group g (a contiguous block of time steps) and inverted dropout:
 *   Y_g = X_g[:, K_g] · W[K_g, :] / (1−p)                 // contraction length |K_g| ≈ (1−p)·I
 *   dX_g[:, K_g] = dY_g · W[K_g, :]ᵀ / (1−p), other columns 0
 *   dW[K_g, :] += X_g[:, K_g]ᵀ · dY_g / (1−p)
 * One keep set per time step is `groups = T` (the paper). DEVIATION (wasm speed): with fewer groups,
 * consecutive steps share a keep set. On tfjs-wasm a per-step GEMM has only 20 rows and must re-pack the
 * freshly gathered W[K_t] every step (XNNPACK packs the right-hand matrix), which costs more than the
 * halved contraction saves (measured in packages/cells/bench: per-step is slower than one dense [T·B, I]
 * GEMM). Grouping keeps the GEMMs large; `groups = 1` shares one keep set over the whole BPTT segment
 * (a new set every segment).
 * W[K_g] is gathered once per group; the gathers' gradients (scatter-adds through UnsortedSegmentSum)
 * put dW[K_g] and dX[:, K_g] back in place.
 */
import { tf } from "@rnnlab/core";
import { addBias, denseProjection, type DenseProjectionOptions } from "./dense";

function checkKeep(where: string, keepIndices: Int32Array[], inputSize: number, rows: number, rate: number, groupRows?: readonly number[]): void {
  if (!(rate >= 0 && rate < 1)) throw new Error(`${where}: rate must be in [0, 1), got ${rate}.`);
  const groups = keepIndices.length;
  if (groupRows) {
    if (groupRows.length !== groups || groupRows.some((r) => !Number.isInteger(r) || r < 1) || groupRows.reduce((a, b) => a + b, 0) !== rows)
      throw new Error(`${where}: groupRows [${groupRows}] must give one positive row count per keep set (${groups}) summing to the ${rows} rows of x.`);
  } else if (groups < 1 || rows % groups !== 0)
    throw new Error(`${where}: ${rows} rows cannot be split into ${groups} equal row groups (one keep set per group); pass a group count that divides the number of time steps, or groupRows.`);
  const kept = keepIndices[0].length;
  for (let g = 0; g < groups; g++) {
    const k = keepIndices[g];
    if (k.length !== kept) throw new Error(`${where}: keep sets must all have ${kept} entries (group ${g} has ${k.length}).`);
    for (let j = 0; j < k.length; j++)
      if (!(k[j] >= 0 && k[j] < inputSize)) throw new Error(`${where}: keep index ${k[j]} in group ${g} is outside [0, ${inputSize}).`);
  }
}

export interface StructuredGroupOptions extends DenseProjectionOptions {
  /** Rows of each group, in order (sum = rows of x); default: equal groups. Lets the last group be shorter. */
  groupRows?: readonly number[];
}

/**
 * x [R, I] (R = groups·rowsPerGroup, or the sum of options.groupRows; time-major) · W [I, N] (+ bias) with structured dropout; keepIndices[g] are the
 * kept input features of row group g (all the same size, e.g. from structuredKeepIndices). Returns [R, N].
 * Each group is one gather of x's columns and W's rows (their gradients are the scatter-adds) and one
 * denseProjection (transposed weight gradient, optional column blocks).
 */
export function structuredDropoutGroupedMatMul(
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  keepIndices: Int32Array[],
  rate: number,
  options: StructuredGroupOptions = {},
): tf.Tensor2D {
  const [rows, inputSize] = x.shape;
  const { groupRows, ...denseOptions } = options;
  checkKeep("structuredDropoutGroupedMatMul", keepIndices, inputSize, rows, rate, groupRows);
  if (kernel.shape[0] !== inputSize)
    throw new Error(`structuredDropoutGroupedMatMul: kernel must have ${inputSize} rows (x has ${inputSize} features), got [${kernel.shape}].`);
  const groups = keepIndices.length;
  const scale = 1 / (1 - rate);
  return tf.tidy(() => {
    const xParts = groups === 1 ? [x] : (tf.split(x, groupRows ? [...groupRows] : groups, 0) as tf.Tensor2D[]); // groups x [R_g, I]
    const outs = keepIndices.map((k, g) => {
      const idx = tf.tensor1d(k, "int32");
      const xKept = tf.mul(tf.gather(xParts[g], idx, 1), scale) as tf.Tensor2D; // [R/G, K]
      const kernelKept = tf.gather(kernel, idx, 0) as tf.Tensor2D; // [K, N]
      return denseProjection(xKept, kernelKept, groups === 1 ? bias : undefined, denseOptions); // [R_g, N]
    });
    if (groups === 1) return outs[0];
    const y = tf.concat(outs, 0) as tf.Tensor2D; // [R, N]
    return bias ? addBias(y, bias) : y;
  });
}

/** Time-major sequence form: xs [T, B, I] · W [I, N] (+ bias) -> [T, B, N], one keep set per group of T/groups steps. */
export function structuredDropoutSequenceProjection(
  xs: tf.Tensor3D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D | undefined,
  keepIndices: Int32Array[],
  rate: number,
  options: DenseProjectionOptions = {},
): tf.Tensor3D {
  const [T, B, I] = xs.shape;
  if (T % keepIndices.length !== 0)
    throw new Error(`structuredDropoutSequenceProjection: ${keepIndices.length} keep sets do not divide ${T} time steps; use a group count that divides the BPTT length.`);
  return tf.tidy(() => {
    const out = structuredDropoutGroupedMatMul(tf.reshape(xs, [T * B, I]), kernel, bias, keepIndices, rate, options); // [T*B, N]
    return tf.reshape(out, [T, B, kernel.shape[1]]) as tf.Tensor3D;
  });
}
