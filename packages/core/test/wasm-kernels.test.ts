/**
 * The corrected wasm kernels (src/wasm-kernels.ts) against the cpu backend, in one process: every case
 * is computed on wasm, then on cpu from the same plain arrays, then the backend is switched back.
 * Skipped when the selected backend is not wasm (the fixes only exist there).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, tf, installWasmKernelFixes } from "../src";
import { WASM_KERNEL_FIXES, setWasmKernelFixes } from "../src/wasm-kernels";
import { setNativeMatmul } from "../src/blas-kernels";

let isWasm = false;
before(async () => {
  isWasm = (await selectBackend()).backend === "wasm";
  // These tests hold wasm's own kernels (tfix among them); the native products have blas-kernels.test.ts.
  if (isWasm) setNativeMatmul(false);
});

type Case = () => tf.Tensor | tf.Tensor[];

/** Run `f` on wasm and on cpu; return both results as flat arrays with shapes. */
async function onBoth(f: Case): Promise<{ wasm: { shape: number[]; values: number[] }[]; cpu: { shape: number[]; values: number[] }[] }> {
  const run = () =>
    tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape.slice(), values: Array.from(t.dataSync()) }));
    });
  const wasm = run();
  await tf.setBackend("cpu");
  try {
    const cpu = run();
    return { wasm, cpu };
  } finally {
    await tf.setBackend("wasm");
  }
}

async function assertSame(label: string, f: Case, tol = 1e-5): Promise<void> {
  const { wasm, cpu } = await onBoth(f);
  assert.equal(wasm.length, cpu.length, `${label}: number of outputs`);
  for (let k = 0; k < wasm.length; k++) {
    assert.deepEqual(wasm[k].shape, cpu[k].shape, `${label}[${k}]: shape`);
    let worst = 0;
    for (let i = 0; i < cpu[k].values.length; i++) {
      const d = Math.abs(wasm[k].values[i] - cpu[k].values[i]) / Math.max(1, Math.abs(cpu[k].values[i]));
      if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    }
    assert.ok(worst <= tol, `${label}[${k}]: max relative difference ${worst} > ${tol}`);
  }
}

function randomArray(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

function numDataIds(): number {
  return (tf.engine().backend as unknown as { numDataIds(): number }).numDataIds();
}

test("all four fixes are installed on wasm", (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  assert.deepEqual(installWasmKernelFixes(), ["tfix", "fcopy", "segsum", "oneHot"]);
  assert.deepEqual([...WASM_KERNEL_FIXES], ["tfix", "fcopy", "segsum", "oneHot"]);
});

test("tfix: matMul with every transpose combination, rank 2 and 3, and its gradients, equal cpu", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const rng = new Rng(1);
  const [m, k, n] = [5, 7, 3];
  const a = randomArray(rng, 2 * m * k);
  const b = randomArray(rng, 2 * k * n);
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      const aShape = transposeA ? [k, m] : [m, k];
      const bShape = transposeB ? [n, k] : [k, n];
      await assertSame(`matMul rank2 tA=${transposeA} tB=${transposeB}`, () =>
        tf.matMul(tf.tensor(a.slice(0, m * k), aShape), tf.tensor(b.slice(0, k * n), bShape), transposeA, transposeB),
      );
      await assertSame(`matMul rank3 tA=${transposeA} tB=${transposeB}`, () =>
        tf.matMul(tf.tensor(a, [2, ...aShape]), tf.tensor(b, [2, ...bShape]), transposeA, transposeB),
      );
    }
  }
  await assertSame("matMul gradients", () => {
    const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).square().sum());
    return g([tf.tensor(a.slice(0, m * k), [m, k]), tf.tensor(b.slice(0, k * n), [k, n])]);
  });
  const before = numDataIds();
  tf.tidy(() => {
    tf.matMul(tf.ones([3, 4]), tf.ones([5, 4]), false, true);
    tf.matMul(tf.ones([4, 3]), tf.ones([4, 5]), true, false);
  });
  assert.equal(numDataIds(), before, "tfix leaks its transposed operands");
});

test("fcopy: slice at ranks 1-5, contiguous and strided, equals cpu", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const rng = new Rng(2);
  const shape = [3, 4, 5, 2, 3];
  const values = randomArray(rng, shape.reduce((p, d) => p * d, 1));
  for (let rank = 1; rank <= 5; rank++) {
    const s = shape.slice(0, rank);
    const n = s.reduce((p, d) => p * d, 1);
    const begin = s.map((d) => Math.min(1, d - 1));
    const size = s.map((d, i) => (i % 2 === 0 ? d - 1 : -1));
    await assertSame(`slice rank ${rank}`, () => tf.slice(tf.tensor(values.slice(0, n), s), begin, size));
    await assertSame(`slice rank ${rank} leading rows`, () => tf.slice(tf.tensor(values.slice(0, n), s), 1, 1));
  }
  await assertSame("slice int32", () => tf.slice(tf.tensor([[1, 2, 3], [4, 5, 6]], [2, 3], "int32"), [0, 1], [2, 2]));
  await assertSame("slice empty", () => tf.slice(tf.ones([3, 4]), [1, 1], [0, 2]));
});

