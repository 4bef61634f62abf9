/**
 * Baseline for the benchmark: the stock `tf.layers` word LM (embedding → lstm × layers (stateful) →
 * dense(softmax)), sparse categorical cross-entropy, SGD, `model.trainOnBatch`, as in
 * docs/performance.md §1. Run as a child process of run.ts because on medium it needs ~4 GB of
 * wasm heap (the wasm32 ceiling) and the heap never shrinks.
 *
 *   node --import tsx packages/cells/bench/layers-lstm.ts --size small --steps 2 --kernels stock
 * --kernels stock   = tfjs-wasm's own kernels plus only the UnsortedSegmentSum shim (tf.gather has no
 *                     gradient without it), i.e. what a TF.js user gets;
 * --kernels patched = all of rnnlab's kernel fixes.
 * Prints one JSON line on stdout: { stepMs: number[], tokensPerSecond }.
 */
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { setWasmKernelFixes, WASM_KERNEL_FIXES } from "@rnnlab/core";
import { SIZES } from "./lm";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const choice = await selectBackend();
  const sizeName = arg("size", "small");
  const size = SIZES[sizeName];
  if (!size) throw new Error(`--size ${sizeName}: unknown size; use one of ${Object.keys(SIZES).join(", ")}.`);
  const steps = Number(arg("steps", "2"));
  const warmup = Number(arg("warmup", "1"));
  const kernels = arg("kernels", "stock");
  if (choice.backend === "wasm") setWasmKernelFixes(kernels === "stock" ? ["segsum"] : WASM_KERNEL_FIXES);
  const rng = new Rng(7);
  const { vocab, embedding, hidden, layers, batch, steps: T } = size;
  const model = tf.sequential();
  model.add(tf.layers.embedding({ inputDim: vocab, outputDim: embedding, batchInputShape: [batch, T], embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: rng.tfSeed() }) }));
  for (let l = 0; l < layers; l++)
    model.add(tf.layers.lstm({ units: hidden, returnSequences: true, stateful: true, recurrentActivation: "sigmoid", kernelInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: rng.tfSeed() }), recurrentInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: rng.tfSeed() }) }));
  model.add(tf.layers.dense({ units: vocab, activation: "softmax", kernelInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: rng.tfSeed() }) }));
  model.compile({ optimizer: tf.train.sgd(1), loss: "sparseCategoricalCrossentropy" });
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let s = 0; s < warmup + steps; s++) {
    const ids = Float32Array.from({ length: batch * (T + 1) }, () => rng.int(vocab));
    const x = tf.tensor2d(ids.subarray(0, batch * T), [batch, T]);
    const y = tf.tensor3d(ids.subarray(batch), [batch, T, 1]);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await model.trainOnBatch(x, y);
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    tf.dispose([x, y]);
    if (s >= warmup) {
      times.push(ms);
      cpuTimes.push((c.user + c.system) / 1000);
    }
    process.stderr.write(`layers-lstm ${sizeName} (${kernels} kernels) step ${s + 1}/${warmup + steps}: ${ms.toFixed(0)} ms${s < warmup ? " (warm-up)" : ""}\n`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const medianCpuMs = [...cpuTimes].sort((a, b) => a - b)[Math.floor(cpuTimes.length / 2)];
  process.stdout.write(JSON.stringify({ stepMs: times, medianStepMs: median, medianCpuMs, tokensPerSecond: (batch * T) / (median / 1000) }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
