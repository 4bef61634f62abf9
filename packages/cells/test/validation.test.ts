/** Bad configurations are rejected with messages that name the option and what is allowed. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { createGru, createLstm, createNcGru, scan, stackScan, GateTracer, denseSequence, structuredKeepIndices } from "../src";

before(async () => {
  await selectBackend();
});

const lstm = (extra: object) => () => createLstm({ inputSize: 3, hiddenSize: 4, ...extra } as any);

test("cell options: sizes, rates, temperatures, unknown keys and kinds", () => {
  const cases: [() => unknown, RegExp][] = [
    [() => createLstm({ inputSize: 3, hiddenSize: -4 }), /"hiddenSize" must be an integer >= 1, got -4/],
    [() => createLstm({ inputSize: 0, hiddenSize: 4 }), /"inputSize"/],
    [() => createGru({ inputSize: 3, hiddenSize: 2.5 }), /"hiddenSize"/],
    [lstm({ hidenSize: 4 }), /unknown option "hidenSize". Allowed options: inputSize, hiddenSize, forgetBias/],
    [lstm({ gate: { kind: "sharpened", temperature: 0 } }), /"temperature" must be a finite number > 0, got 0/],
    [lstm({ gate: { kind: "gumbel", temperature: -1 } }), /"temperature"/],
    [lstm({ gate: { kind: "gumbel", temperature: 1, noiseProbability: 1.5 } }), /"noiseProbability" must be in \[0, 1\]/],
    [lstm({ gate: { kind: "gumbel", temperature: 1, evaluation: "soft" } }), /"evaluation" must be "sigmoid" or "hard"/],
    [lstm({ gate: { kind: "gumble", temperature: 1 } }), /option "gate" must be an object \{kind: "sigmoid" \| "sharpened" \| "gumbel"/],
    [lstm({ gate: { kind: "sharpened", temperature: 1, tau: 2 } }), /unknown option "tau". Allowed options: kind, temperature/],
    [lstm({ inputDropout: { kind: "locked", rate: 1 } }), /"rate" must be a rate in \[0, 1\), got 1/],
    [lstm({ inputDropout: { kind: "structured", rate: -0.1 } }), /"rate"/],
    [lstm({ inputDropout: { kind: "spatial", rate: 0.1 } }), /"inputDropout" must be an object \{kind: "none" \| "elementwise" \| "locked" \| "structured"/],
    [lstm({ recurrence: { kind: "weightDrop", rate: 1.2 } }), /"rate" must be a rate in \[0, 1\)/],
    [lstm({ recurrence: { kind: "cayley" } }), /"recurrence" must be an object \{kind: "dense" \| "weightDrop"/],
    [lstm({ normalization: { kind: "assortedTime", window: 0 } }), /"window" must be an integer >= 1, got 0/],
    [lstm({ normalization: { kind: "batch" } }), /"normalization" must be an object \{kind: "none" \| "layer" \| "assortedTime"/],
    [lstm({ forgetBias: Number.NaN }), /"forgetBias" must be a finite number/],
    [lstm({ recurrentInit: "orthogonal" }), /"recurrentInit" must be "uniform" or "identity"/],
    [() => createNcGru({ inputSize: 3, hiddenSize: 4, negativeOnes: 5 }), /"negativeOnes" must be in \[0, hiddenSize=4\]/],
    [() => new GateTracer({ bins: 0 }), /"bins" must be an integer >= 1/],
    [() => structuredKeepIndices(10, 1, new Rng(1)), /"rate" must be a rate in \[0, 1\)/],
  ];
  for (const [make, message] of cases) assert.throws(make, message);
});

test("scan options and inputs", () => {
  const cell = createLstm({ inputSize: 3, hiddenSize: 4, inputDropout: { kind: "locked", rate: 0.5 } });
  const params = cell.init(new Rng(1));
  const xs = tf.zeros([5, 2, 3]) as tf.Tensor3D;
  assert.throws(() => scan(cell, params, xs, cell.initialState(2), { revers: true } as any), /unknown option "revers". Allowed options: training, rng, lengths, reverse, tracer, layerName/);
  assert.throws(() => scan(cell, params, tf.zeros([5, 2, 7]) as tf.Tensor3D, cell.initialState(2)), /7 features but the lstm cell has inputSize 3/);
  assert.throws(() => scan(cell, params, xs, cell.initialState(3)), /initialState.h must be \[batch=2, n\]/);
  assert.throws(() => scan(cell, params, xs, cell.initialState(2), { lengths: [5, 6] }), /"lengths"\[1\] must be an integer in \[0, 5\], got 6/);
  assert.throws(() => scan(cell, params, xs, cell.initialState(2), { lengths: [5] }), /one length per batch entry/);
  assert.throws(() => scan(cell, params, xs, cell.initialState(2), { training: true }), /needs options.rng/);
  assert.throws(() => scan(cell, params, xs, cell.initialState(2), { training: true, rng: new Rng(1), tracer: new GateTracer() }), /"tracer" is evaluation-only/);
  const second = createLstm({ inputSize: 5, hiddenSize: 4 });
  assert.throws(() => stackScan([{ cell, params }, { cell: second, params: second.init(new Rng(2)) }], xs, [cell.initialState(2), second.initialState(2)]), /layer 1 has inputSize 5 but layer 0 outputs 4/);
  assert.throws(() => denseSequence(xs, tf.zeros([3, 2]) as tf.Tensor2D, undefined, { dropuot: { kind: "none" } } as any), /unknown option "dropuot"/);
});
