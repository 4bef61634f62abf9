/**
 * Correctness of the webgpu backend against the cpu backend (and PyTorch's golden values), in one process:
 *   node --import tsx test/webgpu-check.ts        (RNNLAB_BACKEND defaults to webgpu here)
 * Run by test/webgpu.test.ts (through Mesa's software driver) and scripts/gpu-check.sh (on a GPU).
 *
 * Each check builds everything from plain JS arrays, once on the backend under test and once on cpu
 * (tf.setBackend switches the global engine; nothing crosses backends), reads results with `await data()`
 * only (synchronous reads throw on webgpu in Node), and compares the two within TOLERANCE:
 *   - the cells' golden cases (packages/cells/test/fixtures/golden.json, from make_golden.py): outputs, final
 *     states and every gradient, also against PyTorch's float64 values;
 *   - a few steps of a small LSTM language model (embedding, 2-layer LSTM, softmax cross-entropy, SGD,
 *     gradient clipping on the device): per-step loss and gradient norm, and the parameters after training;
 *   - a few steps of the synthetic-task trainer (trainSyntheticTask: copying with a GRU, denoise with an NC-GRU,
 *     whose orthogonal update runs on the host): losses, gradient norms and the evaluation.
 * Prints one JSON line ({"webgpuCheck": …}) and exits 1 when a comparison fails.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tf, selectBackend, describeBackend, Rng } from "@rnnlab/core";
import { createGru, createLstm, stackScan, bidirectionalScan, softmaxCrossEntropy, type Layer, type State, type NormalizationConfig } from "@rnnlab/cells";
import { Optimizer, clipByGlobalNormOnDevice, trainSyntheticTask } from "@rnnlab/train";

const TOLERANCE = Number(process.env.RNNLAB_WEBGPU_TOLERANCE ?? 1e-4);

interface Case {
  name: string;
  kind: "lstm" | "gru";
  layers: number;
  bidirectional: boolean;
  inputSize: number;
  hiddenSize: number;
  lengths: number[] | null;
  normalization?: NormalizationConfig;
  x: number[][][];
  initialState: Record<string, number[][][]>;
  layerParams: { params: Record<string, number[] | number[][]>; gradients: Record<string, number[] | number[][]> }[];
  output: number[][][];
  finalState: Record<string, number[][][]>;
  outputWeights: number[][][];
  finalWeights: Record<string, number[][][]>;
  loss: number;
  inputGradient: number[][][];
  initialStateGradient: Record<string, number[][][]>;
}

type Named = Record<string, Float32Array | Int32Array | number[]>;

/** Read every tensor with one wait on the device (a concat of the flattened values), then dispose them. */
async function readAll(tensors: Record<string, tf.Tensor>): Promise<Named> {
  const names = Object.keys(tensors);
  const flat = tf.tidy(() => tf.concat(names.map((k) => tf.reshape(tf.cast(tensors[k], "float32"), [-1]))));
  const values = await flat.data();
  flat.dispose();
  const out: Named = {};
  let at = 0;
  for (const k of names) {
    out[k] = values.slice(at, at + tensors[k].size) as Float32Array;
    at += tensors[k].size;
  }
  tf.dispose(Object.values(tensors));
  return out;
}

function flatten(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flatten) : [v as number];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

/** One golden case, forward and backward, returning outputs, final states and gradients by name. */
async function goldenCase(c: Case): Promise<Named> {
  const t = (v: unknown) => tf.tensor(v as number[]);
  const directions = c.bidirectional ? 2 : 1;
  const stateNames = c.kind === "lstm" ? ["h", "c"] : ["h"];
  const makeCell = (inputSize: number) =>
    c.kind === "lstm" ? createLstm({ inputSize, hiddenSize: c.hiddenSize, normalization: c.normalization }) : createGru({ inputSize, hiddenSize: c.hiddenSize });
  const x = tf.variable(t(c.x), true);
  const params = c.layerParams.map((lp) => Object.fromEntries(Object.entries(lp.params).map(([name, v]) => [name, tf.variable(t(v), true)])));
  const initial = Array.from({ length: c.layers * directions }, (_, k) => Object.fromEntries(stateNames.map((s) => [s, tf.variable(t(c.initialState[s][k]), true)])));
  const kept: Record<string, tf.Tensor> = {};
  const { value, grads } = tf.variableGrads(() => {
    let finalStates: State[];
    let output: tf.Tensor;
    const options = { lengths: c.lengths ?? undefined };
    if (c.bidirectional) {
      const forward: Layer = { cell: makeCell(c.inputSize), params: params[0] };
      const backward: Layer = { cell: makeCell(c.inputSize), params: params[1] };
      const out = bidirectionalScan(forward, backward, x as tf.Tensor3D, { forward: initial[0] as State, backward: initial[1] as State }, options);
      output = out.ys;
      finalStates = [out.state.forward, out.state.backward];
    } else {
      const layers: Layer[] = params.map((p, l) => ({ cell: makeCell(l === 0 ? c.inputSize : c.hiddenSize), params: p }));
      const states = layers.map((layer, l) => ({ ...layer.cell.initialState(c.x[0].length), ...initial[l] }) as State);
      const out = stackScan(layers, x as tf.Tensor3D, states, options);
      output = out.ys;
      finalStates = out.states;
    }
    kept.output = tf.keep(output);
    let loss = tf.sum(tf.mul(output, t(c.outputWeights))) as tf.Scalar;
    for (const s of stateNames) {
      const stacked = tf.stack(finalStates.map((st) => st[s])); // [slots, B, H]
      kept[`final ${s}`] = tf.keep(stacked);
      loss = tf.add(loss, tf.sum(tf.mul(stacked, t(c.finalWeights[s])))) as tf.Scalar;
    }
    return loss;
  });
  kept.loss = value;
  kept["dL/dx"] = grads[x.name];
  params.forEach((p, k) => Object.entries(p).forEach(([name, v]) => (kept[`layer ${k} dL/d${name}`] = grads[v.name])));
  initial.forEach((st, k) => stateNames.forEach((s) => (kept[`dL/d${s}0[${k}]`] = grads[st[s].name])));
  const out = await readAll(kept);
  tf.dispose([x, ...params.flatMap((p) => Object.values(p)), ...initial.flatMap((s) => Object.values(s))]);
  return out;
}

