/**
 * Best-validation model selection of the translation and tagging trainers (seq2seq-trainer.ts): the
 * learning rate jumps 30x after epoch 3, so validation gets worse and an earlier epoch is the best. The
 * trained variables must then hold that epoch's parameters, `final` its validation metrics and
 * `selection` its step; a run killed mid-way and resumed selects exactly the same.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend, Rng } from "@rnnlab/core";
import { trainTranslation, evaluateTranslationLoss, evaluateTranslationBleu, type ParallelIds } from "../src/translation";
import { trainTagger, evaluateTagger, type TaggedIds } from "../src/tagger";
import { CheckpointManager, configHash } from "../src/checkpoint";
import type { TokenIds } from "../src/seq2seq";

const V = 10;
function reversal(count: number, seed: number): ParallelIds {
  const rng = new Rng(seed);
  const source = Array.from({ length: count }, () => Array.from({ length: 2 + rng.int(3) }, () => 3 + rng.int(V - 3)));
  return { source, target: source.map((s) => [...s].reverse()) };
}
const train = reversal(40, 1);
const valid = reversal(12, 2);
const detokenize = (ids: TokenIds) => Array.from(ids, String).join(" ");
// lr 0.01 for epochs 0-2, 0.3 from epoch 3 on: Adam overshoots and validation gets worse.
const schedule = { kind: "step" as const, learningRate: 0.01, factor: 30, every: 3 };
const translation = {
  train, valid, epochs: 5, batchSize: 10, optimizer: { kind: "adam" as const }, schedule, seed: 3,
  model: { sourceVocabularySize: V, targetVocabularySize: V, embeddingSize: 8, hiddenSize: 16, layers: 1, padToken: 0, beginToken: 1, endToken: 2 },
};

before(async () => {
  await selectBackend();
});

/** The first evaluation with the best value of `metric`. */
function bestOf(evaluations: { step: number; metrics: Record<string, number> }[], metric: string, higherIsBetter: boolean) {
  return evaluations.reduce((best, e) => ((higherIsBetter ? e.metrics[metric] > best.metrics[metric] : e.metrics[metric] < best.metrics[metric]) ? e : best));
}

test("translation without BLEU selects on the validation loss; the variables hold the selected epoch's parameters", async () => {
  const run = await trainTranslation(translation);
  const best = bestOf(run.evaluations, "loss", false);
  const last = run.evaluations.at(-1)!;
  assert.ok(best.step < last.step, `the schedule should make an earlier epoch best: ${run.evaluations.map((e) => e.metrics.loss)}`);
  assert.deepEqual(
    { parameters: run.selection?.parameters, step: run.selection?.step, rule: run.selection?.rule, metric: run.selection?.metric },
    { parameters: "best", step: best.step, rule: "best-valid", metric: undefined },
  );
  assert.equal(run.selection?.validLoss, best.metrics.loss);
  assert.equal(run.final.validLoss, best.metrics.loss);
  assert.equal(evaluateTranslationLoss(run.config, run.params, valid).loss, best.metrics.loss);
  assert.notEqual(best.metrics.loss, last.metrics.loss);
  run.variables.dispose();

  const lastRule = await trainTranslation({ ...translation, modelSelection: "last" });
  assert.equal(lastRule.selection?.parameters, "last");
  assert.equal(lastRule.final.validLoss, last.metrics.loss);
  assert.equal(evaluateTranslationLoss(lastRule.config, lastRule.params, valid).loss, last.metrics.loss);
  lastRule.variables.dispose();
});

test("translation with detokenize selects on validation BLEU, and a resumed run selects the same", async () => {
  const options = { ...translation, detokenize };
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-selection-"));
  try {
    const full = await trainTranslation(options);
    const best = bestOf(full.evaluations, "bleu", true);
    assert.equal(full.selection?.metric, "bleu");
    assert.equal(full.selection?.value, best.metrics.bleu);
    assert.equal(full.selection?.step, best.step);
    assert.equal(full.final.validBleu, best.metrics.bleu);
    assert.equal(evaluateTranslationBleu(full.config, full.params, valid, detokenize).bleu.score, best.metrics.bleu);
    // Killed after step 13 (epoch 3 of 4 batches each), the last save at step 12 (after epoch 2's validation).
    const checkpoints = new CheckpointManager({ directory, everySteps: 4, configHash: configHash(options.model) });
    const crash = (e: { kind: string; step: number }) => {
      if (e.kind === "step" && e.step === 14) throw new Error("simulated crash");
    };
    await assert.rejects(trainTranslation({ ...options, checkpoints, logEvery: 1, onProgress: crash }), /simulated crash/);
    const resumed = await trainTranslation({ ...options, checkpoints });
    assert.equal(resumed.resumedFromStep, 12);
    assert.deepEqual(resumed.selection, full.selection);
    assert.deepEqual(resumed.final.validBleu, full.final.validBleu);
    assert.equal(evaluateTranslationLoss(resumed.config, resumed.params, valid).loss, evaluateTranslationLoss(full.config, full.params, valid).loss);
    assert.ok(fs.existsSync(path.join(directory, "selected.rnnlab")), "selected.rnnlab written beside the checkpoint");
    for (const r of [full, resumed]) r.variables.dispose();
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
});

test("the tagger selects on validation span F1", async () => {
  const rng = new Rng(4);
  const data = (n: number): TaggedIds => {
    const words = Array.from({ length: n }, () => Array.from({ length: 3 + rng.int(4) }, () => 1 + rng.int(8)));
    return { words, tags: words.map((w) => w.map((x, t) => (x > 4 ? 0 : t > 0 && w[t - 1] <= 4 ? 2 : 1))) };
  };
  const tagNames = ["O", "B-X", "I-X"];
  const validTags = data(30);
  const run = await trainTagger({
    model: { vocabularySize: 9, tagCount: 3, embeddingSize: 8, hiddenSize: 8, padToken: 0 }, train: data(60), valid: validTags, tagNames,
    epochs: 6, batchSize: 16, optimizer: { kind: "adam" }, schedule: { kind: "step", learningRate: 0.02, factor: 30, every: 4 }, seed: 1,
  });
  const best = bestOf(run.evaluations, "f1", true);
  assert.equal(run.selection?.metric, "f1");
  assert.equal(run.selection?.value, best.metrics.f1);
  assert.equal(run.selection?.step, best.step);
  assert.equal(run.selection?.parameters, best.step === run.steps ? "last" : "best");
  assert.equal(run.final.validF1, best.metrics.f1);
  assert.equal(run.final.validLoss, best.metrics.loss);
  assert.equal(evaluateTagger(run.config, run.params, validTags, tagNames).f1, best.metrics.f1);
  run.variables.dispose();
});
