/**
 * The fast LSTM path with G2's gates and weight drop equals the readable path (scan over createLstm):
 * same loss and gradients from the same seed, in training (sharpened temperature; Gumbel noise drawn
 * with the readable path's seeds in its order; weight-dropped recurrent kernel) and in evaluation.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { LanguageModel, type LanguageModelArchitecture } from "../src";

before(async () => {
  await selectBackend();
});

function lossAndGrads(architecture: LanguageModelArchitecture, training: boolean, seed: number) {
  const model = new LanguageModel(architecture);
  const params = model.init(new Rng(7));
  const flat: tf.Tensor[] = [];
  const walk = (o: unknown): void => {
    if (o instanceof tf.Tensor) flat.push(o);
    else if (o && typeof o === "object") for (const v of Object.values(o)) walk(v);
  };
  walk(params);
  const [T, B, V] = [6, 3, architecture.vocabularySize];
  const rng = new Rng(11);
  const inputs = tf.tensor2d(Array.from({ length: T * B }, () => rng.int(V)), [T, B], "int32");
  const targets = tf.tensor2d(Array.from({ length: T * B }, () => rng.int(V)), [T, B], "int32");
  const out = tf.tidy(() => {
    const states = model.initialStates(B);
    const { value, grads } = tf.valueAndGrads(() => model.forward(params, inputs, targets, states, { training, rng: new Rng(seed) }).loss)(flat);
    return { loss: value.dataSync()[0], grads: grads.map((g) => Array.from(g.dataSync())) };
  });
  tf.dispose([...flat, inputs, targets]);
  return { ...out, fast: model.useFastPath };
}

function assertClose(label: string, a: ReturnType<typeof lossAndGrads>, b: ReturnType<typeof lossAndGrads>) {
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `${label}: loss ${a.loss} vs ${b.loss}`);
  a.grads.forEach((g, k) => {
    let worst = 0;
    g.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b.grads[k][i]) / Math.max(1e-3, Math.abs(b.grads[k][i])))));
    assert.ok(worst < 1e-3, `${label}: gradient ${k} differs by ${worst} (relative)`);
  });
}

const base: LanguageModelArchitecture = { vocabularySize: 13, embeddingSize: 8, hiddenSize: 10, layers: 2, cell: { kind: "lstm" } };

for (const [name, variant] of [
  ["sharpened gates", { cell: { kind: "lstm", gate: { kind: "sharpened", temperature: 0.5 } } }],
  ["Gumbel gates, locked dropout and weight drop", {
    cell: { kind: "lstm", gate: { kind: "gumbel", temperature: 0.9, noiseProbability: 0.5 } },
    dropout: { kind: "locked", input: 0.2, hidden: 0.2, output: 0.2, weightDrop: 0.3 },
  }],
  ["plain gates with weight drop", { dropout: { weightDrop: 0.5 } }],
] as [string, Partial<LanguageModelArchitecture>][]) {
  test(`fast path == readable path: ${name}, training and evaluation`, () => {
    for (const training of [true, false]) {
      const fast = lossAndGrads({ ...base, ...variant }, training, 3);
      const readable = lossAndGrads({ ...base, ...variant, fastPath: "off" }, training, 3);
      assert.equal(fast.fast, true, "the fast path is taken");
      assert.equal(readable.fast, false);
      assertClose(`${name} training=${training}`, fast, readable);
    }
  });
}

test("Gumbel noise is drawn: two seeds give different training losses on the fast path", () => {
  const arch: LanguageModelArchitecture = { ...base, cell: { kind: "lstm", gate: { kind: "gumbel", temperature: 0.5, noiseProbability: 1 } } };
  assert.notEqual(lossAndGrads(arch, true, 1).loss, lossAndGrads(arch, true, 2).loss);
});

test("Gumbel 'hard' evaluation runs on the readable path and matches it", () => {
  const arch: LanguageModelArchitecture = { ...base, cell: { kind: "lstm", gate: { kind: "gumbel", temperature: 0.9, evaluation: "hard" } } };
  assert.equal(lossAndGrads(arch, false, 1).loss, lossAndGrads({ ...arch, fastPath: "off" }, false, 1).loss);
});