/** PyTorch's values for the same names as goldenCase returns. */
function goldenExpected(c: Case): Named {
  const stateNames = c.kind === "lstm" ? ["h", "c"] : ["h"];
  const e: Named = { output: flatten(c.output), loss: [c.loss], "dL/dx": flatten(c.inputGradient) };
  for (const s of stateNames) e[`final ${s}`] = flatten(c.finalState[s]);
  c.layerParams.forEach((lp, k) => Object.entries(lp.gradients).forEach(([name, g]) => (e[`layer ${k} dL/d${name}`] = flatten(g))));
  for (const s of stateNames) c.initialStateGradient[s].forEach((g, k) => (e[`dL/d${s}0[${k}]`] = flatten(g)));
  return e;
}

/** A small LSTM language model trained for a few steps; every step waits on the device once. */
async function lmSteps(steps: number): Promise<Named> {
  const vocab = 40, embed = 12, hidden = 16, batch = 4, bptt = 6;
  const rng = new Rng(7);
  const u = (shape: number[], scale: number) => tf.tensor(rng.fillUniform(new Float32Array(shape.reduce((a, b) => a * b)), -scale, scale), shape);
  const cells = [createLstm({ inputSize: embed, hiddenSize: hidden }), createLstm({ inputSize: hidden, hiddenSize: hidden })];
  const variables: Record<string, tf.Variable> = { embedding: tf.variable(u([vocab, embed], 0.1)), "head/kernel": tf.variable(u([hidden, vocab], 0.1)), "head/bias": tf.variable(tf.zeros([vocab])) };
  cells.forEach((cell, l) => {
    for (const [k, v] of Object.entries(cell.init(rng.fork(`layer${l}`)) as Record<string, tf.Tensor>)) {
      variables[`layer${l}/${k}`] = tf.variable(v);
      v.dispose();
    }
  });
  const tokens = Int32Array.from({ length: (bptt + 1) * batch * steps }, () => Math.floor(rng.uniformRange(0, vocab)));
  // SGD, not Adam: Adam divides by √v, so float noise in near-zero gradients becomes whole-step differences.
  const optimizer = new Optimizer({ kind: "sgd" }, variables);
  const curve: number[] = [];
  for (let s = 0; s < steps; s++) {
    const window = tokens.subarray(s * (bptt + 1) * batch, (s + 1) * (bptt + 1) * batch);
    const inputs = tf.tensor2d(window.subarray(0, bptt * batch), [bptt, batch], "int32");
    const targets = tf.tensor1d(window.subarray(batch, (bptt + 1) * batch), "int32");
    const { value, grads } = tf.variableGrads(() => {
      const x = tf.gather(variables.embedding, inputs); // [T, B, E]
      const layers: Layer[] = cells.map((cell, l) => ({
        cell,
        params: Object.fromEntries(Object.keys(variables).filter((k) => k.startsWith(`layer${l}/`)).map((k) => [k.slice(7), variables[k]])),
      }));
      const out = stackScan(layers, x as tf.Tensor3D, layers.map((layer) => layer.cell.initialState(batch) as State));
      const logits = tf.add(tf.matMul(tf.reshape(out.ys, [bptt * batch, hidden]), variables["head/kernel"]), variables["head/bias"]); // [T·B, V]
      return softmaxCrossEntropy(logits as tf.Tensor2D, targets);
    }, Object.values(variables));
    const named: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(variables)) named[k] = grads[v.name];
    const clipped = clipByGlobalNormOnDevice(named, 0.5);
    optimizer.step(clipped.grads, 1);
    const read = tf.stack([value, clipped.norm]);
    const [loss, norm] = await read.data(); // the step's one wait on the device
    curve.push(loss, norm);
    tf.dispose([read, value, clipped.norm, inputs, targets, ...Object.values(grads), ...Object.values(clipped.grads)]);
  }
  const out = await readAll(Object.fromEntries(Object.entries(variables).map(([k, v]) => [`param ${k}`, v.clone()])));
  out["loss, norm per step"] = curve;
  optimizer.dispose();
  tf.dispose(Object.values(variables));
  return out;
}

