/** Neutral variants equal the plain cell; gate functions; layer norm and assorted-time norm. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { createGru, createLstm, scan, controlGate, layerNorm, type Cell, type LstmParams } from "../src";
import { assertClose, assertEqualTensors } from "./helpers";

before(async () => {
  await selectBackend();
});

const T = 5, B = 3, I = 4, H = 6;
const xs = () => tf.tensor(new Rng(21).fillNormal(new Float32Array(T * B * I)), [T, B, I]) as tf.Tensor3D;

function outputs(cell: Cell<any, any, any>, params: any, training: boolean, seed = 1) {
  const r = scan(cell, params, xs(), cell.initialState(B), { training, rng: new Rng(seed) });
  return { ys: r.ys, c: r.state.c as tf.Tensor | undefined };
}

test("neutral variants equal the plain LSTM", () => {
  const plain = createLstm({ inputSize: I, hiddenSize: H });
  const params = plain.init(new Rng(2));
  const reference = outputs(plain, params, false);
  const same = (options: object, training: boolean, tolerance: number, what: string) => {
    const cell = createLstm({ inputSize: I, hiddenSize: H, ...options });
    const out = outputs(cell, params, training);
    if (tolerance === 0) assertEqualTensors(out.ys, reference.ys, what);
    else assertClose(out.ys, reference.ys, tolerance, what);
  };
  same({ gate: { kind: "sharpened", temperature: 1 } }, true, 0, "sharpened τ=1 (training)");
  same({ gate: { kind: "gumbel", temperature: 0.5 } }, false, 0, "Gumbel gate at evaluation");
  same({ gate: { kind: "gumbel", temperature: 1, noiseProbability: 0 } }, true, 0, "Gumbel with p=0, τ=1 in training");
  same({ recurrence: { kind: "weightDrop", rate: 0 } }, true, 0, "weight drop p=0 (training)");
  same({ recurrence: { kind: "weightDrop", rate: 0.5 } }, false, 0, "weight drop at evaluation");
  same({ inputDropout: { kind: "elementwise", rate: 0 } }, true, 0, "elementwise dropout p=0");
  same({ inputDropout: { kind: "locked", rate: 0 } }, true, 0, "locked dropout p=0");
  same({ inputDropout: { kind: "structured", rate: 0 } }, true, 1e-6, "structured dropout p=0");
  same({ inputDropout: { kind: "structured", rate: 0.5 } }, false, 0, "structured dropout at evaluation");
});

test("neutral variants equal the plain GRU", () => {
  const plain = createGru({ inputSize: I, hiddenSize: H });
  const params = plain.init(new Rng(3));
  const reference = outputs(plain, params, false).ys;
  for (const options of [{ recurrence: { kind: "weightDrop", rate: 0 } }, { inputDropout: { kind: "structured", rate: 0 } }] as const) {
    const cell = createGru({ inputSize: I, hiddenSize: H, ...options });
    assertClose(outputs(cell, params, true).ys, reference, 1e-6, JSON.stringify(options));
  }
});

test("active variants change the outputs (so the neutral checks can fail)", () => {
  const plain = createLstm({ inputSize: I, hiddenSize: H });
  const params = plain.init(new Rng(2));
  const reference = outputs(plain, params, false).ys;
  const cases: [object, boolean][] = [
    [{ gate: { kind: "sharpened", temperature: 0.5 } }, false],
    [{ gate: { kind: "gumbel", temperature: 1 } }, true],
    [{ gate: { kind: "gumbel", temperature: 1, evaluation: "hard" } }, false],
    [{ recurrence: { kind: "weightDrop", rate: 0.5 } }, true],
    [{ inputDropout: { kind: "structured", rate: 0.5 } }, true],
    [{ inputDropout: { kind: "locked", rate: 0.5 } }, true],
  ];
  for (const [options, training] of cases) {
    const cell = createLstm({ inputSize: I, hiddenSize: H, ...options });
    const out = outputs(cell, params, training).ys;
    assert.ok(tf.abs(tf.sub(out, reference)).max().dataSync()[0] > 1e-3, `${JSON.stringify(options)} (training=${training}) should change outputs`);
  }
});

test("gate functions: sharpened, Gumbel noise distribution, hard evaluation", () => {
  const n = 20000;
  const a = tf.zeros([n / 100, 100]) as tf.Tensor2D;
  // σ(logistic noise) is uniform on (0,1) up to the 1e-3 eps: mean 1/2, 10 % below 0.1.
  const noisy = controlGate({ kind: "gumbel", temperature: 1, noiseProbability: 1 }, a, true, new Rng(4)).dataSync() as Float32Array;
  const mean = noisy.reduce((s, v) => s + v, 0) / n;
  const below = noisy.filter((v) => v < 0.1).length / n;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(below - 0.1) < 0.01, `share below 0.1: ${below}`);
  // noise on ≈ p of the entries only
  const partial = controlGate({ kind: "gumbel", temperature: 1, noiseProbability: 0.2 }, a, true, new Rng(5)).dataSync() as Float32Array;
  const touched = partial.filter((v) => v !== 0.5).length / n;
  assert.ok(Math.abs(touched - 0.2) < 0.015, `share of entries with noise: ${touched}`);
  // sharpened: σ(a/τ)
  const x = tf.tensor2d([[-1, 0, 2]]);
  assertClose(controlGate({ kind: "sharpened", temperature: 0.5 }, x, false, undefined), tf.sigmoid(tf.mul(x, 2)), 1e-7, "sharpened");
  assert.deepEqual(Array.from(controlGate({ kind: "gumbel", temperature: 0.5, evaluation: "hard" }, x, false, undefined).dataSync()), [0, 1, 1]);
  assertClose(controlGate({ kind: "gumbel", temperature: 0.5 }, x, false, undefined), tf.sigmoid(x), 0, "Gumbel evaluation = σ(a)");
});

test("layer norm matches an independent two-pass reference", () => {
  const a = tf.tensor2d(new Rng(6).fillNormal(new Float32Array(3 * 8), 2, 3), [3, 8]);
  const gain = tf.tensor1d(new Rng(7).fillNormal(new Float32Array(8)));
  const bias = tf.tensor1d(new Rng(8).fillNormal(new Float32Array(8)));
  const v = a.arraySync() as number[][];
  const g = gain.arraySync() as number[], b = bias.arraySync() as number[];
  const expected = v.map((row) => {
    const mu = row.reduce((s, x) => s + x, 0) / row.length;
    const variance = row.reduce((s, x) => s + (x - mu) ** 2, 0) / row.length;
    return row.map((x, j) => (g[j] * (x - mu)) / Math.sqrt(variance + 1e-5) + b[j]);
  });
  assertClose(layerNorm(a, gain, bias), tf.tensor2d(expected), 1e-5, "layer norm");
});

function withNormParams(params: LstmParams, rng: Rng): LstmParams {
  // non-trivial gains and biases so every norm site matters
  const r = (n: number, m: number) => tf.tensor1d(rng.fillNormal(new Float32Array(n), m, 0.3));
  return { ...params, inputNormGain: r(4 * H, 1), inputNormBias: r(4 * H, 0), recurrentNormGain: r(4 * H, 1), recurrentNormBias: r(4 * H, 0), cellNormGain: r(H, 1), cellNormBias: r(H, 0) };
}

test("ATN with window 1 equals layer norm exactly", () => {
  const ln = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "layer" } });
  const atn = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 1 } });
  const params = withNormParams(ln.init(new Rng(9)), new Rng(10));
  assertEqualTensors(outputs(atn, params, false).ys, outputs(ln, params, false).ys, "ATN k=1 vs LN");
  assertEqualTensors(outputs(atn, params, false).c!, outputs(ln, params, false).c!, "ATN k=1 vs LN (c)");
});

/**
 * Independent ATN reference (docs/papers/atn.md / the authors' code): keep every past pre-activation per norm
 * site in a JS array, and normalise with two-pass moments over the stacked [n, B, F] window.
 */
