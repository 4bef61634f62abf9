/**
 * NC-GRU's orthogonal update alone (issue 15: "under 10% of the step at width 435"): OrthogonalUpdater.step
 * at width n (dL/dA, A's Adam step, the order-2 Neumann update, U written back), an exact-recompute step, and
 * the logged orthogonality error, beside the floor the update cannot go under with the same numbers: the 6
 * float64 products of n x n it runs (2 for dL/dA, 3 for the Neumann series, 1 for U).
 *
 *   npx tsx packages/experiments/bench/orthogonal-update.ts [--size 435] [--reps 20]
 *
 * Prints medians and minima in ms (the machine may be shared: compare minima, or interleave runs).
 */
import { tf, selectBackend, Rng, hostMatMul64, hostCayleyKernels } from "@rnnlab/core";
import { OrthogonalRecurrence, createNcGru } from "@rnnlab/cells";
import { OrthogonalUpdater, createVariables } from "@rnnlab/train";

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
  const n = option("--size", 435);
  const reps = option("--reps", 20);
  const backend = await selectBackend();
  console.log(`backend ${backend.label}; native Cayley kernels: ${hostCayleyKernels() ? "yes" : "no (JavaScript path)"}; n = ${n}, ${reps} repetitions`);
  const cell = createNcGru({ inputSize: 3, hiddenSize: n, negativeOnes: Math.min(50, n) });
  const tree = { layers: [cell.init(new Rng(1)) as unknown as Record<string, tf.Tensor>] };
  const set = createVariables(tree as never, { scope: "orthogonal-bench" });
  tf.dispose(tree as never);
  const updater = new OrthogonalUpdater(set.variables, { recomputeEvery: 1_000_000 }, { kind: "adam" });
  const path = Object.keys(set.variables).find((p) => updater.owns(p))!;
  const grad = tf.tensor2d(new Rng(2).fillNormal(new Float32Array(n * n)).map((v) => 1e-3 * v), [n, n]);
  const orth = OrthogonalRecurrence.create(n, Math.min(50, n), new Rng(3));
  const before = orth.aFloat32();
  const after = before.map((v, i) => v - 1e-4 * Math.sin(i));
  const x = new Rng(4).fillNormal(new Float32Array(n * n));
  const x64 = Float64Array.from(x);
  const times: Record<string, number[]> = { "update (OrthogonalUpdater.step)": [], "exact-recompute step (applyStep)": [], "orthogonality error": [], "6 dgemm (floor)": [] };
  const time = (key: string, f: () => unknown) => {
    const t0 = performance.now();
    f();
    times[key].push(performance.now() - t0);
  };
  for (let r = 0; r < reps; r++) {
    time("update (OrthogonalUpdater.step)", () => updater.step({ [path]: grad }, 7e-4));
    time("exact-recompute step (applyStep)", () => orth.applyStep(before, after, 2, true));
    time("orthogonality error", () => updater.orthogonalityError());
    time("6 dgemm (floor)", () => {
      for (let i = 0; i < 6; i++) if (!hostMatMul64(x64, x64, n, n, n)) throw new Error("6 dgemm: the native BLAS addon is not loaded");
    });
  }
  for (const [key, xs] of Object.entries(times)) console.log(`${key.padEnd(34)} median ${median(xs).toFixed(2)} ms, min ${Math.min(...xs).toFixed(2)} ms`);
  grad.dispose();
  updater.dispose();
  set.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
