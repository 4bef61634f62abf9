/** Dropout kinds: identity at p=0, rates and scaling, locked masks constant over time, structured matMul. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import {
  applyDropout, dropout, embeddingDropout, structuredKeepIndices, structuredDropoutMatMul, structuredSequenceMatMul,
  denseSequence, sequenceMatMul, createLstm, scan,
} from "../src";
import { assertClose, assertEqualTensors } from "./helpers";

before(async () => {
  await selectBackend();
});

const rand = (seed: number, shape: number[]) => tf.tensor(new Rng(seed).fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1))), shape);

test("every dropout kind is the identity at p = 0", () => {
  const xs = rand(1, [4, 3, 5]) as tf.Tensor3D;
  const kernel = rand(2, [5, 6]) as tf.Tensor2D;
  assertEqualTensors(dropout(xs, 0, new Rng(3)), xs, "dropout");
  assertEqualTensors(applyDropout(xs, { kind: "elementwise", rate: 0 }, new Rng(3)), xs, "elementwise");
  assertEqualTensors(applyDropout(xs, { kind: "locked", rate: 0 }, new Rng(3)), xs, "locked");
  assertEqualTensors(embeddingDropout(kernel, 0, new Rng(3)), kernel, "embedding");
  const all = structuredKeepIndices(5, 0, new Rng(3));
  assert.deepEqual(Array.from(all), [0, 1, 2, 3, 4]);
  const x2 = tf.squeeze(tf.slice(xs, [0, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
  assertClose(structuredDropoutMatMul(x2, kernel, all, 0), tf.matMul(x2, kernel), 1e-6, "structured matMul");
  assertClose(denseSequence(xs, kernel, undefined, { dropout: { kind: "structured", rate: 0 }, training: true, rng: new Rng(3) }), sequenceMatMul(xs, kernel), 1e-6, "structured dense");
});

test("elementwise dropout: rate and 1/(1−p) scaling; a new mask per step", () => {
  const ones = tf.ones([50, 20, 40]) as tf.Tensor3D;
  const out = applyDropout(ones, { kind: "elementwise", rate: 0.3 }, new Rng(4));
  const values = out.dataSync();
  const zeros = values.filter((v) => v === 0).length / values.length;
  assert.ok(Math.abs(zeros - 0.3) < 0.01, `zero share ${zeros}`);
  assert.ok(values.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6));
  const step0 = tf.slice(out, [0, 0, 0], [1, -1, -1]), step1 = tf.slice(out, [1, 0, 0], [1, -1, -1]);
  assert.ok(tf.abs(tf.sub(step0, step1)).max().dataSync()[0] > 0, "masks should differ between steps");
});

test("locked dropout: one mask per sequence, constant over time, different across batch entries", () => {
  const ones = tf.ones([6, 4, 30]) as tf.Tensor3D;
  const out = applyDropout(ones, { kind: "locked", rate: 0.5 }, new Rng(5));
  const first = tf.slice(out, [0, 0, 0], [1, -1, -1]);
  for (let t = 1; t < 6; t++) assertEqualTensors(tf.slice(out, [t, 0, 0], [1, -1, -1]), first, `step ${t}`);
  const rows = first.reshape([4, 30]).arraySync() as number[][];
  assert.notDeepEqual(rows[0], rows[1]);
  assert.ok(first.dataSync().some((v) => v === 0) && first.dataSync().some((v) => v === 2));
});

test("embedding dropout drops whole rows and scales the rest", () => {
  const embedding = tf.ones([200, 8]) as tf.Tensor2D;
  const out = embeddingDropout(embedding, 0.25, new Rng(6)).arraySync() as number[][];
  let dropped = 0;
  for (const row of out) {
    assert.ok(row.every((v) => v === row[0]), "a row is dropped or kept as a whole");
    if (row[0] === 0) dropped++;
    else assert.ok(Math.abs(row[0] - 1 / 0.75) < 1e-6);
  }
  assert.ok(dropped > 30 && dropped < 70, `dropped rows ${dropped}`);
});

test("structured keep indices: exact count, sorted, distinct, seeded", () => {
  const a = structuredKeepIndices(100, 0.35, new Rng(7));
  assert.equal(a.length, 65);
  for (let i = 1; i < a.length; i++) assert.ok(a[i] > a[i - 1]);
  assert.deepEqual(Array.from(structuredKeepIndices(100, 0.35, new Rng(7))), Array.from(a));
  assert.notDeepEqual(Array.from(structuredKeepIndices(100, 0.35, new Rng(8))), Array.from(a));
});

test("structured dropout matMul equals dense matMul with the dropped columns zeroed, values and gradients", () => {
  const x = tf.variable(rand(9, [4, 10]));
  const kernel = tf.variable(rand(10, [10, 7]));
  const keep = structuredKeepIndices(10, 0.4, new Rng(11));
  const maskData = new Float32Array(10);
  keep.forEach((k) => (maskData[k] = 1 / 0.6));
  const mask = tf.tensor1d(maskData);
  const weights = rand(12, [4, 7]);
  const structured = tf.variableGrads(() => tf.sum(tf.mul(structuredDropoutMatMul(x as tf.Tensor2D, kernel as tf.Tensor2D, keep, 0.4), weights)), [x, kernel]);
  const reference = tf.variableGrads(() => tf.sum(tf.mul(tf.matMul(tf.mul(x, mask), kernel), weights)), [x, kernel]);
  assertClose(structured.value, reference.value, 1e-4, "value");
  assertClose(structured.grads[x.name], reference.grads[x.name], 1e-5, "dL/dx (dropped columns 0)");
  assertClose(structured.grads[kernel.name], reference.grads[kernel.name], 1e-5, "dL/dW (dropped rows 0)");
  const dW = structured.grads[kernel.name].arraySync() as number[][];
  for (let i = 0; i < 10; i++) if (!keep.includes(i)) assert.ok(dW[i].every((v) => v === 0), `row ${i} of dW should be 0`);
  tf.dispose([x, kernel]);
});

test("structured sequence matMul: gather and mask executions equal a masked dense reference, values and gradients", () => {
  const T = 5, B = 3, N = 6, K = 8;
  const xs = tf.variable(rand(13, [T, B, K]));
  const kernel = tf.variable(rand(14, [K, N]));
  const rng = new Rng(15);
  const keep = Array.from({ length: T }, () => structuredKeepIndices(K, 0.5, rng));
  assert.notDeepEqual(Array.from(keep[0]), Array.from(keep[1]), "a new index set per step");
  const maskData = new Float32Array(T * K);
  keep.forEach((idx, t) => idx.forEach((k) => (maskData[t * K + k] = 2)));
  const mask = tf.tensor3d(maskData, [T, 1, K]);
  const weights = rand(16, [T, B, N]);
  const reference = tf.variableGrads(() => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.reshape(tf.mul(xs, mask), [T * B, K]), kernel), [T, B, N]), weights)), [xs, kernel]);
  for (const execution of ["gather", "mask"] as const) {
    const got = tf.variableGrads(() => tf.sum(tf.mul(structuredSequenceMatMul(xs as tf.Tensor3D, kernel as tf.Tensor2D, keep, 0.5, execution), weights)), [xs, kernel]);
    assertClose(got.value, reference.value, 1e-4, `${execution} value`);
    assertClose(got.grads[xs.name], reference.grads[xs.name], 1e-5, `${execution} dL/dxs`);
    assertClose(got.grads[kernel.name], reference.grads[kernel.name], 1e-5, `${execution} dL/dW`);
  }
  tf.dispose([xs, kernel]);
});

test("a cell with structured input dropout gives the same numbers with either execution", () => {
  const base = { inputSize: 6, hiddenSize: 5 };
  const gather = createLstm({ ...base, inputDropout: { kind: "structured", rate: 0.5 } });
  const mask = createLstm({ ...base, inputDropout: { kind: "structured", rate: 0.5, execution: "mask" } });
  const params = gather.init(new Rng(17));
  const xs = rand(18, [4, 3, 6]) as tf.Tensor3D;
  const a = scan(gather, params, xs, gather.initialState(3), { training: true, rng: new Rng(19) });
  const b = scan(mask, params, xs, mask.initialState(3), { training: true, rng: new Rng(19) });
  assertClose(a.ys, b.ys, 1e-5, "ys");
});

test("applyDropout rejects structured (it needs the matMul) and needs an rng in training", () => {
  const xs = tf.ones([2, 2, 2]) as tf.Tensor3D;
  assert.throws(() => applyDropout(xs, { kind: "structured", rate: 0.5 }, new Rng(1)), /structured/);
  assert.throws(() => applyDropout(xs, { kind: "locked", rate: 0.5 }, undefined), /rng/);
  assertEqualTensors(applyDropout(xs, { kind: "locked", rate: 0.5 }, undefined, false), xs, "evaluation is the identity");
});