function referenceAtnLstm(params: LstmParams, x: tf.Tensor3D, k: number): tf.Tensor {
  const history: Record<string, tf.Tensor2D[]> = { h: [], x: [], c: [] };
  const norm = (site: string, a: tf.Tensor2D, gain: tf.Tensor, bias: tf.Tensor) => {
    history[site].push(a);
    const window = tf.stack(history[site].slice(-k)); // [n, B, F]
    const { mean, variance } = tf.moments(window, [0, 2], true); // [1, B, 1]
    return tf.add(tf.mul(tf.div(tf.sub(a, tf.squeeze(mean, [0])), tf.sqrt(tf.add(tf.squeeze(variance, [0]), 1e-5))), gain), bias);
  };
  let h = tf.zeros([B, H]) as tf.Tensor2D, c = tf.zeros([B, H]) as tf.Tensor2D;
  const ys: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const xt = tf.squeeze(tf.slice(x, [t, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
    const pre = tf.add(tf.add(norm("h", tf.matMul(h, params.recurrentKernel), params.recurrentNormGain!, params.recurrentNormBias!), norm("x", tf.matMul(xt, params.inputKernel), params.inputNormGain!, params.inputNormBias!)), params.bias) as tf.Tensor2D;
    const [ai, af, ag, ao] = tf.split(pre, 4, 1);
    c = tf.add(tf.mul(tf.sigmoid(af), c), tf.mul(tf.sigmoid(ai), tf.tanh(ag))) as tf.Tensor2D;
    h = tf.mul(tf.sigmoid(ao), tf.tanh(norm("c", c, params.cellNormGain!, params.cellNormBias!))) as tf.Tensor2D;
    ys.push(h);
  }
  return tf.stack(ys);
}

test("ATN (window 3) matches the windowed two-pass reference, values and gradients (gradients flow into the window)", () => {
  const k = 3;
  const cell = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: k } });
  const base = withNormParams(cell.init(new Rng(11)), new Rng(12));
  const params = Object.fromEntries(Object.entries(base).map(([name, v]) => [name, tf.variable(v as tf.Tensor, true, `atn.${name}`)])) as unknown as LstmParams;
  const x = xs();
  const weights = tf.tensor(new Rng(13).fillNormal(new Float32Array(T * B * H)), [T, B, H]);
  const ours = tf.variableGrads(() => tf.sum(tf.mul(scan(cell, params, x, cell.initialState(B)).ys, weights)));
  const reference = tf.variableGrads(() => tf.sum(tf.mul(referenceAtnLstm(params, x, k), weights)));
  assert.ok(Math.abs(ours.value.dataSync()[0] - reference.value.dataSync()[0]) < 1e-4, "loss");
  assertClose(scan(cell, params, x, cell.initialState(B)).ys, referenceAtnLstm(params, x, k), 1e-5, "ATN outputs");
  for (const name of Object.keys(ours.grads)) assertClose(ours.grads[name], reference.grads[name], 2e-4, `ATN dL/d${name}`);
  // and ATN with k=3 is not LN: the check above can fail
  const ln = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "layer" } });
  assert.ok(tf.abs(tf.sub(scan(ln, params, x, ln.initialState(B)).ys, referenceAtnLstm(params, x, k))).max().dataSync()[0] > 1e-3);
  tf.dispose(Object.values(params) as tf.Tensor[]);
});

