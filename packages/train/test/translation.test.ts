import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf, Rng } from "@rnnlab/core";
import { GateTracer } from "@rnnlab/cells";
import { compressGateBlocks } from "@rnnlab/metrics";
import {
  trainTranslation,
  translate,
  evaluateTranslationBleu,
  evaluateTranslationLoss,
  traceTranslationGates,
  type ParallelIds,
  type TranslationTrainingResult,
} from "../src/translation";
import {
  resolveTranslationConfig,
  initTranslationParams,
  encodeSource,
  disposeEncodeResult,
  attend,
  padTranslationBatch,
  disposeTranslationTensors,
  scoreTranslations,
  translationLoss,
  translationCompressionMatrices,
  type TranslationModelConfig,
  type TokenIds,
} from "../src/seq2seq";
import { CheckpointManager, configHash } from "../src/checkpoint";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { flattenParams, type ParamTree } from "../src/params";

// Vocabulary: 0 pad, 1 BOS, 2 EOS, 3..V-1 symbols. The task: output the source reversed.
const V = 12;
const model: TranslationModelConfig = {
  sourceVocabularySize: V, targetVocabularySize: V, embeddingSize: 16, hiddenSize: 32, layers: 1,
  padToken: 0, beginToken: 1, endToken: 2,
};
const detokenize = (ids: TokenIds) => Array.from(ids, String).join(" ");

function reversalData(count: number, seed: number): ParallelIds {
  const rng = new Rng(seed);
  const source: number[][] = [];
  const target: number[][] = [];
  for (let i = 0; i < count; i++) {
    const s = Array.from({ length: 2 + rng.int(4) }, () => 3 + rng.int(V - 3));
    source.push(s);
    target.push([...s].reverse());
  }
  return { source, target };
}

const train = reversalData(200, 1);
const valid = reversalData(30, 2);
let trained: TranslationTrainingResult; // 15 epochs: near-perfect
let partial: TranslationTrainingResult; // 2 epochs: soft distributions, where search strategies differ

const base = { train, epochs: 15, batchSize: 20, optimizer: { kind: "adam" as const }, schedule: { kind: "constant" as const, learningRate: 0.01 }, seed: 3 };

before(async () => {
  await selectBackend();
  trained = await trainTranslation({ ...base, model });
  partial = await trainTranslation({ ...base, model, epochs: 2 });
});

test("a tiny attentional translator overfits the reversal task (greedy and beam BLEU high)", () => {
  const subset = { source: train.source.slice(0, 60), target: train.target.slice(0, 60) };
  const greedy = evaluateTranslationBleu(trained.config, trained.params, subset, detokenize);
  const beam = evaluateTranslationBleu(trained.config, trained.params, subset, detokenize, { beamSize: 4, lengthPenalty: { kind: "gnmt", alpha: 0.6 } });
  assert.ok(greedy.bleu.score > 85, `greedy BLEU ${greedy.bleu.score}`);
  assert.ok(beam.bleu.score > 85, `beam BLEU ${beam.bleu.score}`);
  // The untrained model is far from it: the test can fail.
  const fresh = initTranslationParams(trained.config, new Rng(9));
  const untrained = evaluateTranslationBleu(trained.config, fresh, subset, detokenize);
  tf.dispose(fresh as unknown as tf.TensorContainer);
  assert.ok(untrained.bleu.score < 20, `untrained BLEU ${untrained.bleu.score}`);
  assert.ok(trained.final.validLoss === undefined);
  assert.ok(trained.final.trainLoss < 0.3, `train loss ${trained.final.trainLoss}`);
});

test("beam search with beam 1 equals greedy decoding (tokens and log-probabilities)", () => {
  const sources = valid.source;
  const greedy = translate(partial.config, partial.params, sources, { maxLength: 12 });
  const beam1 = translate(partial.config, partial.params, sources, { search: "beam", beamSize: 1, maxLength: 12 });
  assert.deepEqual(beam1.map((h) => h.tokens), greedy.map((h) => h.tokens));
  beam1.forEach((h, i) => assert.ok(Math.abs(h.logProbability - greedy[i].logProbability) < 1e-4, `sentence ${i}: ${h.logProbability} vs ${greedy[i].logProbability}`));
  // The partially trained model is not trivially confident: greedy output is not already the reference.
  assert.ok(greedy.some((h, i) => detokenize(h.tokens) !== detokenize(valid.target[i])));
});

