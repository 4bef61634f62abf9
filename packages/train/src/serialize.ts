/**
 * Tensors as plain data (shape + Float32Array), the unit optimizer state and checkpoints are made of.
 */
import { tf } from "@rnnlab/core";

export interface SerializedTensor {
  shape: number[];
  data: Float32Array;
}

export function serializeTensor(t: tf.Tensor): SerializedTensor {
  if (t.dtype !== "float32") throw new Error(`serializeTensor: only float32 tensors are stored, got ${t.dtype} (shape ${t.shape})`);
  return { shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
}

export function deserializeTensor(s: SerializedTensor): tf.Tensor {
  return tf.tensor(s.data, s.shape, "float32");
}

export function serializeNamed(tensors: Record<string, tf.Tensor>): Record<string, SerializedTensor> {
  const out: Record<string, SerializedTensor> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = serializeTensor(t);
  return out;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
