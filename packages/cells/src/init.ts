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
