/** Gate tracing: per-layer, per-gate histograms; no read-backs when off. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { createGru, createLstm, scan, stackScan, GateTracer } from "../src";

before(async () => {
  await selectBackend();
});

const T = 4, B = 3, I = 2, H = 5;
const xs = () => tf.tensor3d(new Rng(1).fillNormal(new Float32Array(T * B * I)), [T, B, I]);

test("a tracer records i, f, g, o per layer (and r, z for GRU) into fixed-bin histograms", () => {
  const tracer = new GateTracer({ bins: 20 });
  const layers = [createLstm({ inputSize: I, hiddenSize: H }), createGru({ inputSize: H, hiddenSize: H })];
  const rng = new Rng(2);
  const out = stackScan(layers.map((cell) => ({ cell, params: cell.init(rng) as any })), xs(), layers.map((c) => c.initialState(B)), { tracer });
  assert.deepEqual(tracer.layers(), ["layer0", "layer1"]);
  assert.deepEqual(tracer.gates("layer0"), ["i", "f", "g", "o"]);
  assert.deepEqual(tracer.gates("layer1"), ["r", "z"]);
  for (const gate of ["i", "f", "o"]) {
    const h = tracer.histogram("layer0", gate)!;
    assert.equal(h.total, T * B * H);
    assert.equal(h.min, 0);
    assert.equal(h.underflow + h.overflow, 0);
  }
  assert.equal(tracer.histogram("layer0", "g")!.min, -1);
  // a second pass adds to the same histograms; memory is the fixed bins
  stackScan(layers.map((cell) => ({ cell, params: cell.init(rng) as any })), xs(), layers.map((c) => c.initialState(B)), { tracer });
  assert.equal(tracer.histogram("layer1", "z")!.total, 2 * T * B * H);
  assert.equal(tracer.histogram("layer1", "z")!.counts.length, 20);
  const json = JSON.parse(JSON.stringify(tracer.toJSON()));
  assert.equal(json.layer0.f.total, 2 * T * B * H);
  out.ys.dispose();
});

test("recorded gate values match a known configuration (f = σ(5) everywhere, i = σ(0) = 0.5)", () => {
  // forget bias +5 and zero kernels: f = σ(5) ≈ 0.9933 everywhere, i = σ(0) = 0.5
  const cell = createLstm({ inputSize: I, hiddenSize: H, forgetBias: 5 });
  const params = cell.init(new Rng(3));
  const zeroParams = { ...params, inputKernel: tf.zerosLike(params.inputKernel), recurrentKernel: tf.zerosLike(params.recurrentKernel) };
  const tracer = new GateTracer({ bins: 100 });
  scan(cell, zeroParams, xs(), cell.initialState(B), { tracer });
  assert.equal(tracer.histogram("layer0", "f")!.shareAbove(0.99), 1);
  assert.equal(tracer.histogram("layer0", "i")!.shareBelow(0.49), 0);
  assert.equal(tracer.histogram("layer0", "i")!.shareAbove(0.51), 0);
});

test("no tracer: scan reads nothing back (zero cost when off)", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 2 }, gate: { kind: "gumbel", temperature: 0.9 } });
  const params = cell.init(new Rng(4));
  const x = xs();
  const s0 = cell.initialState(B);
  const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown };
  const original = proto.dataSync;
  let reads = 0;
  proto.dataSync = function (this: tf.Tensor) {
    reads++;
    return original.call(this);
  };
  try {
    scan(cell, params, x, s0, { training: true, rng: new Rng(5) });
    scan(cell, params, x, s0);
    assert.equal(reads, 0);
    scan(cell, params, x, s0, { tracer: new GateTracer() });
    assert.equal(reads, 4 * T, "with a tracer: one read-back per gate per step");
  } finally {
    proto.dataSync = original;
  }
});
