/** scoRNN trained through the same OrthogonalUpdater as NC-GRU's U_c: U owned by the updater, stays orthogonal, learns. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { createScoRnn } from "@rnnlab/cells";
import { OrthogonalUpdater, createVariables, trainSyntheticTask, type NamedTensors, type SyntheticTrainConfig } from "../src";

before(async () => {
  await selectBackend();
});

test("the updater owns scoRNN's U (not W, not b), adopts the cell's matrix, moves it and keeps it orthogonal", () => {
  const cell = createScoRnn({ inputSize: 3, hiddenSize: 6, negativeOnes: 2 });
  const tree = { layers: [cell.init(new Rng(61)) as unknown as Record<string, tf.Tensor>] };
  const initialU = Float32Array.from(tree.layers[0].orthogonalRecurrentKernel.dataSync());
  const set = createVariables(tree as never, { scope: "scornn-updater-test" });
  tf.dispose(tree as never);
  const updater = new OrthogonalUpdater(set.variables, { negativeOnes: 2, recomputeEvery: 4, neumannOrder: 2 }, { kind: "adam" });
  const paths = Object.keys(set.variables);
  const owned = paths.filter((p) => updater.owns(p));
  assert.deepEqual(owned, ["layers.0.orthogonalRecurrentKernel"]);
  const variable = set.variables[owned[0]];
  assert.ok(Math.max(...Array.from(variable.dataSync(), (v, i) => Math.abs(v - initialU[i]))) < 1e-6, "adopted the cell's U");
  const rng = new Rng(62);
  const errors: number[] = [];
  for (let s = 0; s < 6; s++) {
    const grads: NamedTensors = { [owned[0]]: tf.tensor2d(rng.fillNormal(new Float32Array(36)), [6, 6]) };
    updater.step(grads, 0.02);
    tf.dispose(Object.values(grads));
    errors.push(updater.orthogonalityError());
  }
  const moved = Math.max(...Array.from(variable.dataSync(), (v, i) => Math.abs(v - initialU[i])));
  assert.ok(moved > 1e-2, `U moved (${moved})`);
  assert.ok(errors[3] < 1e-10, `exact after the step-4 recompute: ${errors[3]}`);
  assert.ok(Math.max(...errors) < 1e-3, `Neumann drift stays small: ${errors.join(", ")}`);
  const error = tf.tidy(() => tf.norm(tf.sub(tf.matMul(variable, variable, true, false), tf.eye(6))).dataSync()[0]);
  assert.ok(error < 1e-3, `the float32 variable is orthogonal: ‖UᵀU − I‖ = ${error}`);
  updater.dispose();
  set.dispose();
});

test("trainer with scoRNN (parenthesis): orthogonality error small throughout and reset at each recompute, loss falls, no leak", async () => {
  const config: SyntheticTrainConfig = {
    task: { kind: "parenthesis", length: 12 }, cell: { kind: "scornn", negativeOnes: 4, recomputeEvery: 5, neumannOrder: 2 }, hiddenSize: 10, batchSize: 8, steps: 30,
    optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, seed: 7, evaluateEvery: 30, evaluationBatches: 1,
  };
  const errors: number[] = [];
  const losses: number[] = [];
  const counts: number[] = [];
  const r = await trainSyntheticTask(config, {
    onProgress: (e) => {
      if (e.kind !== "step") return;
      errors.push(e.metrics.orthogonalityError);
      losses.push(e.metrics.loss);
      if (e.step === 6 || e.step === 26) counts.push(tf.memory().numTensors);
    },
  });
  assert.equal(errors.length, 30);
  assert.ok(errors[4] < 1e-10 && errors[29] < 1e-10, `exact at recomputes: ${errors[4]}, ${errors[29]}`);
  assert.ok(errors[3] > errors[4], `drift before the recompute (${errors[3]}) above the recomputed value (${errors[4]})`);
  assert.ok(Math.max(...errors) < 1e-3, `max ‖UᵀU − I‖ over training ${Math.max(...errors)}`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)), `train loss falls: ${mean(losses.slice(0, 5))} -> ${mean(losses.slice(-5))}`);
  assert.equal(counts[0], counts[1], "no tensor leak over steps");
  assert.ok(r.orthogonalityErrorCurve && r.orthogonalityErrorCurve.length > 0, "the result records the orthogonality curve");
});
