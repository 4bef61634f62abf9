/** Parameter initialisers; all randomness from an Rng. */
import { tf, type Rng } from "@rnnlab/core";

/** U(−limit, limit), the PyTorch default for RNN weights with limit = 1/sqrt(hidden). */
export function uniformTensor(shape: number[], limit: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillUniform(new Float32Array(size), -limit, limit), shape, "float32");
}

/** [H, k·H] made of k identity blocks: the ATN paper's recurrent init U = [I I I I]. */
export function identityBlocks(hiddenSize: number, blocks: number): tf.Tensor2D {
  return tf.tidy(() => tf.tile(tf.eye(hiddenSize), [1, blocks]) as tf.Tensor2D);
}

/** A [size] vector with `value` in block `block` of width `width` and zeros elsewhere. */
export function blockVector(size: number, block: number, width: number, value: number): tf.Tensor1D {
  const data = new Float32Array(size);
  data.fill(value, block * width, (block + 1) * width);
  return tf.tensor1d(data);
}

/**
 * A [rows, cols] matrix with orthonormal rows (rows ≤ cols) or columns (rows > cols), from Gram-Schmidt
 * (twice, for float64 accuracy) on N(0, 1) draws: torch.nn.init.orthogonal_ of the transposed [4H, I]
 * weight, up to the sign convention of its QR.
 */
export function orthogonalMatrix(rows: number, cols: number, rng: Rng): Float32Array {
  const transposed = rows > cols;
  const [n, m] = transposed ? [cols, rows] : [rows, cols]; // n orthonormal vectors of length m, n <= m
  const v = Array.from({ length: n }, () => Float64Array.from({ length: m }, () => rng.normal()));
  for (let i = 0; i < n; i++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        let dot = 0;
        for (let k = 0; k < m; k++) dot += v[i][k] * v[j][k];
        for (let k = 0; k < m; k++) v[i][k] -= dot * v[j][k];
      }
    }
    const norm = Math.sqrt(v[i].reduce((acc, x) => acc + x * x, 0));
    for (let k = 0; k < m; k++) v[i][k] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) for (let k = 0; k < m; k++) out[transposed ? k * cols + i : i * cols + k] = v[i][k];
  return out;
}
