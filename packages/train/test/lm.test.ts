import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend } from "@rnnlab/core";
import { trainLanguageModel, type LanguageModelTrainConfig } from "../src";
import { cyclicCorpus } from "./fixtures/corpus";

before(async () => {
  await selectBackend();
});

const V = 12;
const data = { train: cyclicCorpus(2000, V, 1), valid: cyclicCorpus(400, V, 2), test: cyclicCorpus(400, V, 3) };
const base: LanguageModelTrainConfig = {
  vocabularySize: V, embeddingSize: 16, hiddenSize: 16, layers: 2, cell: { kind: "lstm" }, tieWeights: true,
  dropout: { input: 0.1, hidden: 0.1, output: 0.1 },
  batchSize: 8, bptt: 10, epochs: 4, optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, clipNorm: 1, seed: 1,
};

test("a tiny LM overfits a generated corpus: perplexity falls well below the uniform baseline", async () => {
  const kinds: string[] = [];
  const r = await trainLanguageModel(base, data, { onProgress: (e) => kinds.push(e.kind) });
  // uniform baseline = V = 12; the corpus' entropy allows ~1.7
  assert.ok(r.final.valid.perplexity < 4, `valid perplexity ${r.final.valid.perplexity}`);
  assert.ok(r.final.test!.perplexity < 4);
  assert.ok(r.evaluations[0].perplexity > r.final.valid.perplexity);
  assert.equal(kinds.filter((k) => k === "epoch").length, 4);
  assert.equal(kinds.at(-1), "done");
  assert.equal(r.steps, kinds.filter((k) => k === "step").length);
});

test("same seed, same numbers; the readable path trains too (GRU, layer norm, G2 gates, structured dropout)", async () => {
  const short = { ...base, epochs: 1, maxStepsPerEpoch: 6 };
  const a = await trainLanguageModel(short, data);
  const b = await trainLanguageModel(short, data);
  assert.equal(a.final.valid.loss, b.final.valid.loss);
  for (const variant of [
    { cell: { kind: "gru" as const } },
    { cell: { kind: "lstm" as const, normalization: { kind: "layer" as const } } },
    { cell: { kind: "lstm" as const, gate: { kind: "gumbel" as const, temperature: 0.9 } }, dropout: { kind: "structured" as const, input: 0.2, output: 0.2 } },
    { cell: { kind: "lstm" as const, normalization: { kind: "assortedTime" as const, window: 3 } }, dropout: { weightDrop: 0.2, embedding: 0.1 } },
    { cell: { kind: "nc-gru" as const }, dropout: {} },
  ]) {
    const r = await trainLanguageModel({ ...short, ...variant, maxStepsPerEpoch: 4 }, data);
    assert.ok(Number.isFinite(r.final.valid.loss) && r.final.valid.loss < Math.log(V) + 0.5, `${JSON.stringify(variant)}: ${r.final.valid.loss}`);
  }
});

test("character-level runs report bits per character and gate histograms", async () => {
  const r = await trainLanguageModel({ ...base, epochs: 1, maxStepsPerEpoch: 5, characterLevel: true, gateHistograms: true, layers: 1 }, data);
  assert.ok(Math.abs(r.final.valid.bitsPerCharacter! - r.final.valid.loss / Math.LN2) < 1e-12);
  const h = r.gateHistograms as Record<string, unknown>;
  assert.ok(h && JSON.stringify(h).includes("layer0"), "gate histograms recorded for layer0");
});

test("no tensor leaks: the tensor count is constant over 50 training steps, and a run leaves nothing behind", async () => {
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  await trainLanguageModel({ ...base, epochs: 1, bptt: 3, maxStepsPerEpoch: 61, dni: { mode: "synthetic", synthesizer: "elementwise", elementwiseUnits: 4 } }, data, {
    onProgress: (e) => {
      if (e.kind === "step" && (e.step === 10 || e.step === 60)) counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(counts.length, 2);
  assert.equal(counts[1], counts[0], `tensors at step 10: ${counts[0]}, at step 60: ${counts[1]}`);
  assert.equal(tf.memory().numTensors, before, "tensors left after the run");
});

test("NT-ASGD switches to averaging and evaluates with the averaged weights", async () => {
  const r = await trainLanguageModel(
    { ...base, epochs: 5, maxStepsPerEpoch: 10, optimizer: { kind: "asgd" }, nonmono: 1, schedule: { kind: "constant", learningRate: 40 }, clipNorm: 0.25 },
    data,
  );
  assert.ok(r.averagingStartedAtStep > 0, "the non-monotone trigger fired");
  assert.ok(r.evaluations.some((e) => e.averaged));
});

test("bad configs name the option", async () => {
  await assert.rejects(trainLanguageModel({ ...base, bogus: 1 } as never, data), /config\.bogus/);
  await assert.rejects(trainLanguageModel({ ...base, dropout: { input: 1.5 } }, data), /dropout\.input/);
  await assert.rejects(trainLanguageModel({ ...base, dni: { mode: "alternating" } }, data), /sgdr/);
});

test("AR/TAR (AWD-LSTM) enter the objective in training only; the reported loss stays the cross-entropy", async () => {
  const short = { ...base, epochs: 1, maxStepsPerEpoch: 5 };
  const plain = await trainLanguageModel(short, data);
  const regularized = await trainLanguageModel({ ...short, activationRegularization: 2, temporalActivationRegularization: 1 }, data);
  const readable = await trainLanguageModel({ ...short, fastPath: "off", activationRegularization: 2, temporalActivationRegularization: 1 }, data);
  // the first step's reported loss is computed before any update: identical
  assert.equal(regularized.trainLossCurve[0].value, plain.trainLossCurve[0].value);
  assert.notEqual(regularized.final.valid.loss, plain.final.valid.loss);
  assert.ok(Math.abs(readable.final.valid.loss - regularized.final.valid.loss) < 1e-3, "fast and readable paths agree");
  await assert.rejects(trainLanguageModel({ ...short, activationRegularization: -1 }, data), /activationRegularization/);
});
