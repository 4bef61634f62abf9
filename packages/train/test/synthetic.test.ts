import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tf, selectBackend } from "@rnnlab/core";
import { trainSyntheticTask, CheckpointManager, configHash, type SyntheticTrainConfig } from "../src";

before(async () => {
  await selectBackend();
});

test("adding (T = 10): the trained LSTM beats the predict-1 baseline (MSE 1/6) by far", async () => {
  const r = await trainSyntheticTask({
    task: { kind: "adding", length: 10 }, cell: { kind: "lstm" }, hiddenSize: 16, batchSize: 16, steps: 250,
    optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, seed: 1, evaluateEvery: 125,
  });
  assert.equal(r.lossKind, "mse");
  assert.ok(Math.abs(r.baseline - 1 / 6) < 1e-12);
  assert.ok(r.final.loss < 0.5 * r.baseline, `final MSE ${r.final.loss} vs baseline ${r.baseline}`);
});

test("parenthesis (3 x 6-way CE): a GRU beats the constant-marginal baseline", async () => {
  const r = await trainSyntheticTask({
    task: { kind: "parenthesis", length: 20 }, cell: { kind: "gru" }, hiddenSize: 16, batchSize: 16, steps: 100,
    optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, seed: 2, evaluateEvery: 100,
  });
  assert.ok(r.final.loss < 0.75 * r.baseline, `final CE ${r.final.loss} vs baseline ${r.baseline}`);
  assert.ok(r.final.accuracy! > 0.5);
});

const ncgru: SyntheticTrainConfig = {
  task: { kind: "denoise", length: 10 }, cell: { kind: "nc-gru", recomputeEvery: 7, neumannOrder: 1 }, hiddenSize: 12, batchSize: 8, steps: 20,
  optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, seed: 3, evaluateEvery: 10, evaluationBatches: 1,
};

test("NC-GRU: orthogonality error is logged with the gradient norm, drifts, and resets at each exact recompute", async () => {
  const errors: number[] = [];
  const counts: number[] = [];
  const r = await trainSyntheticTask(ncgru, {
    onProgress: (e) => {
      if (e.kind !== "step") return;
      assert.ok(Number.isFinite(e.metrics.gradientNorm));
      errors.push(e.metrics.orthogonalityError);
      if (e.step === 5 || e.step === 19) counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(errors.length, 20);
  // steps 7 and 14 recompute exactly: the error there is far below the drifted value just before.
  assert.ok(errors[6] < 0.1 * errors[5], `${errors[5]} -> ${errors[6]}`);
  assert.ok(errors[13] < 0.1 * errors[12], `${errors[12]} -> ${errors[13]}`);
  assert.ok(Math.max(...errors) < 0.1 && errors[6] < 1e-10, `max drift ${Math.max(...errors)}, after recompute ${errors[6]}`);
  assert.equal(counts[0], counts[1], "no tensor leak over steps");
  assert.ok(Number.isFinite(r.final.loss));
});

test("synthetic trainer: an interrupted run resumes from its checkpoint to the same final numbers", async () => {
  const straight = await trainSyntheticTask(ncgru);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-syn-"));
  const checkpoints = new CheckpointManager({ directory: dir, everySteps: 5, configHash: configHash(ncgru) });
  await assert.rejects(
    trainSyntheticTask(ncgru, { checkpoints, onProgress: (e) => { if (e.kind === "step" && e.step === 13) throw new Error("interrupt"); } }),
    /interrupt/,
  );
  let first = 0;
  const resumed = await trainSyntheticTask(ncgru, { checkpoints, onProgress: (e) => { if (e.kind === "step" && !first) first = e.step; } });
  assert.equal(first, 11, "continued after the step-10 checkpoint");
  assert.equal(resumed.final.loss, straight.final.loss);
  assert.deepEqual(resumed.trainLossCurve, straight.trainLossCurve);
  // A different trainer config behind the same manager is refused, not silently restarted.
  await assert.rejects(trainSyntheticTask({ ...ncgru, steps: 25 }, { checkpoints }), /different trainer config/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("bad synthetic configs name the option", async () => {
  await assert.rejects(trainSyntheticTask({ ...ncgru, task: { kind: "sorting" } } as never), /task\.kind/);
  await assert.rejects(trainSyntheticTask({ ...ncgru, steps: 0 }), /config\.steps/);
});
