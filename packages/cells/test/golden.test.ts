/**
 * Golden values from PyTorch: fixtures made by packages/cells/test/fixtures/make_golden.py
 * (nn.LSTM / nn.GRU in float64, converted to rnnlab's parameter convention). Checks outputs, final
 * states and the gradients of a scalar loss with respect to every parameter, the inputs and the
 * initial state, including packed (variable-length) and bidirectional sequences, and a layer-norm
 * LSTM and an ATN LSTM (window 3) that the script writes out from the equations.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tf, selectBackend } from "@rnnlab/core";
import { createGru, createLstm, stackScan, bidirectionalScan, type Layer, type State, type NormalizationConfig } from "../src";
import { assertClose, t } from "./helpers";

before(async () => {
  await selectBackend();
});

interface Case {
  name: string;
  kind: "lstm" | "gru";
  layers: number;
  bidirectional: boolean;
  inputSize: number;
  hiddenSize: number;
  lengths: number[] | null;
  normalization?: NormalizationConfig;
  x: number[][][];
  initialState: Record<string, number[][][]>;
  layerParams: { params: Record<string, number[] | number[][]>; gradients: Record<string, number[] | number[][]> }[];
  output: number[][][];
  finalState: Record<string, number[][][]>;
  outputWeights: number[][][];
  finalWeights: Record<string, number[][][]>;
  loss: number;
  inputGradient: number[][][];
  initialStateGradient: Record<string, number[][][]>;
}

const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "golden.json"), "utf8")) as { script: string; cases: Case[] };
const TOLERANCE = 1e-5;

function runCase(c: Case, fused = true) {
  const directions = c.bidirectional ? 2 : 1;
  const stateNames = c.kind === "lstm" ? ["h", "c"] : ["h"];
  const makeCell = (inputSize: number) =>
    c.kind === "lstm" ? createLstm({ inputSize, hiddenSize: c.hiddenSize, normalization: c.normalization }) : createGru({ inputSize, hiddenSize: c.hiddenSize });
  const x = tf.variable(t(c.x), true, `${c.name}.x`);
  const paramVariables = c.layerParams.map((lp, k) =>
    Object.fromEntries(Object.entries(lp.params).map(([name, v]) => [name, tf.variable(t(v), true, `${c.name}.p${k}.${name}`)])),
  );
  // initial state per (layer, direction) slot k = layer·directions + direction
  const initial = Array.from({ length: c.layers * directions }, (_, k) =>
    Object.fromEntries(stateNames.map((s) => [s, tf.variable(t(c.initialState[s][k]), true, `${c.name}.s${k}.${s}`)])),
  );
  const outputWeights = t(c.outputWeights);
  let output!: tf.Tensor;
  let finalStates!: State[];
  const { value, grads } = tf.variableGrads(() => {
    let loss: tf.Scalar;
    const options = { lengths: c.lengths ?? undefined, fused };
    if (c.bidirectional) {
      assert.equal(c.layers, 1);
      const forward: Layer = { cell: makeCell(c.inputSize), params: paramVariables[0] };
      const backward: Layer = { cell: makeCell(c.inputSize), params: paramVariables[1] };
      const out = bidirectionalScan(forward, backward, x as tf.Tensor3D, { forward: initial[0] as State, backward: initial[1] as State }, options);
      output = tf.keep(out.ys);
      finalStates = [out.state.forward, out.state.backward];
    } else {
      const layers: Layer[] = paramVariables.map((params, l) => ({ cell: makeCell(l === 0 ? c.inputSize : c.hiddenSize), params }));
      // extra state entries (the ATN window) start empty
      const states = layers.map((layer, l) => ({ ...layer.cell.initialState(c.x[0].length), ...initial[l] }) as State);
      const out = stackScan(layers, x as tf.Tensor3D, states, options);
      output = tf.keep(out.ys);
      finalStates = out.states;
    }
    finalStates.forEach((s) => Object.values(s).forEach((v) => tf.keep(v)));
    loss = tf.sum(tf.mul(output, outputWeights));
    for (const s of stateNames) {
      const stacked = tf.stack(finalStates.map((st) => st[s])); // [slots, B, H]
      loss = tf.add(loss, tf.sum(tf.mul(stacked, t(c.finalWeights[s]))));
    }
    return loss;
  });
  return { x, paramVariables, initial, value, grads, output, finalStates, stateNames };
}

for (const c of fixture.cases) for (const fused of [true, false]) {
  // fused: the cells' whole-sequence recurrence where they have one (scan's default); false: step by step.
  test(`golden ${c.name} matches PyTorch (${fixture.script})${fused ? "" : ", stepping (fused: false)"}`, () => {
    const r = runCase(c, fused);
    assertClose(r.output, t(c.output), TOLERANCE, `${c.name} output`);
    for (const s of r.stateNames) {
      r.finalStates.forEach((st, k) => assertClose(st[s], t(c.finalState[s][k]), TOLERANCE, `${c.name} final ${s}[${k}]`));
    }
    assert.ok(Math.abs(r.value.dataSync()[0] - c.loss) < 1e-4, `${c.name} loss ${r.value.dataSync()[0]} vs ${c.loss}`);
    assertClose(r.grads[r.x.name], t(c.inputGradient), TOLERANCE, `${c.name} dL/dx`);
    r.initial.forEach((st, k) => {
      for (const s of r.stateNames) assertClose(r.grads[(st[s] as tf.Variable).name], t(c.initialStateGradient[s][k]), TOLERANCE, `${c.name} dL/d${s}0[${k}]`);
    });
    c.layerParams.forEach((lp, k) => {
      for (const [name, expected] of Object.entries(lp.gradients)) {
        assertClose(r.grads[(r.paramVariables[k][name] as tf.Variable).name], t(expected), TOLERANCE, `${c.name} layer ${k} dL/d${name}`);
      }
    });
    tf.dispose([r.x, r.value, r.output, ...Object.values(r.grads)]);
    r.paramVariables.forEach((p) => tf.dispose(Object.values(p)));
    r.initial.forEach((s) => tf.dispose(Object.values(s)));
    r.finalStates.forEach((s) => tf.dispose(Object.values(s)));
  });
}
