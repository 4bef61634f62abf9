/**
 * G2-LSTM's gate map helper and its figure/table builders: per-position gate means are exact, causal and
 * leak-free; the builders read what the smoke runs wrote and compute the table's changes from Original.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { LanguageModel, initTranslationParams, resolveTranslationConfig } from "@rnnlab/train";
import {
  exampleSentences,
  g2CompressionRows,
  g2CurveFigure,
  g2CompressionSweepRows,
  g2GateHistogramFigure,
  g2GateMapFigure,
  g2GateSaturationRows,
  languageModelGateMap,
  PositionGateMeans,
  runExperiment,
  translationGateMap,
  type ExperimentResult,
} from "../src";

let dir: string;
let ptb: ExperimentResult;
let translation: ExperimentResult;
before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-g2-"));
  ptb = await runExperiment("g2lstm/ptb", { preset: "smoke", resultsDir: dir });
  translation = await runExperiment("g2lstm/translation", { preset: "smoke", resultsDir: dir });
});

test("PositionGateMeans keeps the per-row mean of each recorded i/f tensor of its layer only", () => {
  const tracer = new PositionGateMeans("layer0");
  const values = tf.tensor2d([
    [0.1, 0.3],
    [0.5, 1.0],
  ]);
  tracer.record("layer0", "i", values);
  tracer.record("layer0", "o", values);
  tracer.record("layer1", "i", values);
  tracer.record("layer0", "i", tf.tensor2d([[0, 0.2], [1, 1]]));
  assert.deepEqual(
    tracer.series("i", 1).map((v) => Math.round(v * 1e6) / 1e6),
    [0.75, 1],
  );
  assert.equal(Math.round(tracer.series("i", 0)[0] * 1e6) / 1e6, 0.2);
  assert.deepEqual(tracer.series("f"), []);
  values.dispose();
});

test("exampleSentences splits at the end token and applies the length window", () => {
  const tokens = [1, 2, 0, 3, 4, 5, 6, 0, 7, 8, 9, 0, 5, 5];
  assert.deepEqual(exampleSentences(tokens, 0, 5, 4, 5), [[3, 4, 5, 6, 0], [7, 8, 9, 0]]);
  assert.deepEqual(exampleSentences(tokens, 0, 1, 4, 5), [[3, 4, 5, 6, 0]]);
  assert.deepEqual(exampleSentences([1, 2, 3, 4, 5], -1, 3, 1, 2), [[1, 2], [3, 4]]);
});

test("languageModelGateMap: one value per word, in (0, 1), causal (a prefix gives the same values), no leaks", () => {
  const model = new LanguageModel({ vocabularySize: 12, embeddingSize: 6, hiddenSize: 5, layers: 2, cell: { kind: "lstm" } as never });
  const params = model.init(new Rng(3));
  const vocabulary = Array.from({ length: 12 }, (_, i) => `w${i}`);
  const before = tf.memory().numTensors;
  const map = languageModelGateMap(model, params, [[1, 4, 7, 2, 9], [1, 4, 7]], vocabulary);
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
  assert.equal(map.layer, "layer0");
  assert.deepEqual(map.sentences[0].words, ["w1", "w4", "w7", "w2", "w9"]);
  assert.equal(map.sentences[0].input.length, 5);
  assert.equal(map.sentences[0].forget.length, 5);
  for (const v of [...map.sentences[0].input, ...map.sentences[0].forget]) assert.ok(v > 0 && v < 1, `gate mean ${v} in (0, 1)`);
  assert.deepEqual(map.sentences[1].input, map.sentences[0].input.slice(0, 3));
  assert.deepEqual(map.sentences[1].forget, map.sentences[0].forget.slice(0, 3));
  // Different words give different gates (the map is not a constant).
  assert.notDeepEqual(map.sentences[0].input.slice(1, 3), [map.sentences[0].input[0], map.sentences[0].input[0]]);
  assert.throws(() => languageModelGateMap(model, params, [[1, 2]], vocabulary, "layer9"), /layer9/);
  tf.dispose(params as never);
});

test("translationGateMap: one value per decoder input (start symbol + reference words), no leaks", () => {
  const config = resolveTranslationConfig({
    sourceVocabularySize: 10,
    targetVocabularySize: 9,
    embeddingSize: 4,
    hiddenSize: 6,
    layers: 1,
    padToken: 0,
    beginToken: 1,
    endToken: 2,
  });
  const params = initTranslationParams(config, new Rng(5));
  const vocabulary = ["<pad>", "<s>", "</s>", "a", "b", "c", "d", "e", "f"];
  const before = tf.memory().numTensors;
  const map = translationGateMap(config, params, [{ source: [3, 4, 5], target: [3, 6, 7, 8] }], vocabulary);
  assert.equal(tf.memory().numTensors, before, "no tensors leaked");
  assert.equal(map.layer, "decoder.layer0");
  assert.deepEqual(map.sentences[0].words, ["<s>", "a", "d", "e", "f"]);
  assert.equal(map.sentences[0].input.length, 5);
  assert.equal(map.sentences[0].forget.length, 5);
  tf.dispose(params as never);
});

test("the smoke runs record a gate map and the figures build from the result JSON", () => {
  for (const result of [ptb, translation]) {
    for (const arm of ["baseline", "sharpened", "g2"]) {
      const map = (result.arms[arm].runs["0"].extra as { gateMap?: { sentences: unknown[] } }).gateMap;
      assert.ok(map && map.sentences.length > 0, `${result.id} ${arm}: extra.gateMap has sentences`);
    }
    const histogram = g2GateHistogramFigure(result);
    assert.equal(histogram.data.length, 4, "baseline and G2, input and forget");
    assert.match(String(histogram.data[0].name), /<0\.1: [\d.]+%, >0\.9: [\d.]+%/);
    const gateMap = g2GateMapFigure(result);
    assert.equal(gateMap.data.length, (result.arms.g2.runs["0"].extra as { gateMap: { sentences: unknown[] } }).gateMap.sentences.length);
    assert.equal((gateMap.data[0].z as number[][]).length, 4, "rows: baseline i, f; G2 i, f");
    assert.equal(g2GateSaturationRows(result).length, 6);
  }
  const curve = g2CurveFigure(ptb, "validPerplexity");
  const reference = curve.data.find((d) => String(d.name).startsWith("uniform"))!;
  assert.deepEqual(reference.y, [60, 60], "the uniform baseline sits at the vocabulary size");
  assert.throws(() => g2CurveFigure(ptb, "noSuchCurve"), /noSuchCurve/);
});

test("the sensitivity table puts ours next to the paper's with changes from Original", () => {
  const rows = g2CompressionRows(ptb);
  assert.equal(rows.length, 6, "ours and the paper's, three arms");
  const g2 = ptb.arms.g2.runs["0"].final;
  const ours = rows.find((r) => r.arm === "G2-LSTM" && String(r.source).startsWith("ours"))!;
  assert.equal(ours.Original, g2.testPerplexity.toFixed(1));
  const roundKey = Object.keys(ours).find((k) => k.startsWith("Round ("))!;
  assert.equal(roundKey, "Round (r=0.1)");
  const delta = g2["testPerplexity_round0.1"] - g2.testPerplexity;
  assert.equal(ours[roundKey], `${g2["testPerplexity_round0.1"].toFixed(1)} (${delta >= 0 ? "+" : "−"}${Math.abs(delta).toFixed(1)})`);
  const paper = rows.find((r) => r.arm === "G2-LSTM" && String(r.source).startsWith("paper"))!;
  assert.equal(paper[roundKey], "52.20 (+0.10)");
  assert.equal(paper["SVD+ (rank 2)"], "56.00 (+3.90)");
  const paperBleu = g2CompressionRows(translation).find((r) => r.arm === "baseline LSTM" && String(r.source).startsWith("paper"))!;
  assert.equal(paperBleu.Original, "31.00");
  assert.throws(() => g2CompressionRows(ptb, 0.3), /0\.3 was not evaluated/);
  const sweep = g2CompressionSweepRows(ptb);
  const g2Svd = sweep.find((r) => r.arm === "G2-LSTM" && r.compression === "SVD rank 4")!;
  assert.equal(g2Svd.change, g2.testPerplexity_svdRank4 - g2.testPerplexity);
});

test("with several seeds the sensitivity and saturation tables average over them (change from Original per seed, mean ± std)", () => {
  const two = structuredClone(ptb);
  const run0 = two.arms.g2.runs["0"];
  const f0 = run0.final;
  two.arms.g2.runs["1"] = { ...structuredClone(run0), seed: 1, final: { ...f0, testPerplexity: f0.testPerplexity + 2, "testPerplexity_round0.1": f0["testPerplexity_round0.1"] + 4 } };
  const ours = g2CompressionRows(two).find((r) => r.arm === "G2-LSTM" && String(r.source).startsWith("ours"))!;
  assert.match(String(ours.source), /mean of 2 seeds/);
  assert.equal(ours.Original, `${(f0.testPerplexity + 1).toFixed(1)} ± ${Math.SQRT2.toFixed(1)}`);
  const d0 = f0["testPerplexity_round0.1"] - f0.testPerplexity; // seed 0's change; seed 1's is d0 + 2
  const d = d0 + 1;
  assert.equal(ours["Round (r=0.1)"], `${(f0["testPerplexity_round0.1"] + 2).toFixed(1)} (${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)} ± ${Math.SQRT2.toFixed(1)})`);
  const sweep = g2CompressionSweepRows(two).find((r) => r.arm === "G2-LSTM" && r.compression === "Round r=0.1")!;
  assert.ok(Math.abs((sweep.change as number) - d) < 1e-9);
  assert.equal(sweep.seeds, 2);
  const saturation = g2GateSaturationRows(two).find((r) => r.arm === "G2-LSTM" && r.gate === "input")!;
  assert.equal(saturation.seeds, 2);
});
