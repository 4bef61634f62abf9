/**
 * Where a training step's kernel time goes, from a tf.profile record: each registered kernel's time
 * summed by name, and the names grouped. Shared by the structured-dropout profile (./lm-profile.ts) and
 * the training-speed bench (packages/experiments/bench/training-speed.ts).
 *   matMul          BatchMatMul / _FusedMatMul / MatMul: the GEMMs (native BLAS under wasm+blas)
 *   recurrence      rnnlab's fused native recurrences (LSTM, LN/ATN-LSTM, GRU, NC-GRU forward and backward): the
 *                   per-step recurrent GEMMs and the gate arithmetic in one kernel each way
 *   gatherScatter   GatherV2 / GatherNd / UnsortedSegmentSum / ScatterNd: the embedding lookup, structured
 *                   dropout's column gathers and their scatter-add gradients
 *   other           everything else (sigmoid, elementwise products, softmax, norms, reshapes, concat/split, …)
 * Kernel times come from the backend's timer (synchronous on wasm and cpu, so they are wall-clock).
 */
import { tf, GRU_BACKWARD_KERNEL, GRU_FORWARD_KERNEL, LSTM_BACKWARD_KERNEL, LSTM_FORWARD_KERNEL, NCGRU_BACKWARD_KERNEL, NCGRU_FORWARD_KERNEL, NORM_LSTM_FORWARD_KERNEL, NORM_LSTM_BACKWARD_KERNEL } from "@rnnlab/core";

/** tf.profile's record of one kernel call. */
export type ProfiledKernel = Awaited<ReturnType<typeof tf.profile>>["kernels"][number];

export type KernelGroup = "matMul" | "recurrence" | "gatherScatter" | "other";

export const KERNEL_GROUPS: Readonly<Record<string, KernelGroup>> = {
  BatchMatMul: "matMul",
  _FusedMatMul: "matMul",
  MatMul: "matMul",
  [LSTM_FORWARD_KERNEL]: "recurrence",
  [LSTM_BACKWARD_KERNEL]: "recurrence",
  [GRU_FORWARD_KERNEL]: "recurrence",
  [GRU_BACKWARD_KERNEL]: "recurrence",
  [NCGRU_FORWARD_KERNEL]: "recurrence",
  [NCGRU_BACKWARD_KERNEL]: "recurrence",
  [NORM_LSTM_FORWARD_KERNEL]: "recurrence",
  [NORM_LSTM_BACKWARD_KERNEL]: "recurrence",
  GatherV2: "gatherScatter",
  GatherNd: "gatherScatter",
  UnsortedSegmentSum: "gatherScatter",
  ScatterNd: "gatherScatter",
};

export function kernelGroup(name: string): KernelGroup {
  return KERNEL_GROUPS[name] ?? "other";
}

export interface KernelTime {
  ms: number;
  calls: number;
}

/**
 * Adds the profiled kernels' times into `byKernel` (by name). Custom-gradient functions and named scopes
 * are profiled as pseudo-kernels whose time includes the real kernels inside them; only kernels
 * registered on `backend` count. Call after tf.profile resolved (kernelTimeMs is then a number).
 */
export function addKernelTimes(kernels: readonly ProfiledKernel[], byKernel: Map<string, KernelTime> = new Map(), backend = tf.getBackend()): Map<string, KernelTime> {
  for (const k of kernels) {
    if (!tf.getKernel(k.name, backend)) continue;
    const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    e.calls += 1;
    byKernel.set(k.name, e);
  }
  return byKernel;
}

/** Milliseconds per group (divided by `passes`), with `merge` folding groups into others (e.g. recurrence into other). */
export function groupKernelTimes(byKernel: ReadonlyMap<string, KernelTime>, passes = 1, merge: Partial<Record<KernelGroup, KernelGroup>> = {}): Record<KernelGroup, number> {
  const sums: Record<KernelGroup, number> = { matMul: 0, recurrence: 0, gatherScatter: 0, other: 0 };
  for (const [name, e] of byKernel) {
    const g = kernelGroup(name);
    sums[merge[g] ?? g] += e.ms / passes;
  }
  return sums;
}

/** The `count` most expensive kernels (mean ms per pass). */
export function topKernels(byKernel: ReadonlyMap<string, KernelTime>, passes = 1, count = 8, digits = 2): { name: string; ms: number; calls: number }[] {
  const scale = 10 ** digits;
  return [...byKernel]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, count)
    .map(([name, e]) => ({ name, ms: Math.round((e.ms / passes) * scale) / scale, calls: Math.round(e.calls / passes) }));
}
