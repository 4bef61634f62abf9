/**
 * Post-training compression of LSTM gate blocks, for evaluation only (G2-LSTM, Li et al., ICML 2018,
 * docs/papers/g2-lstm.md; the authors' code `language-modeling/pointer.py` and NMT `load_params_v2`).
 *
 *   round          w ← r · round(w / r)                       grid step r
 *   roundAndClip   w ← r · round(clip(w, −2r, 2r) / r)        5 levels {−2r, −r, 0, r, 2r}
 *   precision      w ← round(clip(w, −1, 1) · k) / k          NMT "precision", grid 1/k
 *   svd            W_block ← U_r Σ_r V_rᵀ                     rank-r truncated SVD of each gate block
 *
 * Each gate block (a column range [in, H] of an [in, 4H] kernel, gate order i, f, g, o — the shared
 * parameter convention) is compressed on its own; by default the i and f blocks of every LSTM layer's
 * inputKernel and recurrentKernel. round() is half-to-even, as torch.round in the authors' code.
 * The report's relative error is ‖W' − W‖_F / ‖W‖_F over the compressed blocks of that matrix.
 * The SVD is ml-matrix's SingularValueDecomposition, computed in float64.
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { tf } from "@rnnlab/core";

/** The shared LSTM gate order (packages/cells/src/gates.ts LSTM_GATES); metrics does not depend on cells. */
export const LSTM_GATE_ORDER = ["i", "f", "g", "o"] as const;

export type CompressionMethod = "round" | "roundAndClip" | "precision" | "svd";

/** A nested object/array of tensors, as the trainers and cells hold parameters. */
export type ParameterTree = tf.Tensor | { [key: string]: ParameterTree } | ParameterTree[];

/** The tree a copy returns: the same structure, with tf.Variable leaves turned into plain tensors. */
export type CopiedTree<T> = T extends tf.Variable<infer R>
  ? tf.Tensor<R>
  : T extends tf.Tensor
    ? T
    : T extends readonly (infer U)[]
      ? CopiedTree<U>[]
      : T extends object
        ? { [K in keyof T]: CopiedTree<T[K]> }
        : T;

