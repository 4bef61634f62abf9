/**
 * Structured dropout on the LM's fast path (model.ts, dropout.maskSteps): the grouped, gathered GEMMs must
 * give the same loss and the same gradients as the dense reference that multiplies each group's rows by
 * its 0/(1−p)^-1 column mask, with the keep sets drawn in the same order from an identically seeded Rng.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { lstmSequence, structuredKeepIndices, softmaxCrossEntropy } from "@rnnlab/cells";
import { LanguageModel, type LanguageModelArchitecture, type LanguageModelParams } from "../src";

before(async () => {
  await selectBackend();
});

const T = 7;
const B = 3;
const V = 11;

function architecture(maskSteps: number): LanguageModelArchitecture {
  return { vocabularySize: V, embeddingSize: 6, hiddenSize: 8, layers: 2, cell: { kind: "lstm" }, dropout: { kind: "structured", input: 0.5, hidden: 0.25, output: 0.5, maskSteps } };
}

/** Column masks [T, 1, F] of a window: group g's keep set on the rows of its steps, scaled by 1/(1−p). */
function masks(features: number, rate: number, maskSteps: number, rng: Rng): tf.Tensor3D {
  const per = maskSteps === 0 ? T : Math.min(maskSteps, T);
  const m = new Float32Array(T * features);
  for (let t0 = 0; t0 < T; t0 += per) {
    const keep = structuredKeepIndices(features, rate, rng);
    for (let t = t0; t < Math.min(t0 + per, T); t++) keep.forEach((k) => (m[t * features + k] = 1 / (1 - rate)));
  }
  return tf.tensor3d(m, [T, 1, features]);
}

function reference(model: LanguageModel, params: LanguageModelParams, inputs: tf.Tensor2D, targets: tf.Tensor2D, maskSteps: number, rng: Rng): tf.Scalar {
  const d = model.architecture.dropout!;
  let h = tf.reshape(tf.gather(params.embedding, tf.reshape(inputs, [T * B])), [T, B, 6]) as tf.Tensor3D;
  const states = model.initialStates(B);
  for (let l = 0; l < 2; l++) {
    const rate = (l === 0 ? d.input : d.hidden)!;
    const masked = tf.mul(h, masks(h.shape[2], rate, maskSteps, rng)) as tf.Tensor3D;
    h = lstmSequence(params.layers[l] as never, masked, states[l] as never).ys;
  }
  const out = tf.mul(h, masks(8, d.output!, maskSteps, rng));
  const logits = tf.add(tf.matMul(tf.reshape(out, [T * B, 8]), params.decoder.kernel!), params.decoder.bias) as tf.Tensor2D;
  return softmaxCrossEntropy(logits, tf.reshape(targets, [T * B]) as tf.Tensor1D);
}

for (const maskSteps of [1, 3, 0]) {
  test(`fast-path structured dropout (maskSteps=${maskSteps}) equals the dense masked reference: loss and every gradient`, () => {
    const model = new LanguageModel(architecture(maskSteps));
    assert.equal(model.useFastPath, true);
    const params = model.init(new Rng(5));
    const flat = [params.embedding, ...params.layers.flatMap((l) => Object.values(l)), params.decoder.kernel!, params.decoder.bias];
    const data = new Rng(9);
    const inputs = tf.tensor2d(Int32Array.from({ length: T * B }, () => data.int(V)), [T, B], "int32");
    const targets = tf.tensor2d(Int32Array.from({ length: T * B }, () => data.int(V)), [T, B], "int32");
    // Gradients with respect to every parameter, via tf.grads over the parameter list.
    const fastFn = (...ps: tf.Tensor[]) => {
      const p = rebuild(params, ps);
      return model.forward(p, inputs, targets, model.initialStates(B), { training: true, rng: new Rng(17) }).loss;
    };
    const refFn = (...ps: tf.Tensor[]) => reference(model, rebuild(params, ps), inputs, targets, maskSteps, new Rng(17));
    const fast = tf.valueAndGrads(fastFn)(flat);
    const ref = tf.valueAndGrads(refFn)(flat);
    assert.ok(Math.abs(fast.value.dataSync()[0] - ref.value.dataSync()[0]) < 1e-5, `loss ${fast.value.dataSync()[0]} vs ${ref.value.dataSync()[0]}`);
    fast.grads.forEach((g, i) => {
      const diff = tf.max(tf.abs(tf.sub(g, ref.grads[i]))).dataSync()[0];
      assert.ok(diff < 1e-5, `gradient ${i} [${g.shape}] differs by ${diff}`);
    });
    // Structured keep sets must actually drop: the loss differs from the undropped forward pass.
    const plain = model.forward(params, inputs, targets, model.initialStates(B), { training: false }).loss.dataSync()[0];
    assert.ok(Math.abs(plain - fast.value.dataSync()[0]) > 1e-6, `dropped loss ${fast.value.dataSync()[0]} vs undropped ${plain}`);
  });
}

function rebuild(params: LanguageModelParams, ps: tf.Tensor[]): LanguageModelParams {
  let i = 0;
  const embedding = ps[i++] as tf.Tensor2D;
  const layers = params.layers.map((l) => Object.fromEntries(Object.keys(l).map((k) => [k, ps[i++]])));
  const kernel = ps[i++] as tf.Tensor2D;
  const bias = ps[i++] as tf.Tensor1D;
  return { embedding, layers, decoder: { kernel, bias } };
}

test("maskSteps is checked: negative, on non-structured dropout, or on the readable path", () => {
  assert.throws(() => new LanguageModel({ ...architecture(1), dropout: { kind: "structured", input: 0.5, maskSteps: -1 } }), /maskSteps=-1 must be a non-negative integer/);
  assert.throws(() => new LanguageModel({ ...architecture(1), dropout: { kind: "elementwise", input: 0.5, maskSteps: 0 } }), /only applies to dropout.kind "structured"/);
  assert.throws(() => new LanguageModel({ ...architecture(0), fastPath: "off" }), /needs the fast LSTM path/);
  assert.equal(new LanguageModel({ ...architecture(1), fastPath: "off" }).useFastPath, false);
});
