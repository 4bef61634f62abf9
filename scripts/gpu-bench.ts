/**
 * LSTM LM training speed on the webgpu backend, for scripts/gpu-check.sh: the model of `npm run bench:lstm`
 * (packages/cells/bench/lm.ts: embedding → 2×LSTM → linear → softmax cross-entropy, SGD, truncated BPTT,
 * no dropout, random tokens; Zaremba small/medium shapes), with each step waiting on the device once
 * (`await loss.data()`; that bench's own step reads synchronously, which webgpu cannot do in Node).
 *
 *   node --import tsx scripts/gpu-bench.ts [--sizes small,medium] [--seconds S] [--out file.json]
 *
 * Prints one JSON line {"gpuBench": {...}} (and writes it to --out): per size the median step time and
 * tokens/s over the steps that fit in S seconds (default 40) after 3 warm-up steps.
 */
import * as fs from "node:fs";
import { Rng, selectBackend, describeBackend, tf } from "@rnnlab/core";
import { denseProjection, lstmRecurrence, sequenceProjection, softmaxCrossEntropy } from "@rnnlab/cells";
import { SIZES, createLm, disposeLm, randomBatch, type LmModel } from "../packages/cells/bench/lm";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

/** One SGD step of the bench's model (its "none" dropout variant); one asynchronous read. */
async function step(m: LmModel, batch: { inputs: tf.Tensor1D; targets: tf.Tensor1D }, learningRate: number): Promise<number> {
  const { steps: T, batch: B } = m.size;
  const next: { h: tf.Tensor2D; c: tf.Tensor2D }[] = [];
  const { value, grads } = tf.variableGrads(() => {
    let x = tf.gather(m.embedding, batch.inputs) as tf.Tensor2D; // [T*B, E]
    for (let l = 0; l < m.layers.length; l++) {
      const p = m.layers[l];
      const projected = sequenceProjection(tf.reshape(x, [T, B, x.shape[1]]), p.inputKernel as tf.Tensor as tf.Tensor2D, p.bias as tf.Tensor as tf.Tensor1D); // [T, B, 4H]
      const r = lstmRecurrence(p.recurrentKernel as tf.Tensor as tf.Tensor2D, projected, m.state[l]);
      next.push({ h: tf.keep(r.state.h), c: tf.keep(r.state.c) });
      x = tf.reshape(r.ys, [T * B, m.size.hidden]); // [T*B, H]
    }
    const logits = denseProjection(x, m.outputKernel as tf.Tensor as tf.Tensor2D, m.outputBias as tf.Tensor as tf.Tensor1D); // [T*B, V]
    return softmaxCrossEntropy(logits, batch.targets);
  }, m.variables);
  tf.tidy(() => {
    for (const v of m.variables) v.assign(tf.sub(v, tf.mul(grads[v.name], learningRate)));
  });
  m.state.forEach((s) => tf.dispose([s.h, s.c]));
  m.state = next;
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return loss;
}

async function main() {
  const choice = await selectBackend();
  const sizes = arg("sizes", "small,medium").split(",");
  const budgetMs = Number(arg("seconds", "40")) * 1000;
  const rows: Record<string, unknown>[] = [];
  for (const name of sizes) {
    const size = SIZES[name];
    if (!size) throw new Error(`gpu-bench: unknown size "${name}" (${Object.keys(SIZES).join(", ")})`);
    const rng = new Rng(1);
    const m = createLm(size, rng);
    const times: number[] = [];
    let loss = NaN;
    const start = performance.now();
    for (let i = 0; ; i++) {
      const batch = randomBatch(size, rng);
      const t0 = performance.now();
      loss = await step(m, batch, 1);
      const ms = performance.now() - t0;
      tf.dispose([batch.inputs, batch.targets]);
      if (i >= 3) times.push(ms); // warm-up: shader compilation, buffer pools
      process.stderr.write(`gpu-bench ${name} step ${i + 1}: ${ms.toFixed(1)} ms, loss ${loss.toFixed(3)}\n`);
      if ((times.length >= 5 && performance.now() - start > budgetMs) || times.length >= 200) break;
    }
    disposeLm(m);
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    rows.push({ size: name, shape: size, steps: times.length, medianStepMs: Math.round(median * 10) / 10, tokensPerSecond: Math.round((size.steps * size.batch) / (median / 1000)), finalLoss: loss });
  }
  const out = { backend: describeBackend(choice), adapter: choice.adapter ?? null, rows };
  const line = JSON.stringify({ gpuBench: out });
  console.log(line);
  const file = arg("out", "");
  if (file) fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 1;
});