function roundHalfToEven(value: number): number {
  const floor = Math.floor(value);
  const difference = value - floor;
  if (difference > 0.5) return floor + 1;
  if (difference < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function requirePositive(value: number, name: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a finite number > 0, got ${String(value)}.`);
  }
}

/** w ← r·round(w/r): the nearest multiple of the grid step r (half to even). */
export function roundToGrid(values: ArrayLike<number>, step: number): Float32Array {
  requirePositive(step, "roundToGrid(step)");
  const out = new Float32Array(values.length);
  for (let index = 0; index < values.length; index++) out[index] = step * roundHalfToEven(values[index] / step);
  return out;
}

/** Clip to ±2r, then round to multiples of r: at most 5 levels {−2r, −r, 0, r, 2r}. */
export function roundAndClip(values: ArrayLike<number>, step: number): Float32Array {
  requirePositive(step, "roundAndClip(step)");
  const out = new Float32Array(values.length);
  const limit = 2 * step;
  for (let index = 0; index < values.length; index++) {
    const clipped = Math.min(limit, Math.max(-limit, values[index]));
    out[index] = step * roundHalfToEven(clipped / step);
  }
  return out;
}

/** NMT "precision": round(clip(w, −1, 1)·k)/k. */
export function precisionRound(values: ArrayLike<number>, levelsPerUnit: number): Float32Array {
  requirePositive(levelsPerUnit, "precisionRound(levelsPerUnit)");
  const out = new Float32Array(values.length);
  for (let index = 0; index < values.length; index++) {
    const clipped = Math.min(1, Math.max(-1, values[index]));
    out[index] = roundHalfToEven(clipped * levelsPerUnit) / levelsPerUnit;
  }
  return out;
}

/**
 * Rank-r truncated SVD of a row-major [rows, columns] matrix, returned row-major. A rank above
 * min(rows, columns) is clamped to it (then the result reproduces the input to float precision).
 */
export function truncatedSvd(values: ArrayLike<number>, rows: number, columns: number, rank: number): Float32Array {
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 1 || columns < 1 || values.length !== rows * columns) {
    throw new Error(`truncatedSvd(): values has ${values.length} entries, which is not rows·columns = ${rows}·${columns}.`);
  }
  if (!Number.isInteger(rank) || rank < 1) {
    throw new Error(`truncatedSvd(rank) must be an integer >= 1, got ${String(rank)}.`);
  }
  const matrix = new Matrix(rows, columns);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) matrix.set(row, column, values[row * columns + column]);
  }
  const svd = new SingularValueDecomposition(matrix, { autoTranspose: true });
  const singularValues = svd.diagonal;
  const left = svd.leftSingularVectors; // [rows, k]
  const right = svd.rightSingularVectors; // [columns, k]
  // Keep the largest singular values whatever order the decomposition returns them in.
  const order = singularValues.map((_, index) => index).sort((a, b) => singularValues[b] - singularValues[a]);
  const kept = order.slice(0, Math.min(rank, rows, columns));
  // Copy U_r·Σ_r and V_r into flat arrays once: Matrix.get in the inner loop is several times slower.
  const keptCount = kept.length;
  const scaledLeft = new Float64Array(rows * keptCount); // [rows, r]
  const keptRight = new Float64Array(columns * keptCount); // [columns, r]
  kept.forEach((component, slot) => {
    for (let row = 0; row < rows; row++) scaledLeft[row * keptCount + slot] = left.get(row, component) * singularValues[component];
    for (let column = 0; column < columns; column++) keptRight[column * keptCount + slot] = right.get(column, component);
  });
  const out = new Float32Array(rows * columns);
  for (let row = 0; row < rows; row++) {
    const leftOffset = row * keptCount;
    for (let column = 0; column < columns; column++) {
      const rightOffset = column * keptCount;
      let sum = 0;
      for (let slot = 0; slot < keptCount; slot++) sum += scaledLeft[leftOffset + slot] * keptRight[rightOffset + slot];
      out[row * columns + column] = sum;
    }
  }
  return out;
}

export interface CompressionSpec {
  method: CompressionMethod;
  /** round / roundAndClip: grid step r; precision: k (levels per unit); svd: rank per gate block. */
  parameter: number;
  /**
   * Dotted paths of the [in, gateCount·H] matrices to compress (e.g. "layers.0.recurrentKernel").
   * Default: inputKernel and recurrentKernel of every LSTM layer found in the tree.
   */
  matrices?: readonly string[];
  /** Gate blocks to compress, by name in `gateOrder`. Default ["i", "f"]. */
  gates?: readonly string[];
  /** Column-block order of the matrices. Default LSTM's ["i", "f", "g", "o"]. */
  gateOrder?: readonly string[];
}

export interface CompressionBlockReport {
  gate: string;
  /** Relative Frobenius error of this block. */
  relativeError: number;
  /** Distinct float32 values in the compressed block (rounding methods). */
  levels?: number;
  /** Rank kept (svd): min(parameter, in, H). */
  rank?: number;
}

export interface CompressionMatrixReport {
  path: string;
  shape: [number, number];
  method: CompressionMethod;
  parameter: number;
  gates: string[];
  /** ‖W' − W‖_F / ‖W‖_F over the compressed blocks of this matrix (0 when they are all zero and unchanged). */
  relativeError: number;
  /** Distinct values over all compressed blocks of this matrix (rounding methods). */
  levels?: number;
  blocks: CompressionBlockReport[];
}

export interface CompressionReport {
  method: CompressionMethod;
  parameter: number;
  matrices: CompressionMatrixReport[];
  /** Pooled over every compressed block of every matrix. */
  relativeError: number;
}

const METHODS: ReadonlySet<string> = new Set(["round", "roundAndClip", "precision", "svd"]);
const SPEC_KEYS: ReadonlySet<string> = new Set(["method", "parameter", "matrices", "gates", "gateOrder"]);

function isTensor(node: unknown): node is tf.Tensor {
  return node instanceof tf.Tensor;
}

function isLstmLayer(node: unknown): node is { inputKernel: tf.Tensor; recurrentKernel: tf.Tensor } {
  if (node === null || typeof node !== "object" || Array.isArray(node) || isTensor(node)) return false;
  const record = node as Record<string, unknown>;
  const { inputKernel, recurrentKernel } = record;
  if (!isTensor(inputKernel) || !isTensor(recurrentKernel) || "recurrentBias" in record) return false;
  if (inputKernel.rank !== 2 || recurrentKernel.rank !== 2) return false;
  const [hidden, gateColumns] = recurrentKernel.shape;
  return gateColumns === 4 * hidden && inputKernel.shape[1] === gateColumns;
}

/** Dotted paths of inputKernel and recurrentKernel of every LSTM layer (a GRU layer has recurrentBias and 3H columns). */
export function findLstmKernels(tree: ParameterTree): string[] {
  const found: string[] = [];
  const visit = (node: unknown, path: string): void => {
    if (isTensor(node) || node === null || typeof node !== "object") return;
    if (isLstmLayer(node)) {
      const prefix = path ? `${path}.` : "";
      found.push(`${prefix}inputKernel`, `${prefix}recurrentKernel`);
    }
    if (Array.isArray(node)) node.forEach((child, index) => visit(child, path ? `${path}.${index}` : `${index}`));
    else for (const [key, child] of Object.entries(node)) visit(child, path ? `${path}.${key}` : key);
  };
  visit(tree, "");
  return found;
}

function compressValues(values: Float32Array, rows: number, columns: number, spec: CompressionSpec): Float32Array {
  switch (spec.method) {
    case "round":
      return roundToGrid(values, spec.parameter);
    case "roundAndClip":
      return roundAndClip(values, spec.parameter);
    case "precision":
      return precisionRound(values, spec.parameter);
    case "svd":
      return truncatedSvd(values, rows, columns, spec.parameter);
  }
}

function validateSpec(spec: CompressionSpec): { gates: string[]; gateOrder: string[] } {
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.has(key)) {
      throw new Error(`compressGateBlocks spec: unknown key "${key}"; allowed keys are ${[...SPEC_KEYS].join(", ")}.`);
    }
  }
  if (!METHODS.has(spec.method)) {
    throw new Error(`compressGateBlocks spec.method: unknown "${String(spec.method)}"; use "round", "roundAndClip", "precision" or "svd".`);
  }
  requirePositive(spec.parameter, `compressGateBlocks spec.parameter (${spec.method})`);
  if (spec.method === "svd" && !Number.isInteger(spec.parameter)) {
    throw new Error(`compressGateBlocks spec.parameter: the svd rank must be an integer, got ${spec.parameter}.`);
  }
  const gateOrder = [...(spec.gateOrder ?? LSTM_GATE_ORDER)];
  const gates = [...(spec.gates ?? ["i", "f"])];
  for (const gate of gates) {
    if (!gateOrder.includes(gate)) {
      throw new Error(`compressGateBlocks spec.gates: "${gate}" is not in gateOrder [${gateOrder.join(", ")}].`);
    }
  }
  if (new Set(gates).size !== gates.length) {
    throw new Error(`compressGateBlocks spec.gates: [${gates.join(", ")}] lists a gate twice.`);
  }
  return { gates, gateOrder };
}

function countDistinct(values: Float32Array, blockColumns: number, columns: number, blockStart: number, rows: number, into?: Set<number>): number {
  const distinct = new Set<number>();
  for (let row = 0; row < rows; row++) {
    for (let column = blockStart; column < blockStart + blockColumns; column++) {
      distinct.add(values[row * columns + column]);
      into?.add(values[row * columns + column]);
    }
  }
  return distinct.size;
}

/**
 * Compresses the chosen gate blocks of copies of the parameters. Returns a new tree of new tensors with
 * the same structure (every tensor leaf is a fresh tensor the caller owns and disposes; the input tree
 * and its tensors are left untouched) and a report per matrix.
 */
export function compressGateBlocks<T extends ParameterTree>(
  tree: T,
  spec: CompressionSpec,
): { params: CopiedTree<T>; report: CompressionReport } {
  const { gates, gateOrder } = validateSpec(spec);
  const targets = spec.matrices ? [...spec.matrices] : findLstmKernels(tree);
  if (targets.length === 0) {
    throw new Error(
      "compressGateBlocks: no matrices to compress: the tree has no LSTM layer ({inputKernel, recurrentKernel} with 4H columns); pass spec.matrices with dotted paths.",
    );
  }
  const targetSet = new Set(targets);
  const seen = new Set<string>();
  const reports: CompressionMatrixReport[] = [];
  let pooledErrorSquares = 0;
  let pooledNormSquares = 0;

  const compressLeaf = (tensor: tf.Tensor, path: string): tf.Tensor => {
    if (tensor.rank !== 2) {
      throw new Error(`compressGateBlocks spec.matrices: "${path}" has shape [${tensor.shape.join(", ")}]; it must be a 2-D [in, gates·H] matrix.`);
    }
    const [rows, columns] = tensor.shape as [number, number];
    if (columns % gateOrder.length !== 0) {
      throw new Error(
        `compressGateBlocks: "${path}" has ${columns} columns, not a multiple of the ${gateOrder.length} gates in gateOrder [${gateOrder.join(", ")}].`,
      );
    }
    const blockColumns = columns / gateOrder.length;
    const original = tensor.dataSync() as Float32Array; // row-major [rows, columns]
    const output = Float32Array.from(original);
    const blocks: CompressionBlockReport[] = [];
    const allLevels = new Set<number>();
    let errorSquares = 0;
    let normSquares = 0;
    for (const gate of gates) {
      const blockStart = gateOrder.indexOf(gate) * blockColumns;
      const block = new Float32Array(rows * blockColumns); // [rows, H]
      for (let row = 0; row < rows; row++) {
        block.set(original.subarray(row * columns + blockStart, row * columns + blockStart + blockColumns), row * blockColumns);
      }
      const compressed = compressValues(block, rows, blockColumns, spec);
      let blockError = 0;
      let blockNorm = 0;
      for (let index = 0; index < block.length; index++) {
        blockError += (compressed[index] - block[index]) ** 2;
        blockNorm += block[index] ** 2;
      }
      for (let row = 0; row < rows; row++) {
        output.set(compressed.subarray(row * blockColumns, (row + 1) * blockColumns), row * columns + blockStart);
      }
      const blockReport: CompressionBlockReport = { gate, relativeError: blockNorm > 0 ? Math.sqrt(blockError / blockNorm) : Math.sqrt(blockError) };
      if (spec.method === "svd") blockReport.rank = Math.min(spec.parameter, rows, blockColumns);
      else blockReport.levels = countDistinct(output, blockColumns, columns, blockStart, rows, allLevels);
      blocks.push(blockReport);
      errorSquares += blockError;
      normSquares += blockNorm;
    }
    pooledErrorSquares += errorSquares;
    pooledNormSquares += normSquares;
    const report: CompressionMatrixReport = {
      path,
      shape: [rows, columns],
      method: spec.method,
      parameter: spec.parameter,
      gates,
      relativeError: normSquares > 0 ? Math.sqrt(errorSquares / normSquares) : Math.sqrt(errorSquares),
      blocks,
    };
    if (spec.method !== "svd") report.levels = allLevels.size;
    reports.push(report);
    return tf.tensor2d(output, [rows, columns], "float32");
  };

  const created: tf.Tensor[] = [];
  const visit = (node: unknown, path: string): unknown => {
    if (isTensor(node)) {
      const copy = targetSet.has(path) ? compressLeaf(node, path) : tf.clone(node);
      created.push(copy);
      if (targetSet.has(path)) seen.add(path);
      return copy;
    }
    if (Array.isArray(node)) return node.map((child, index) => visit(child, path ? `${path}.${index}` : `${index}`));
    if (node !== null && typeof node === "object") {
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) out[key] = visit(child, path ? `${path}.${key}` : key);
      return out;
    }
    return node;
  };
  try {
    const params = visit(tree, "") as CopiedTree<T>;
    const missing = targets.filter((path) => !seen.has(path));
    if (missing.length > 0) {
      throw new Error(`compressGateBlocks spec.matrices: no tensor at ${missing.map((path) => `"${path}"`).join(", ")}; paths are dotted keys such as "layers.0.recurrentKernel".`);
    }
    const relativeError = pooledNormSquares > 0 ? Math.sqrt(pooledErrorSquares / pooledNormSquares) : Math.sqrt(pooledErrorSquares);
    return { params, report: { method: spec.method, parameter: spec.parameter, matrices: reports, relativeError } };
  } catch (error) {
    // Nothing half-built may leak when a path or shape is wrong.
    tf.dispose(created);
    throw error;
  }
}
