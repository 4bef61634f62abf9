import assert from "node:assert/strict";
import { tf } from "@rnnlab/core";

export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const va = a instanceof tf.Tensor ? a.dataSync() : a;
  const vb = b instanceof tf.Tensor ? b.dataSync() : b;
  assert.equal(va.length, vb.length, `length mismatch ${va.length} vs ${vb.length}`);
  let m = 0;
  for (let i = 0; i < va.length; i++) m = Math.max(m, Math.abs(va[i] - vb[i]));
  return m;
}

export function assertClose(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>, tolerance: number, what: string): void {
  if (a instanceof tf.Tensor && b instanceof tf.Tensor) assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const d = maxAbsDiff(a, b);
  assert.ok(d <= tolerance, `${what}: max |diff| ${d} > ${tolerance}`);
}

export function assertEqualTensors(a: tf.Tensor, b: tf.Tensor, what: string): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()), `${what}: values differ`);
}

/** Float32 tensor from nested arrays. */
export function t(values: unknown): tf.Tensor {
  return tf.tensor(values as number[]);
}