/** The synthetic-task trainer, a few steps: train losses, gradient norms and the final evaluation. */
async function syntheticSteps(steps: number, cell: "gru" | "nc-gru"): Promise<Named> {
  const r = await trainSyntheticTask({
    task: cell === "gru" ? { kind: "copying", delay: 4, dataSymbols: 4 } : { kind: "denoise", length: 10 },
    cell: cell === "gru" ? { kind: "gru" } : { kind: "nc-gru", recomputeEvery: 2, neumannOrder: 2 },
    hiddenSize: cell === "gru" ? 12 : 8, layers: 1, batchSize: 4, steps,
    optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, clipNorm: 1, seed: 5, evaluateEvery: steps, evaluationBatches: 1,
  });
  const final = r.evaluations.at(-1)!;
  return {
    "train loss": r.trainLossCurve.map((p) => p.value),
    "gradient norm": r.gradientNormCurve.map((p) => p.value),
    "evaluation loss, accuracy": [final.loss, final.accuracy ?? 0],
    ...(r.orthogonalityErrorCurve ? { "orthogonality error": r.orthogonalityErrorCurve.map((p) => p.value) } : {}),
  };
}

async function main() {
  const choice = await selectBackend(process.env.RNNLAB_BACKEND || "webgpu");
  const backend = choice.backend;
  const fixture = JSON.parse(readFileSync(join(__dirname, "../packages/cells/test/fixtures/golden.json"), "utf8")) as { script: string; cases: Case[] };
  const only = process.env.RNNLAB_WEBGPU_CASES?.split(",");
  const cases = fixture.cases.filter((c) => !only || only.includes(c.name));
  const lmStepCount = Number(process.env.RNNLAB_WEBGPU_STEPS ?? 3);

  // name → function; each runs once on the backend under test, then everything once on cpu
  const checks: [string, () => Promise<Named>][] = [
    ...cases.map((c) => [`golden ${c.name}`, () => goldenCase(c)] as [string, () => Promise<Named>]),
    [`lstm language model, ${lmStepCount} steps`, () => lmSteps(lmStepCount)],
    [`synthetic trainer (copying, gru), ${lmStepCount} steps`, () => syntheticSteps(lmStepCount, "gru")],
    [`synthetic trainer (denoise, nc-gru), ${lmStepCount} steps`, () => syntheticSteps(lmStepCount, "nc-gru")],
  ];
  const seconds: Record<string, Record<string, number>> = { [backend]: {}, cpu: {} };
  const results: Record<string, Record<string, Named>> = { [backend]: {}, cpu: {} };
  for (const b of [backend, "cpu"]) {
    if (b !== tf.getBackend()) await tf.setBackend(b);
    for (const [name, run] of checks) {
      const t0 = performance.now();
      results[b][name] = await run();
      seconds[b][name] = (performance.now() - t0) / 1000;
    }
  }
  const report: { name: string; vsCpu: number; vsTorch?: number; worst: string; seconds: number; cpuSeconds: number; ok: boolean }[] = [];
  for (const [name] of checks) {
    const got = results[backend][name], ref = results.cpu[name];
    let vsCpu = 0, worst = "";
    for (const k of Object.keys(ref)) {
      const d = maxAbsDiff(got[k] ?? [], ref[k]);
      if (d > vsCpu || !Number.isFinite(d)) [vsCpu, worst] = [d, k];
    }
    let vsTorch: number | undefined;
    const c = cases.find((x) => `golden ${x.name}` === name);
    if (c) {
      const expected = goldenExpected(c);
      vsTorch = Math.max(...Object.keys(expected).map((k) => maxAbsDiff(got[k] ?? [], expected[k])));
    }
    const ok = vsCpu <= TOLERANCE && (vsTorch === undefined || vsTorch <= TOLERANCE);
    report.push({ name, vsCpu, vsTorch, worst, seconds: seconds[backend][name], cpuSeconds: seconds.cpu[name], ok });
  }
  const summary = { backend: describeBackend(choice), adapter: choice.adapter ?? null, tolerance: TOLERANCE, checks: report, ok: report.every((r) => r.ok) };
  console.log(JSON.stringify({ webgpuCheck: summary }));
  if (!summary.ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exitCode = 2;
});
