/**
 * Corrected kernels for @tensorflow/tfjs-backend-wasm 4.22 (see ../shared/docs/PERF.md, "Pitfalls").
 * Registered by selectBackend() when the wasm backend is chosen; each fix is checked numerically
 * against the cpu backend in test/wasm-kernels.test.ts.
 *
 * - segsum: wasm has no UnsortedSegmentSum, so tf.gather (embeddings) has no gradient. Delegate to
 *   ScatterNd, which sums duplicate indices.
 */
import { tf } from "./tf";

type KernelFunc = tf.KernelConfig["kernelFunc"];

function kernel(name: string): KernelFunc {
  const k = tf.getKernel(name, "wasm");
  if (!k) throw new Error(`wasm kernel ${name} is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
  return k.kernelFunc;
}

const segsum: tf.KernelConfig = {
  kernelName: "UnsortedSegmentSum",
  backendName: "wasm",
  kernelFunc: ({ inputs, attrs, backend }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    const reshape = kernel("Reshape");
    const scatter = kernel("ScatterNd");
    const n = segmentIds.shape.reduce((a, b) => a * b, 1);
    const indices = reshape({ inputs: { x: segmentIds }, attrs: { shape: [n, 1] }, backend }) as tf.TensorInfo;
    const rest = x.shape.slice(segmentIds.shape.length);
    const updates = reshape({ inputs: { x }, attrs: { shape: [n, ...rest] }, backend }) as tf.TensorInfo;
    const out = scatter({ inputs: { indices, updates }, attrs: { shape: [numSegments, ...rest] }, backend });
    const wasm = backend as unknown as { disposeData(id: object): void };
    wasm.disposeData(indices.dataId);
    wasm.disposeData(updates.dataId);
    return out;
  },
};

const FIXES: { name: string; config: tf.KernelConfig; replaces: boolean }[] = [
  { name: "segsum", config: segsum, replaces: false },
];

let installed: string[] | undefined;

/** Register the fixes once per process; returns their names. */
export function installWasmKernelFixes(): string[] {
  if (installed) return installed;
  installed = [];
  for (const fix of FIXES) {
    const existing = tf.getKernel(fix.config.kernelName, "wasm");
    if (existing && !fix.replaces) continue;
    if (existing) tf.unregisterKernel(fix.config.kernelName, "wasm");
    tf.registerKernel(fix.config);
    installed.push(fix.name);
  }
  return installed;
}