test("ATN window resets per sequence: two scans from the initial state give identical results", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 4 } });
  const params = withNormParams(cell.init(new Rng(14)), new Rng(15));
  const first = scan(cell, params, xs(), cell.initialState(B));
  const second = scan(cell, params, xs(), cell.initialState(B));
  assertEqualTensors(first.ys, second.ys, "repeat");
  assert.deepEqual(Array.from(first.state.atnCount.dataSync()), [T, T, T]);
  assert.deepEqual(first.state.atnRecurrentSum.shape, [B, 3]);
});

test("weight drop: one DropConnect mask on the recurrent kernel per sequence (training only), rate and scale", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: 40, recurrence: { kind: "weightDrop", rate: 0.5 } });
  const params = cell.init(new Rng(16));
  const context = { training: true, rng: new Rng(17), steps: T, batchSize: B, layerName: "layer0" };
  const dropped = cell.prepare(params, context).recurrentKernel.dataSync();
  const original = params.recurrentKernel.dataSync();
  let zeros = 0;
  for (let k = 0; k < original.length; k++) {
    if (dropped[k] === 0) zeros++;
    else assert.ok(Math.abs(dropped[k] - 2 * original[k]) < 1e-6);
  }
  assert.ok(Math.abs(zeros / original.length - 0.5) < 0.03, `dropped share ${zeros / original.length}`);
  assert.equal(cell.prepare(params, { ...context, training: false }).recurrentKernel, params.recurrentKernel);
});

