import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { trainLanguageModel, Synthesizer, type LanguageModelTrainConfig } from "../src";
import { cyclicCorpus } from "./fixtures/corpus";

before(async () => {
  await selectBackend();
});

const V = 10;
const data = { train: cyclicCorpus(1200, V, 1), valid: cyclicCorpus(300, V, 2) };
const base: LanguageModelTrainConfig = {
  vocabularySize: V, embeddingSize: 8, hiddenSize: 8, layers: 2, cell: { kind: "lstm" }, tieWeights: false,
  dropout: { input: 0.1, hidden: 0.1 },
  batchSize: 4, bptt: 4, epochs: 2, maxStepsPerEpoch: 15, optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, clipNorm: 1, seed: 3,
};

test("DNI with a zero synthesizer (learning rate 0) equals plain truncated BPTT exactly", async () => {
  const plain = await trainLanguageModel(base, data);
  for (const synthesizer of ["linear"] as const) {
    const dni = await trainLanguageModel({ ...base, dni: { mode: "synthetic", synthesizer, learningRate: 0 } }, data);
    assert.deepEqual(dni.trainLossCurve, plain.trainLossCurve);
    assert.equal(dni.final.valid.loss, plain.final.valid.loss);
  }
  // And a synthesizer that learns does change training (the test can fail).
  const learning = await trainLanguageModel({ ...base, dni: { mode: "synthetic", learningRate: 0.05 } }, data);
  assert.notEqual(learning.final.valid.loss, plain.final.valid.loss);
});

test("the synthesizer's loss falls on a fixed sequence (linear and element-wise)", () => {
  for (const kind of ["linear", "elementwise"] as const) {
    const synth = new Synthesizer({ mode: "real", synthesizer: kind, learningRate: 0.01, elementwiseUnits: 8, noiseStd: 0 }, 6, new Rng(5));
    const s0 = tf.tensor2d([[0.5, -0.2, 0.1, 0.3, -0.4, 0.2], [0.1, 0.2, -0.3, 0.4, 0.0, -0.1]]);
    const target = tf.tensor2d([[0.05, -0.02, 0.01, 0.03, -0.04, 0.02], [0.0, 0.02, -0.03, 0.01, 0.02, -0.01]]);
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push(synth.train(s0, target));
    assert.ok(losses[59] < 0.5 * losses[0], `${kind}: ${losses[0]} -> ${losses[59]}`);
    tf.dispose([s0, target]);
    synth.dispose();
  }
});

test("inside the LM trainer (model frozen) the synthesizer learns the bootstrapped targets", async () => {
  // With the LM's learning rate at 0 the target distribution is fixed; while the LM learns, the true
  // gradients at s_0 grow and so does the synthesizer's loss (measured: 8e-3 -> 1.3e-1 over 80 steps).
  const r = await trainLanguageModel(
    { ...base, epochs: 1, maxStepsPerEpoch: 60, schedule: { kind: "constant", learningRate: 0 }, dni: { mode: "synthetic", learningRate: 0.01 } },
    { train: cyclicCorpus(2000, V, 4), valid: data.valid },
  );
  const c = r.synthesizerLossCurve!;
  const head = c.slice(0, 5).reduce((a, p) => a + p.value, 0) / 5;
  const tail = c.slice(-5).reduce((a, p) => a + p.value, 0) / 5;
  assert.ok(tail < 0.3 * head, `synthesizer loss ${head} -> ${tail}`);
});

test("alternating mode flips real/synthetic at every SGDR restart, starting real", async () => {
  const modes = new Map<number, string>();
  await trainLanguageModel(
    { ...base, epochs: 4, maxStepsPerEpoch: 2, schedule: { kind: "sgdr", learningRate: 0.01, period: 1, periodMultiplier: 2 }, dni: { mode: "alternating" } },
    data,
    { onProgress: (e) => { if (e.kind === "step") modes.set(e.epoch, e.gradientMode!); } },
  );
  // cycles [0,1) [1,3) [3,7): real, synthetic, real
  assert.deepEqual([0, 1, 2, 3].map((e) => modes.get(e)), ["real", "synthetic", "synthetic", "real"]);
});

test("the surrogate term injects exactly scale·M(s) as the gradient at s (and nothing into the synthesizer)", () => {
  const synth = new Synthesizer({ mode: "synthetic", learningRate: 0.1 }, 3, new Rng(1));
  // give the linear synthesizer non-zero weights with one training step
  const s0 = tf.tensor2d([[0.3, -0.1, 0.2]]);
  const target = tf.tensor2d([[1, 2, -1]]);
  synth.train(s0, target);
  const s = tf.tensor2d([[0.5, 0.25, -0.75], [0.1, 0.2, 0.3]]);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(synth.injected(x as tf.Tensor2D), x)))(s);
  const expected = tf.mul(synth.predict(s, false), 0.1);
  const a = Array.from(g.dataSync()), b = Array.from(expected.dataSync());
  assert.ok(b.some((v) => Math.abs(v) > 1e-3), "the synthesizer is non-zero");
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${v} vs ${b[i]}`));
  tf.dispose([s0, target, s, g, expected]);
  synth.dispose();
});
