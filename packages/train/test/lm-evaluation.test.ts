/**
 * The LM evaluation protocol (issue 17): a pass depends only on (parameters, tokens, layout); the state
 * diagnostic that exposed the "test above valid" anomaly; best-validation model selection.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import {
  trainLanguageModel, evaluateLanguageModel, orthogonalMatrix, selectedModelCheckpoints, batchifyTokens, CheckpointManager, LanguageModel, deserializeTensor, flattenParams,
  unflattenLike, type LanguageModelTrainConfig, type LanguageModelParams, type LanguageModelArchitecture, type CheckpointData,
} from "../src";
import { cyclicCorpus } from "./fixtures/corpus";

before(async () => {
  await selectBackend();
});

const V = 12;
const data = { train: cyclicCorpus(2000, V, 1), valid: cyclicCorpus(400, V, 2), test: cyclicCorpus(500, V, 3) };
const architecture: LanguageModelArchitecture = { vocabularySize: V, embeddingSize: 16, hiddenSize: 16, layers: 2, cell: { kind: "lstm" }, tieWeights: true };
const base: LanguageModelTrainConfig = {
  ...architecture, batchSize: 8, bptt: 10, epochs: 4, optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, clipNorm: 1, seed: 1,
};

function paramsFrom(model: LanguageModel, checkpoint: CheckpointData, prefix = "param/"): LanguageModelParams {
  const template = model.init(new Rng(0));
  const flat: Record<string, tf.Tensor> = {};
  for (const key of Object.keys(flattenParams(template as never))) flat[key] = deserializeTensor(checkpoint.tensors[`${prefix}${key}`]);
  tf.dispose(template as never);
  return unflattenLike(template as never, flat) as unknown as LanguageModelParams;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-lm-eval-"));
}

test("an evaluation pass depends only on its arguments: repeated, reordered (valid/test) and interleaved with training it gives the same numbers", () => {
  const model = new LanguageModel(architecture);
  const params = model.init(new Rng(3));
  const valid = batchifyTokens(data.valid, 4);
  const testStream = batchifyTokens(data.test, 4);
  const before = tf.memory().numTensors;
  const v1 = evaluateLanguageModel(model, params, valid, 10);
  const t1 = evaluateLanguageModel(model, params, testStream, 10);
  // A training-mode forward with dropout-free params and a carried state in between must not matter.
  tf.tidy(() => {
    const w = tf.tensor2d(Array.from(data.train.slice(0, 40)), [10, 4], "int32");
    model.forward(params, w, w, model.initialStates(4), { training: true, rng: new Rng(9) });
  });
  const t2 = evaluateLanguageModel(model, params, testStream, 10);
  const v2 = evaluateLanguageModel(model, params, valid, 10);
  assert.deepEqual(v2, v1);
  assert.deepEqual(t2, t1);
  assert.equal(tf.memory().numTensors, before, "an evaluation pass leaves no tensors");
  // The readable path gives the same pass (state carried across all windows).
  const readable = evaluateLanguageModel(new LanguageModel({ ...architecture, fastPath: "off" }), params, valid, 10);
  assert.ok(Math.abs(readable.loss - v1.loss) < 1e-5, `fast ${v1.loss} vs readable ${readable.loss}`);
  tf.dispose(params as never);
});

test("maxCarriedState exposes a cell state that integrates without bound (the regime behind issue 17's layout-dependent perplexities)", () => {
  // A healthy (freshly initialised) LSTM keeps |c| small whatever the column length.
  const model = new LanguageModel(architecture);
  const params = model.init(new Rng(3));
  const tokens = cyclicCorpus(1600, V, 4);
  const healthy = [2, 16].map((b) => evaluateLanguageModel(model, params, batchifyTokens(tokens, b), 10));
  for (const m of healthy) assert.ok(m.maxCarriedState < 5, `healthy max |state| ${m.maxCarriedState}`);
  assert.ok(Math.abs(healthy[0].loss - healthy[1].loss) < 0.01, `healthy layouts ${healthy[0].loss} vs ${healthy[1].loss}`);
  // All gates saturated open (i, f, o -> 1, g -> 1): c_t = c_{t-1} + 1, the regime measured in issue 17.
  const saturated: LanguageModelParams = { ...params, layers: params.layers.map((layer) => ({ ...layer, bias: tf.fill(layer.bias.shape, 30) })) };
  const drifting = [2, 16].map((b) => evaluateLanguageModel(model, saturated, batchifyTokens(tokens, b), 10));
  // Columns of 800 and 100 steps: |c| reaches the column length (less the last, target-less row).
  assert.ok(Math.abs(drifting[0].maxCarriedState - 799) < 1, `batch 2: ${drifting[0].maxCarriedState}`);
  assert.ok(Math.abs(drifting[1].maxCarriedState - 99) < 1, `batch 16: ${drifting[1].maxCarriedState}`);
  tf.dispose(saturated.layers.map((layer) => layer.bias));
  tf.dispose(params as never);
});

test("a trained model's evaluation does not depend on the evaluation batch layout, and the trainer's numbers reproduce from its checkpoint", async () => {
  const dir = tempDir();
  try {
    const checkpoints = new CheckpointManager({ directory: dir, everySteps: 0, configHash: "t" });
    const r = await trainLanguageModel({ ...base, evaluationBatchSize: 4 }, data, { checkpoints });
    const model = new LanguageModel(architecture);
    const ck = selectedModelCheckpoints(checkpoints).load()!;
    const params = paramsFrom(model, ck);
    const again = evaluateLanguageModel(model, params, batchifyTokens(data.valid, 4), base.bptt);
    assert.equal(again.loss, r.final.valid.loss, "a fresh pass over the saved parameters reproduces the trainer's valid loss");
    const layouts = [1, 4, 10].map((b) => evaluateLanguageModel(model, params, batchifyTokens(data.valid, b), base.bptt));
    for (const m of layouts) {
      assert.ok(Math.abs(m.loss - r.final.valid.loss) < 0.05, `valid loss at batch ${m.tokens}: ${m.loss} vs ${r.final.valid.loss}`);
      assert.ok(m.maxCarriedState < 20, `max |state| ${m.maxCarriedState}`);
    }
    tf.dispose(params as never);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("model selection: final reports the best validation evaluation (written as selected.rnnlab); `last` the final parameters", async () => {
  // Adam at 0.01, then x300 from epoch 3: the last epochs wreck the model, so the best evaluation is earlier.
  const config: LanguageModelTrainConfig = { ...base, epochs: 5, schedule: { kind: "step", learningRate: 0.01, factor: 300, every: 10, start: 3 } };
  const dir = tempDir();
  try {
    const checkpoints = new CheckpointManager({ directory: dir, everySteps: 7, configHash: "t" });
    const r = await trainLanguageModel(config, data, { checkpoints });
    const validLosses = r.evaluations.filter((e) => e.split === "valid").map((e) => e.loss);
    assert.equal(r.selection.rule, "best-valid");
    assert.equal(r.selection.parameters, "best");
    assert.ok(r.selection.step < r.steps, `selected step ${r.selection.step} of ${r.steps}`);
    assert.equal(r.final.valid.loss, Math.min(...validLosses));
    assert.ok(r.final.valid.loss < r.last.valid.loss);
    assert.equal(r.last.valid.loss, validLosses.at(-1));
    assert.ok(r.final.test && r.last.test && r.final.test.loss !== r.last.test.loss);
    // selected.rnnlab holds exactly the selected parameters.
    const model = new LanguageModel(architecture);
    const params = paramsFrom(model, selectedModelCheckpoints(checkpoints).load()!);
    assert.equal(evaluateLanguageModel(model, params, batchifyTokens(data.test, 8), base.bptt).loss, r.final.test!.loss);
    tf.dispose(params as never);
    // "last" reports the final parameters.
    const last = await trainLanguageModel({ ...config, modelSelection: "last" }, data);
    assert.equal(last.selection.parameters, "last");
    assert.equal(last.final.valid.loss, r.last.valid.loss);
    assert.equal(last.final.test!.loss, r.last.test!.loss);
    await assert.rejects(trainLanguageModel({ ...config, modelSelection: "best" as never }, data), /modelSelection/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("model selection survives a kill and resume: the best copy travels in the checkpoint", async () => {
  const config: LanguageModelTrainConfig = { ...base, epochs: 5, schedule: { kind: "step", learningRate: 0.01, factor: 300, every: 10, start: 3 } };
  const whole = await trainLanguageModel(config, data);
  const dir = tempDir();
  try {
    const checkpoints = new CheckpointManager({ directory: dir, everySteps: 0, configHash: "t" });
    // Kill after the 4th epoch's checkpoint (saved at each epoch end): throw from the progress callback.
    await assert.rejects(
      trainLanguageModel(config, data, { checkpoints, onProgress: (e) => { if (e.kind === "step" && e.epoch === 4) throw new Error("killed"); } }),
      /killed/,
    );
    const resumed = await trainLanguageModel(config, data, { checkpoints });
    assert.deepEqual(resumed.selection, whole.selection);
    assert.equal(resumed.final.valid.loss, whole.final.valid.loss);
    assert.equal(resumed.final.test!.loss, whole.final.test!.loss);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("inputInit orthogonal (the ATN code's W): LSTM input kernels with orthonormal rows or columns", () => {
  for (const [rows, cols] of [[16, 64], [64, 16]]) {
    const w = orthogonalMatrix(rows, cols, new Rng(1));
    const [n, m] = rows <= cols ? [rows, cols] : [cols, rows];
    const at = (i: number, k: number) => (rows <= cols ? w[i * cols + k] : w[k * cols + i]);
    let worst = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < m; k++) dot += at(i, k) * at(j, k);
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
    assert.ok(worst < 1e-6, `[${rows}, ${cols}]: max |W Wᵀ − I| ${worst}`);
  }
  const model = new LanguageModel({ ...architecture, inputInit: "orthogonal" });
  const params = model.init(new Rng(2));
  const kernel = params.layers[0].inputKernel as tf.Tensor2D; // [16, 64]
  const gram = tf.tidy(() => tf.matMul(kernel, kernel, false, true).sub(tf.eye(16)).abs().max().dataSync()[0]);
  assert.ok(gram < 1e-5, `layer 0: max |W Wᵀ − I| ${gram}`);
  tf.dispose(params as never);
  assert.throws(() => new LanguageModel({ ...architecture, cell: { kind: "gru" }, inputInit: "orthogonal" }), /LSTM cells only/);
});