test("beam search finds hypotheses scoring at least greedy's, and its scores match teacher-forced rescoring", () => {
  const sources = valid.source;
  const greedy = translate(partial.config, partial.params, sources, { maxLength: 12 });
  const beam = translate(partial.config, partial.params, sources, { beamSize: 4, maxLength: 12 });
  let better = 0;
  beam.forEach((h, i) => {
    assert.ok(h.logProbability >= greedy[i].logProbability - 1e-4, `sentence ${i}: beam ${h.logProbability} < greedy ${greedy[i].logProbability}`);
    if (h.logProbability > greedy[i].logProbability + 1e-4) better++;
  });
  assert.ok(better > 0, "beam search never improved on greedy: is it searching at all?");
  const finished = beam.map((h, i) => ({ h, i })).filter((x) => x.h.finished);
  const rescored = scoreTranslations(partial.config, partial.params, finished.map((x) => sources[x.i]), finished.map((x) => x.h.tokens));
  finished.forEach((x, j) => assert.ok(Math.abs(rescored[j] - x.h.logProbability) < 1e-3, `sentence ${x.i}: rescored ${rescored[j]} vs beam ${x.h.logProbability}`));
});

test("attention weights sum to 1 over real source positions and are 0 on padding", () => {
  const config = partial.config;
  const sources = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 3]];
  const batch = padTranslationBatch(config, sources, sources);
  const encoded = encodeSource(config, partial.params, batch.source, batch.sourceLengths);
  const query = tf.randomNormal([3, config.hiddenSize], 0, 1, "float32", 5) as tf.Tensor2D;
  const { weights, context } = attend(encoded.memory, query);
  const w = weights.arraySync() as number[][];
  sources.forEach((s, b) => {
    const real = w[b].slice(0, s.length).reduce((a, x) => a + x, 0);
    assert.ok(Math.abs(real - 1) < 1e-5, `row ${b}: real weights sum to ${real}`);
    for (let p = s.length; p < 5; p++) assert.equal(w[b][p], 0, `row ${b} pad ${p} has weight ${w[b][p]}`);
    assert.ok(w[b].slice(0, s.length).every((x) => x > 0));
  });
  assert.deepEqual(context.shape, [3, config.hiddenSize]);
  tf.dispose([query, weights, context]);
  disposeEncodeResult(encoded);
  disposeTranslationTensors(batch);
});

test("padding does not change the loss of the real tokens", () => {
  const config = partial.config;
  const short = { source: [3, 4], target: [4, 3] };
  const long = { source: [5, 6, 7, 8, 9, 10], target: [10, 9, 8, 7, 6, 5, 4, 3] };
  const alone = scoreTranslations(config, partial.params, [short.source], [short.target]);
  const together = scoreTranslations(config, partial.params, [short.source, long.source], [short.target, long.target]);
  assert.ok(Math.abs(alone[0] - together[0]) < 1e-5, `alone ${alone[0]} vs padded ${together[0]}`);
  // Per-token mean loss of a batch = token-weighted mean of its sentences' losses (padding counts nowhere).
  const both = evaluateTranslationLoss(config, partial.params, { source: [short.source, long.source], target: [short.target, long.target] });
  const expected = -(together[0] + together[1]) / (short.target.length + 1 + long.target.length + 1);
  assert.ok(Math.abs(both.loss - expected) < 1e-5, `batch loss ${both.loss} vs ${expected}`);
  assert.equal(both.tokens, 3 + 9);
});

