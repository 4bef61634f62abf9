/**
 * Issue 17: the literature evaluates LM test perplexity over the whole split at batch 1 (AWD-LSTM's
 * test_batch_size = 1; Zaremba et al. one test stream). The LM adapter now reports test at
 * `model.testBatchSize` (default 1) and keeps the trainer's batched value as `testPerplexityAtEvaluationBatch`.
 * Batch 1 and batch B differ in principle: B columns mean B − 1 more cold starts (zero state) and B − 1 more
 * places where context is cut. This test measures the gap on a small trained model and checks it against
 * that account: at most (B − 1) cold starts' worth of extra loss, spread over the split.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng, selectBackend } from "@rnnlab/core";
import { batchifyTokens, CheckpointManager, evaluateLanguageModel, selectedModelCheckpoints, trainLanguageModel, type LanguageModelTrainConfig } from "@rnnlab/train";
import { getExperiment, resolveExperimentConfig, type ArmContext } from "../src";
import { generatedLanguageModelCorpus } from "../src/generated-data";
import { languageModelFromCheckpoint } from "../src/adapters/lm-compression";

let dir: string;
before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-lm-test-batch-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("test perplexity at batch 1 vs batch B on a trained model: the gap is within B − 1 cold starts' loss and under 1%", async () => {
  // The generated corpus draws each split's bigram table afresh, so held-out text of the same "language" is
  // the tail of its training split: train on the first 16k tokens, evaluate on the last 4k.
  const generated = generatedLanguageModelCorpus({ level: "word", vocabularySize: 60, trainTokens: 20000 });
  const corpus = { vocabulary: generated.vocabulary, train: generated.train.slice(0, 16000), valid: generated.train.slice(16000, 17000), test: generated.train.slice(17000) };
  const config: LanguageModelTrainConfig = {
    vocabularySize: corpus.vocabulary.tokens.length, embeddingSize: 32, hiddenSize: 32, layers: 1, cell: { kind: "lstm" }, tieWeights: false,
    batchSize: 20, evaluationBatchSize: 10, bptt: 20, epochs: 4,
    optimizer: { kind: "adam", weightDecay: 0 }, schedule: { kind: "constant", learningRate: 0.01 }, clipNorm: 1, evaluateEverySteps: 0, seed: 3,
  };
  const checkpoints = new CheckpointManager({ directory: dir, everySteps: 0, configHash: "test-batch" });
  const r = await trainLanguageModel(config, { train: corpus.train, valid: corpus.valid, test: corpus.test }, { checkpoints });
  console.log(`# trained: valid ${r.final.valid.loss.toFixed(3)} test ${r.final.test?.loss.toFixed(3)} steps ${r.steps} last train ${r.trainLossCurve?.at(-1)?.value}`);
  const trained = languageModelFromCheckpoint(config, selectedModelCheckpoints(checkpoints).load()!);
  try {
    const at = (batch: number) => evaluateLanguageModel(trained.model, trained.params, batchifyTokens(corpus.test, batch), config.bptt);
    const one = at(1);
    // Trained: well below a uniform guess over the vocabulary.
    assert.ok(one.loss < Math.log(config.vocabularySize) - 1, `trained model's test loss ${one.loss}`);
    const gaps: string[] = [];
    for (const batch of [4, 10, 20]) {
      const b = at(batch);
      // The batched layout drops the split's last (N − 1) mod B tokens; compare on the tokens it covers.
      const stream = batchifyTokens(corpus.test, batch);
      const sameTokens = evaluateLanguageModel(trained.model, trained.params, batchifyTokens(corpus.test.slice(0, stream.rows * batch), 1), config.bptt);
      const gap = b.loss - sameTokens.loss;
      // Bound: B − 1 extra cold starts (zero state, no context), each costing at most about a uniform guess (ln V) over the tokens evaluated.
      const bound = ((batch - 1) * Math.log(config.vocabularySize)) / b.tokens + 1e-4;
      gaps.push(`B=${batch}: ppl ${b.perplexity.toFixed(3)} vs ${one.perplexity.toFixed(3)} at batch 1 (whole split), Δloss on the same tokens ${gap.toFixed(5)} (bound ${bound.toFixed(5)}, ${b.tokens} vs ${sameTokens.tokens} predictions)`);
      assert.ok(Math.abs(gap) <= bound, gaps.at(-1));
      assert.ok(Math.abs(b.perplexity / one.perplexity - 1) < 0.01, gaps.at(-1));
    }
    console.log(`# ${gaps.join("; ")}`);
  } finally {
    trained.dispose();
  }
});

test("the LM adapter reports test at batch 1 by default and keeps the batched value beside it", async () => {
  const { definition, config } = resolveExperimentConfig("g2lstm/ptb", "smoke");
  const runDir = fs.mkdtempSync(path.join(dir, "arm-"));
  const ctx: ArmContext<object> = { experimentId: definition.id, preset: "smoke", config: config as never, configHash: "t", arm: "baseline", seed: 0, rng: new Rng(0), runDir, resume: false, onProgress: () => {} };
  const outcome = await getExperiment("g2lstm/ptb").runArm(ctx as never);
  assert.equal(outcome.final.testBatchSize, 1);
  assert.ok(Number.isFinite(outcome.final.testPerplexityAtEvaluationBatch), "the trainer's batched test value is kept");
  // The compression table uses the same layout, so its uncompressed row equals testPerplexity.
  const table = outcome.extra?.compression as Record<string, number>;
  assert.ok(Math.abs(table.uncompressed - outcome.final.testPerplexity) < 1e-6 * outcome.final.testPerplexity, `${table.uncompressed} vs ${outcome.final.testPerplexity}`);
});
