/** OrthogonalUpdater with NC-GRU(U_c, U_r): each orthogonal matrix has its own A, inverse and gradient. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { createNcGru } from "@rnnlab/cells";
import { OrthogonalUpdater, createVariables, trainSyntheticTask, type NamedTensors, type SyntheticTrainConfig } from "../src";

before(async () => {
  await selectBackend();
});

function setup(orthogonalReset: boolean) {
  const cell = createNcGru({ inputSize: 3, hiddenSize: 6, negativeOnes: 2, orthogonalReset });
  const tree = { layers: [cell.init(new Rng(1)) as unknown as Record<string, tf.Tensor>] };
  const set = createVariables(tree as never, { scope: "orthogonal-test" });
  tf.dispose(tree as never);
  const updater = new OrthogonalUpdater(set.variables, { recomputeEvery: 3, neumannOrder: 1 }, { kind: "adam" });
  return { set, updater };
}

const pathOf = (paths: string[], suffix: string) => paths.find((p) => p.endsWith(suffix))!;

test("U_c, U_r: both matrices are owned, each moves only with its own gradient, and both are orthogonal after an exact recompute", () => {
  const { set, updater } = setup(true);
  const paths = Object.keys(set.variables);
  const candidate = pathOf(paths, "candidateRecurrentKernel");
  const reset = pathOf(paths, "resetRecurrentKernel");
  assert.ok(updater.owns(candidate) && updater.owns(reset), "both orthogonal matrices are outside the main optimizer");
  assert.ok(paths.includes("layers.0.recurrentKernel") && !updater.owns("layers.0.recurrentKernel"), "U_z stays with the main optimizer");
  const snapshot = (p: string) => Float32Array.from(set.variables[p].dataSync());
  const moved = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  const rng = new Rng(4);
  const noise = () => tf.tensor2d(rng.fillNormal(new Float32Array(36)), [6, 6]);

  // A gradient on U_r only: U_r moves, U_c does not (a mis-paired update would move U_c or use U_c's inverse).
  const c0 = snapshot(candidate), r0 = snapshot(reset);
  let grads: NamedTensors = { [candidate]: tf.zeros([6, 6]), [reset]: noise() };
  updater.step(grads, 0.05);
  tf.dispose(Object.values(grads));
  assert.equal(moved(snapshot(candidate), c0), 0, "U_c unchanged by a U_r-only gradient");
  assert.ok(moved(snapshot(reset), r0) > 1e-3, "U_r moved");

  grads = { [candidate]: noise(), [reset]: noise() };
  updater.step(grads, 0.05); // step 2: Neumann drift on both
  tf.dispose(Object.values(grads));
  const drifted = updater.orthogonalityErrors();
  assert.ok(drifted[candidate] > 1e-6 && drifted[reset] > 1e-6, `both drift: ${JSON.stringify(drifted)}`);
  grads = { [candidate]: noise(), [reset]: noise() };
  updater.step(grads, 0.05); // step 3: exact recompute
  tf.dispose(Object.values(grads));
  const exact = updater.orthogonalityErrors();
  assert.ok(exact[candidate] < 1e-10 && exact[reset] < 1e-10, `both orthogonal after the recompute: ${JSON.stringify(exact)}`);
  // The float32 variables the cell reads hold orthogonal matrices too.
  for (const p of [candidate, reset]) {
    const U = set.variables[p];
    const error = tf.tidy(() => tf.norm(tf.sub(tf.matMul(U, U, true, false), tf.eye(6))).dataSync()[0]);
    assert.ok(error < 1e-5, `${p}: ‖UᵀU − I‖ = ${error}`);
  }
  assert.equal(updater.orthogonalityError(), Math.max(exact[candidate], exact[reset]));
  updater.dispose();
  set.dispose();
});

test("U_c only: the updater owns just U_c (option off, nothing changes)", () => {
  const { set, updater } = setup(false);
  const owned = Object.keys(set.variables).filter((p) => updater.owns(p));
  assert.equal(owned.length, 1);
  assert.ok(owned[0].endsWith("candidateRecurrentKernel"));
  updater.dispose();
  set.dispose();
});

test("trainer with NC-GRU(U_c, U_r): loss finite, both matrices reset at each recompute, no tensor leak", async () => {
  const config: SyntheticTrainConfig = {
    task: { kind: "denoise", length: 10 }, cell: { kind: "nc-gru", recomputeEvery: 5, neumannOrder: 1, orthogonalReset: true }, hiddenSize: 8, batchSize: 4, steps: 10,
    optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.01 }, seed: 5, evaluateEvery: 10, evaluationBatches: 1,
  };
  const errors: number[] = [];
  const counts: number[] = [];
  const r = await trainSyntheticTask(config, {
    onProgress: (e) => {
      if (e.kind !== "step") return;
      errors.push(e.metrics.orthogonalityError);
      if (e.step === 3 || e.step === 9) counts.push(tf.memory().numTensors);
    },
  });
  assert.ok(errors[3] > 1e-6, `drift before the recompute ${errors[3]}`);
  assert.ok(errors[4] < 1e-10 && errors[9] < 1e-10, `max over U_c and U_r after recomputes: ${errors[4]}, ${errors[9]}`);
  assert.equal(counts[0], counts[1], "no tensor leak over steps");
  assert.ok(Number.isFinite(r.final.loss));
});

test("one owner: the updater adopts the matrices the cell initialised (U_c and U_r), to float32 rounding", () => {
  const cell = createNcGru({ inputSize: 3, hiddenSize: 8, negativeOnes: 3, orthogonalReset: true });
  const tree = { layers: [cell.init(new Rng(7)) as unknown as Record<string, tf.Tensor>] };
  const initial = Object.fromEntries(
    Object.entries(tree.layers[0]).map(([k, v]) => [k, Float32Array.from(v.dataSync())]),
  );
  const set = createVariables(tree as never, { scope: "orthogonal-owner-test" });
  tf.dispose(tree as never);
  const updater = new OrthogonalUpdater(set.variables, { negativeOnes: 3 }, { kind: "sgd" });
  for (const name of ["candidateRecurrentKernel", "resetRecurrentKernel"]) {
    const path = Object.keys(set.variables).find((p) => p.endsWith(name))!;
    const now = set.variables[path].dataSync();
    const worst = Math.max(...initial[name].map((v, i) => Math.abs(v - now[i])));
    assert.ok(worst < 1e-6, `${name}: the updater's U differs from the cell's by ${worst}`);
  }
  assert.ok(updater.orthogonalityError() < 1e-12);
  updater.dispose();
  tf.dispose(Object.values(set.variables));
});