test("fcopy: split and unstack along each axis equal cpu", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const rng = new Rng(3);
  const values = randomArray(rng, 4 * 6 * 5);
  for (let axis = 0; axis < 3; axis++) {
    await assertSame(`split axis ${axis} in 2`, () => tf.split(tf.tensor(values, [4, 6, 5]), 2, axis === 2 ? 0 : axis));
    await assertSame(`split axis ${axis} uneven`, () => tf.split(tf.tensor(values, [4, 6, 5]), [1, -1, 2], axis));
    await assertSame(`unstack axis ${axis}`, () => tf.unstack(tf.tensor(values, [4, 6, 5]), axis));
  }
});

test("fcopy: gather along each axis, with batchDims, and its gradient, equal cpu", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const rng = new Rng(4);
  const values = randomArray(rng, 4 * 6 * 5);
  const x = () => tf.tensor(values, [4, 6, 5]);
  await assertSame("gather axis 0", () => tf.gather(x(), tf.tensor1d([3, 0, 3, 1], "int32"), 0));
  await assertSame("gather axis 1, 2-d indices", () => tf.gather(x(), tf.tensor2d([[5, 0], [2, 2]], [2, 2], "int32"), 1));
  await assertSame("gather axis 2 (columns)", () => tf.gather(x(), tf.tensor1d([4, 1], "int32"), 2));
  await assertSame("gather batchDims 1", () =>
    tf.gather(x(), tf.tensor2d([[1, 2], [0, 0], [5, 4], [3, 3]], [4, 2], "int32"), 1, 1),
  );
  await assertSame("gather int32 values", () => tf.gather(tf.tensor1d([7, 8, 9], "int32"), tf.tensor1d([2, 0], "int32")));
  await assertSame("gather gradient with duplicate indices (segsum)", () =>
    tf.grad((p: tf.Tensor) => tf.gather(p, tf.tensor1d([3, 0, 3, 1, 3], "int32"), 0).mul(tf.range(0, 30).reshape([5, 6])).sum())(
      tf.tensor(values.slice(0, 24), [4, 6]),
    ),
  );
  assert.throws(() => tf.tidy(() => tf.gather(x(), tf.tensor1d([4], "int32"), 0)), /index value 4 is not in \[0, 3\]/);
});

test("segsum: unsortedSegmentSum equals cpu", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const rng = new Rng(5);
  const values = randomArray(rng, 6 * 3);
  await assertSame("unsortedSegmentSum", () =>
    tf.unsortedSegmentSum(tf.tensor(values, [6, 3]), tf.tensor1d([2, 0, 2, 4, 0, 2], "int32"), 5),
  );
});

test("oneHot: float32 and int32 equal cpu, including out-of-range indices", async (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const idx = [0, 3, 1, -1, 4, 2];
  await assertSame("oneHot float32", () => tf.oneHot(tf.tensor1d(idx, "int32"), 4, 1, 0, "float32"));
  await assertSame("oneHot float32 on/off", () => tf.oneHot(tf.tensor2d(idx, [2, 3], "int32"), 4, 0.75, -0.5, "float32"));
  await assertSame("oneHot int32", () => tf.oneHot(tf.tensor1d(idx, "int32"), 4));
  const v = tf.tidy(() => tf.oneHot(tf.tensor1d([1], "int32"), 2, 1, 0, "float32").dataSync());
  assert.deepEqual(Array.from(v), [0, 1]);
});

test("fcopy kernels free everything they allocate", (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const x = tf.ones([20, 40]);
  const before = numDataIds();
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => {
      tf.split(x, 4, 1);
      tf.unstack(x);
      tf.slice(x, [2, 3], [5, 6]);
      tf.gather(x, [1, 2], 1);
      tf.oneHot(tf.tensor1d([1], "int32"), 3, 1, 0, "float32");
    });
  }
  tf.dispose(x);
  assert.equal(numDataIds(), before - 1);
});

test("setWasmKernelFixes reverts to the stock kernels and back (stock float32 oneHot is wrong)", (t) => {
  if (!isWasm) return t.skip("backend is not wasm");
  const hot = () => tf.tidy(() => Array.from(tf.oneHot(tf.tensor1d([1], "int32"), 2, 1, 0, "float32").dataSync()));
  try {
    assert.deepEqual(setWasmKernelFixes(["segsum"]), ["segsum"]);
    assert.notDeepEqual(hot(), [0, 1], "the stock oneHot kernel is back");
    assert.equal(tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined, true);
    assert.deepEqual(setWasmKernelFixes([]), []);
    assert.equal(tf.getKernel("UnsortedSegmentSum", "wasm"), undefined);
  } finally {
    assert.deepEqual(setWasmKernelFixes(WASM_KERNEL_FIXES), ["tfix", "fcopy", "segsum", "oneHot"]);
  }
  assert.deepEqual(hot(), [0, 1]);
  assert.throws(() => setWasmKernelFixes(["nope"]), /unknown fix "nope"/);
});