test("scan works under tf.grads with plain tensors as parameters", () => {
  const cell = createGru({ inputSize: I, hiddenSize: H });
  const params = cell.init(new Rng(18));
  const x = xs();
  const f = (kernel: tf.Tensor) => tf.sum(scan(cell, { ...params, recurrentKernel: kernel as tf.Tensor2D }, x, cell.initialState(B)).ys);
  const [grad] = tf.grads((kernel: tf.Tensor) => f(kernel))([params.recurrentKernel]);
  // central difference on one entry
  const eps = 1e-2;
  const bump = (sign: number) => {
    const data = params.recurrentKernel.arraySync() as number[][];
    data[1][2] += sign * eps;
    return f(tf.tensor2d(data)).dataSync()[0];
  };
  const numeric = (bump(1) - bump(-1)) / (2 * eps);
  const analytic = (grad.arraySync() as number[][])[1][2];
  assert.ok(Math.abs(numeric - analytic) < 2e-3 * Math.max(1, Math.abs(numeric)), `${analytic} vs ${numeric}`);
});

test("LSTM inputInit orthogonal: W [I, 4H] has orthonormal rows, seeded; biases and U follow forgetBias / recurrentInit; bad value named", () => {
  const I = 5;
  const H = 6;
  const cell = createLstm({ inputSize: I, hiddenSize: H, inputInit: "orthogonal", recurrentInit: "identity", forgetBias: 0 });
  const p = cell.init(new Rng(3)) as LstmParams;
  const again = cell.init(new Rng(3)) as LstmParams;
  const w = p.inputKernel.arraySync() as number[][];
  for (let i = 0; i < I; i++) {
    for (let j = 0; j < I; j++) {
      const dot = w[i].reduce((acc, x, k) => acc + x * w[j][k], 0);
      assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-5, `row ${i}·row ${j} = ${dot}`);
    }
  }
  assertEqualTensors(p.inputKernel, again.inputKernel, "same seed, same W");
  assert.deepEqual(Array.from(p.bias.dataSync()), new Array(4 * H).fill(0));
  const other = createLstm({ inputSize: I, hiddenSize: H, inputInit: "orthogonal" }).init(new Rng(4)) as LstmParams;
  assert.ok(Math.abs((other.inputKernel.dataSync()[0] ?? 0) - (p.inputKernel.dataSync()[0] ?? 0)) > 0, "another seed draws another W");
  for (const params of [p, again, other]) for (const t of Object.values(params)) (t as tf.Tensor).dispose();
  assert.throws(() => createLstm({ inputSize: I, hiddenSize: H, inputInit: "normal" as "uniform" }), /option "inputInit" must be "uniform" or "orthogonal", got "normal"/);
});