test("no tensor leaks across training steps, decoding and evaluation", async () => {
  const small = { source: train.source.slice(0, 40), target: train.target.slice(0, 40) };
  const start = tf.memory().numTensors;
  let midTraining: number[] = [];
  const run = await trainTranslation({
    ...base, train: small, epochs: 2, batchSize: 10, logEvery: 1,
    model: { ...model, dropout: { kind: "structured", rate: 0.2 }, gate: { kind: "gumbel", temperature: 0.9 } },
    onProgress: (e) => {
      if (e.kind === "step") midTraining.push(tf.memory().numTensors);
    },
  });
  // Same count after every step (the variables and the optimizer's slots exist from step 1 on).
  midTraining = midTraining.slice(1);
  assert.ok(midTraining.every((n) => n === midTraining[0]), `tensor counts during training: ${midTraining}`);
  const afterTraining = tf.memory().numTensors;
  translate(run.config, run.params, valid.source.slice(0, 5));
  translate(run.config, run.params, valid.source.slice(0, 3), { beamSize: 3 });
  evaluateTranslationLoss(run.config, run.params, valid);
  assert.equal(tf.memory().numTensors, afterTraining);
  run.variables.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test("gate variants and dropout kinds: deterministic per seed; the tracer records the decoder's first-layer gates", async () => {
  const small = { source: train.source.slice(0, 40), target: train.target.slice(0, 40) };
  for (const variant of [
    { gate: { kind: "gumbel" as const, temperature: 0.9 }, dropout: { kind: "structured" as const, rate: 0.3 } },
    { gate: { kind: "sharpened" as const, temperature: 0.9 }, dropout: { kind: "elementwise" as const, rate: 0.3 } },
    { gate: { kind: "sigmoid" as const }, dropout: { kind: "locked" as const, rate: 0.3 } },
  ]) {
    const options = { ...base, train: small, epochs: 1, batchSize: 10, model: { ...model, ...variant } };
    const a = await trainTranslation(options);
    const b = await trainTranslation(options);
    assert.equal(a.final.trainLoss, b.final.trainLoss, `${variant.gate.kind}/${variant.dropout.kind}: same seed, different loss`);
    assert.ok(Number.isFinite(a.final.trainLoss));
    const c = await trainTranslation({ ...options, seed: 4 });
    assert.notEqual(a.final.trainLoss, c.final.trainLoss, "another seed gave the same loss: is the rng used?");
    b.variables.dispose();
    c.variables.dispose();
    if (variant.gate.kind === "gumbel") {
      const tracer = new GateTracer({ bins: 20 });
      evaluateTranslationLoss(a.config, a.params, valid, { tracer });
      const i = tracer.histogram("decoder.layer0", "i");
      const f = tracer.histogram("decoder.layer0", "f");
      assert.ok(i && f && i.total > 0 && f.total > 0, `decoder.layer0 gates not traced; layers: ${tracer.layers()}`);
      assert.ok(tracer.layers().includes("encoder.layer0"), `layers: ${tracer.layers()}`);
    }
    a.variables.dispose();
  }
});

test("gate tracing counts exactly the real positions (no padding) of encoder and decoder", () => {
  const tracer = new GateTracer({ bins: 10 });
  const data = { source: valid.source.slice(0, 20), target: valid.target.slice(0, 20) };
  const counts = traceTranslationGates(partial.config, partial.params, data, tracer);
  const H = partial.config.hiddenSize;
  const decoderSteps = data.target.reduce((a, t) => a + t.length + 1, 0);
  const encoderSteps = data.source.reduce((a, s) => a + s.length, 0);
  assert.deepEqual(counts, { decoderSteps, encoderSteps });
  for (const gate of ["i", "f", "g", "o"]) {
    assert.equal(tracer.histogram("decoder.layer0", gate)!.total, decoderSteps * H, `decoder ${gate}`);
    assert.equal(tracer.histogram("encoder.layer0", gate)!.total, encoderSteps * H, `encoder ${gate}`);
  }
});

test("compression targets name real gate-structured matrices and change BLEU-relevant parameters only there", () => {
  const paths = translationCompressionMatrices(trained.config);
  assert.deepEqual(paths, ["encoder.0.recurrentKernel", "decoder.0.recurrentKernel", "decoder.0.contextKernel"]);
  const flat = flattenParams(trained.params as unknown as ParamTree);
  for (const p of paths) assert.deepEqual(flat[p].shape.slice(1), [4 * trained.config.hiddenSize], p);
  const { params: compressed, report } = compressGateBlocks(trained.params as unknown as ParamTree, { method: "round", parameter: 0.5, matrices: paths });
  assert.equal(report.matrices.length, 3);
  const flatCompressed = flattenParams(compressed);
  assert.notDeepEqual(flatCompressed["decoder.0.contextKernel"].arraySync(), flat["decoder.0.contextKernel"].arraySync());
  assert.deepEqual(flatCompressed["decoder.0.inputKernel"].arraySync(), flat["decoder.0.inputKernel"].arraySync());
  // Evaluation takes any parameter tree: the compressed copy decodes without touching the trained variables.
  const before = evaluateTranslationLoss(trained.config, trained.params, valid).loss;
  const after = evaluateTranslationLoss(trained.config, compressed as never, valid).loss;
  assert.notEqual(before, after);
  assert.equal(evaluateTranslationLoss(trained.config, trained.params, valid).loss, before);
  tf.dispose(compressed as unknown as tf.TensorContainer);
});

test("a run interrupted mid-epoch resumes from its checkpoint to exactly the uninterrupted result", async () => {
  const small = { source: train.source.slice(0, 40), target: train.target.slice(0, 40) };
  const options = { ...base, train: small, valid: valid, epochs: 3, batchSize: 10, model: { ...model, dropout: { kind: "elementwise" as const, rate: 0.2 } } };
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-translation-"));
  const hash = configHash(options.model);
  try {
    const full = await trainTranslation(options);
    // 4 batches per epoch; save every 3 steps, crash at step 7 (mid-epoch 2, last save at step 6).
    const checkpoints = new CheckpointManager({ directory, everySteps: 3, configHash: hash });
    await assert.rejects(
      trainTranslation({ ...options, checkpoints, logEvery: 1, onProgress: (e) => { if (e.kind === "step" && e.step === 7) throw new Error("simulated crash"); } }),
      /simulated crash/,
    );
    const resumed = await trainTranslation({ ...options, checkpoints });
    assert.equal(resumed.resumedFromStep, 6);
    assert.equal(resumed.steps, full.steps);
    assert.equal(resumed.final.trainLoss, full.final.trainLoss);
    assert.equal(resumed.final.validLoss, full.final.validLoss);
    assert.deepEqual(resumed.evaluations.map((e) => e.step), full.evaluations.map((e) => e.step));
    // A finished checkpoint: the trainer restores the parameters and returns without training.
    const again = await trainTranslation({ ...options, checkpoints });
    assert.equal(again.resumedFromStep, full.steps);
    assert.equal(evaluateTranslationLoss(again.config, again.params, valid).loss, full.final.validLoss);
    for (const r of [full, resumed, again]) r.variables.dispose();
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
});

test("2 layers, dot score, no input feeding: trains, and has no context kernel to compress", async () => {
  const small = { source: train.source.slice(0, 60), target: train.target.slice(0, 60) };
  const config = { ...model, layers: 2, attentionScore: "dot" as const, inputFeeding: false };
  const losses: number[] = [];
  const run = await trainTranslation({ ...base, train: small, epochs: 4, batchSize: 10, model: config, onProgress: (e) => void (e.kind === "epoch" && losses.push(e.metrics.trainLoss)) });
  assert.ok(losses[3] < losses[0] - 0.3, `epoch losses ${losses}`);
  const paths = Object.keys(flattenParams(run.params as unknown as ParamTree));
  assert.ok(!paths.includes("decoder.0.contextKernel") && !paths.includes("attention.scoreKernel"), paths.join(", "));
  assert.ok(paths.includes("decoder.1.recurrentKernel") && paths.includes("attention.combineKernel"));
  assert.deepEqual(translationCompressionMatrices(run.config), ["encoder.0.recurrentKernel", "encoder.1.recurrentKernel", "decoder.0.recurrentKernel", "decoder.1.recurrentKernel"]);
  assert.equal(translate(run.config, run.params, valid.source.slice(0, 4), { beamSize: 2 }).length, 4);
  run.variables.dispose();
});

test("neutral variants equal the plain model: sharpened τ = 1, Gumbel with p = 0 and τ = 1, dropout rate 0", () => {
  const batch = padTranslationBatch(trained.config, valid.source.slice(0, 8), valid.target.slice(0, 8));
  const plain = translationLoss(trained.config, trained.params, batch);
  const variants: Partial<TranslationModelConfig>[] = [
    { gate: { kind: "sharpened", temperature: 1 } },
    { gate: { kind: "gumbel", temperature: 1, noiseProbability: 0 } },
    { dropout: { kind: "structured", rate: 0 } },
    { dropout: { kind: "elementwise", rate: 0 } },
  ];
  for (const variant of variants) {
    const config = resolveTranslationConfig({ ...model, ...variant });
    const loss = translationLoss(config, trained.params, batch, { training: true, rng: new Rng(1) });
    assert.ok(Math.abs(loss.dataSync()[0] - plain.dataSync()[0]) < 1e-5, `${JSON.stringify(variant)}: ${loss.dataSync()[0]} vs ${plain.dataSync()[0]}`);
    loss.dispose();
  }
  // ...and a real variant differs (the comparison can fail).
  const g2 = translationLoss(resolveTranslationConfig({ ...model, gate: { kind: "gumbel", temperature: 0.9 } }), trained.params, batch, { training: true, rng: new Rng(1) });
  assert.ok(Math.abs(g2.dataSync()[0] - plain.dataSync()[0]) > 1e-4);
  tf.dispose([plain, g2]);
  disposeTranslationTensors(batch);
});

test("bad configuration names the offending option", () => {
  assert.throws(() => resolveTranslationConfig({ ...model, hidenSize: 3 } as never), /unknown option "hidenSize"/);
  assert.throws(() => resolveTranslationConfig({ ...model, endToken: 99 }), /"endToken"/);
  assert.throws(() => resolveTranslationConfig({ ...model, gate: { kind: "gumbel", temperature: 0 } }), /temperature/);
  assert.throws(() => translate(trained.config, trained.params, [[3]], { beamSize: 0 }), /beamSize/);
});
