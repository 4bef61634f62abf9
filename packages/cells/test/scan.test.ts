/** scan == a manual loop over step; lengths freeze state; reverse; stack; detachState; leaks. */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend, Rng } from "@rnnlab/core";
import { bidirectionalScan, createGru, createLstm, createNcGru, createScoRnn, scan, stackScan, detachState, disposeState, resetWindow, type Cell, type State } from "../src";
import { assertClose, assertEqualTensors } from "./helpers";

before(async () => {
  await selectBackend();
});

const T = 6, B = 3, I = 4, H = 5;

function randomInputs(seed: number, shape: number[] = [T, B, I]) {
  return tf.tensor3d(new Rng(seed).fillNormal(new Float32Array(shape[0] * shape[1] * shape[2])), shape as [number, number, number]);
}

/** The contract written out by hand: prepare, project, then step for t = 0..T−1. */
function manualLoop(cell: Cell<any, any, any>, params: any, xs: tf.Tensor3D, state: State, reverse = false) {
  return tf.tidy(() => {
    const prepared = cell.prepare(params, { training: false, steps: xs.shape[0], batchSize: xs.shape[1], layerName: "layer0" });
    const projected = cell.project ? cell.project(params, xs, prepared) : xs;
    const ys: tf.Tensor[] = new Array(xs.shape[0]);
    for (let k = 0; k < xs.shape[0]; k++) {
      const t = reverse ? xs.shape[0] - 1 - k : k;
      const x = tf.squeeze(tf.slice(projected, [t, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
      const out = cell.step(params, state, x, prepared, t);
      state = out.state;
      ys[t] = out.y;
    }
    return { ys: tf.stack(ys), state } as any;
  }) as { ys: tf.Tensor; state: State };
}

const cells: [string, () => Cell<any, any, any>][] = [
  ["lstm", () => createLstm({ inputSize: I, hiddenSize: H })],
  ["layer-norm lstm", () => createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "layer" } })],
  ["ATN lstm (k=3)", () => createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 3 } })],
  ["gru", () => createGru({ inputSize: I, hiddenSize: H })],
  ["nc-gru", () => createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2 })],
  ["scornn", () => createScoRnn({ inputSize: I, hiddenSize: H, negativeOnes: 2 })],
];

for (const [name, make] of cells) {
  test(`scan equals a manual loop over step: ${name} (forward and reverse)`, () => {
    const cell = make();
    const params = cell.init(new Rng(1));
    const xs = randomInputs(2);
    for (const reverse of [false, true]) {
      const s0 = cell.initialState(B);
      const a = scan(cell, params, xs, s0, { reverse, fused: false });
      const b = manualLoop(cell, params, xs, s0, reverse);
      assertEqualTensors(a.ys, b.ys, `${name} ys reverse=${reverse}`);
      for (const k of Object.keys(b.state)) assertEqualTensors(a.state[k], b.state[k], `${name} state.${k}`);
      tf.dispose([a.ys, b.ys, ...Object.values(a.state), ...Object.values(b.state), ...Object.values(s0)] as tf.Tensor[]);
    }
    tf.dispose(Object.values(params) as tf.Tensor[]);
    xs.dispose();
  });
}

test("lengths: a padded sequence gives the same outputs and final state as the unpadded one; padding outputs are 0", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 2 } });
  const params = cell.init(new Rng(3));
  const xs = randomInputs(4);
  const lengths = [6, 2, 4];
  const full = scan(cell, params, xs, cell.initialState(B), { lengths });
  for (let b = 0; b < B; b++) {
    const L = lengths[b];
    const one = tf.slice(xs, [0, b, 0], [L, 1, I]) as tf.Tensor3D;
    const alone = scan(cell, params, one, cell.initialState(1));
    assertClose(tf.slice(full.ys, [0, b, 0], [L, 1, H]), alone.ys, 1e-6, `outputs of sequence ${b}`);
    for (const k of Object.keys(alone.state)) assertClose(tf.slice(full.state[k], [b, 0], [1, -1]), alone.state[k], 1e-6, `state.${k} of sequence ${b}`);
    if (L < T) assert.equal(tf.abs(tf.slice(full.ys, [L, b, 0], [T - L, 1, H])).max().dataSync()[0], 0);
  }
});

test("reverse with lengths starts each sequence at its last valid step", () => {
  const cell = createGru({ inputSize: I, hiddenSize: H });
  const params = cell.init(new Rng(5));
  const xs = randomInputs(6);
  const lengths = [3, 6, 1];
  const full = scan(cell, params, xs, cell.initialState(B), { lengths, reverse: true });
  for (let b = 0; b < B; b++) {
    const L = lengths[b];
    const alone = scan(cell, params, tf.slice(xs, [0, b, 0], [L, 1, I]) as tf.Tensor3D, cell.initialState(1), { reverse: true });
    assertClose(tf.slice(full.ys, [0, b, 0], [L, 1, H]), alone.ys, 1e-6, `reverse outputs of sequence ${b}`);
    assertClose(tf.slice(full.state.h, [b, 0], [1, -1]), alone.state.h, 1e-6, `reverse final h of sequence ${b}`);
  }
});

test("scan keeps no tensors besides its outputs, and none leak across repeated training steps", () => {
  const rng = new Rng(7);
  const layers = [
    createLstm({ inputSize: I, hiddenSize: H, gate: { kind: "gumbel", temperature: 0.9 }, recurrence: { kind: "weightDrop", rate: 0.3 }, inputDropout: { kind: "locked", rate: 0.2 } }),
    createLstm({ inputSize: H, hiddenSize: H, normalization: { kind: "assortedTime", window: 3 }, inputDropout: { kind: "structured", rate: 0.4 } }),
    createGru({ inputSize: H, hiddenSize: H, inputDropout: { kind: "elementwise", rate: 0.3 } }),
  ];
  const params = layers.map((cell) => Object.fromEntries(Object.entries(cell.init(rng)).map(([k, v]) => [k, tf.variable(v as tf.Tensor)])));
  const xs = randomInputs(8);
  let states: State[] = layers.map((c) => c.initialState(B));
  const optimizer = tf.train.sgd(0.1);
  const before = tf.memory().numTensors;
  const once = stackScan(layers.map((cell, l) => ({ cell, params: params[l] })), xs, states, { training: true, rng });
  const created = 1 + once.layerOutputs.length - 1 + once.states.reduce((n, s) => n + Object.keys(s).length, 0);
  assert.equal(tf.memory().numTensors - before, created, "stackScan should leave only its outputs and final states");
  tf.dispose(once.layerOutputs);
  disposeState(once.states);
  const counts: number[] = [];
  for (let step = 0; step < 5; step++) {
    const previous = states;
    const { value, grads } = tf.variableGrads(() => {
      const out = stackScan(layers.map((cell, l) => ({ cell, params: params[l] })), xs, previous, { training: true, rng, lengths: [6, 5, 6] });
      states = out.states.map((s) => detachState(s));
      return tf.mean(tf.square(out.ys));
    });
    optimizer.applyGradients(grads);
    tf.dispose([value, ...Object.values(grads)]);
    disposeState(previous);
    counts.push(tf.memory().numTensors);
  }
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor count changed across steps: ${counts}`);
  // every parameter received a gradient and moved
  disposeState(states);
  optimizer.dispose();
});

test("detachState: same values, survives the tidy, and no gradient flows through it", () => {
  const x = tf.variable(tf.tensor2d([[1, 2]]));
  let kept!: State;
  const { grads, value } = tf.variableGrads(() => {
    const h = tf.mul(x, 3) as tf.Tensor2D;
    kept = detachState({ h });
    return tf.add(tf.sum(kept.h), tf.sum(tf.mul(x, 0.5)));
  });
  assert.deepEqual(Array.from(kept.h.dataSync()), [3, 6]);
  assert.deepEqual(Array.from(grads[x.name].dataSync()), [0.5, 0.5]);
  tf.dispose([x, value, kept.h, ...Object.values(grads)]);
});

test("every parameter of a stacked model gets a nonzero gradient", () => {
  const rng = new Rng(9);
  const layers = [
    createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "layer" } }),
    createLstm({ inputSize: H, hiddenSize: H, inputDropout: { kind: "structured", rate: 0.5 } }),
  ];
  const params = layers.map((cell) => Object.fromEntries(Object.entries(cell.init(rng)).map(([k, v]) => [k, tf.variable(v as tf.Tensor)])));
  const xs = randomInputs(10);
  const target = randomInputs(11, [T, B, H]);
  const { grads } = tf.variableGrads(() => {
    const out = stackScan(layers.map((cell, l) => ({ cell, params: params[l] })), xs, layers.map((c) => c.initialState(B)), { training: true, rng });
    return tf.mean(tf.square(tf.sub(out.ys, target)));
  });
  params.forEach((p, l) => {
    for (const [name, v] of Object.entries(p)) {
      const norm = tf.norm(grads[(v as tf.Variable).name]).dataSync()[0];
      assert.ok(norm > 0 && Number.isFinite(norm), `layer ${l} ${name}: gradient norm ${norm}`);
    }
  });
});

test("evaluation is deterministic; training with the same seed gives the same numbers, another seed different ones", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: H, gate: { kind: "gumbel", temperature: 0.9 }, recurrence: { kind: "weightDrop", rate: 0.3 }, inputDropout: { kind: "structured", rate: 0.3 } });
  const params = cell.init(new Rng(12));
  const xs = randomInputs(13);
  const run = (training: boolean, seed: number) => scan(cell, params, xs, cell.initialState(B), { training, rng: new Rng(seed) }).ys;
  assertEqualTensors(run(false, 1), run(false, 2), "evaluation");
  assertEqualTensors(run(true, 1), run(true, 1), "training, same seed");
  assert.ok(tf.abs(tf.sub(run(true, 1), run(true, 2))).max().dataSync()[0] > 1e-3, "training, different seeds should differ");
  assert.ok(tf.abs(tf.sub(run(true, 1), run(false, 1))).max().dataSync()[0] > 1e-3, "training should differ from evaluation");
});

test("resetWindow empties the ATN window but keeps h and c, so a new segment starts like a fresh sequence", () => {
  const cell = createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 3 } });
  const params = cell.init(new Rng(20));
  const first = scan(cell, params, randomInputs(21), cell.initialState(B));
  const carried = resetWindow(first.state);
  assert.equal(carried.h, first.state.h);
  assert.equal(tf.abs(carried.atnRecurrentSum).max().dataSync()[0], 0);
  assert.equal(tf.abs(carried.atnCount).max().dataSync()[0], 0);
  const next = randomInputs(22);
  const a = scan(cell, params, next, carried);
  const fresh = { ...cell.initialState(B), h: first.state.h, c: first.state.c };
  assertEqualTensors(a.ys, scan(cell, params, next, fresh).ys, "reset window == fresh window with carried h, c");
  assert.ok(tf.abs(tf.sub(a.ys, scan(cell, params, next, first.state).ys)).max().dataSync()[0] > 1e-4, "carrying the window differs");
});

test("training sanity: a 1-layer LSTM learns to output the previous step's input (tiny task overfits)", () => {
  const rng = new Rng(30);
  const cell = createLstm({ inputSize: 2, hiddenSize: 8 });
  const params = Object.fromEntries(Object.entries(cell.init(rng)).map(([k, v]) => [k, tf.variable(v as tf.Tensor)]));
  const readout = tf.variable(tf.tensor2d(rng.fillNormal(new Float32Array(8 * 2), 0, 0.3), [8, 2]));
  const xs = tf.tensor3d(rng.fillNormal(new Float32Array(8 * 4 * 2)), [8, 4, 2]);
  const target = tf.concat([tf.zeros([1, 4, 2]), tf.slice(xs, [0, 0, 0], [7, -1, -1])], 0); // y_t = x_{t−1}
  const optimizer = tf.train.adam(0.05);
  const lossAt = () => tf.tidy(() => {
    const out = scan(cell, params as any, xs, cell.initialState(4));
    const prediction = tf.reshape(tf.matMul(tf.reshape(out.ys, [32, 8]), readout), [8, 4, 2]);
    return tf.mean(tf.square(tf.sub(prediction, target))) as tf.Scalar;
  });
  const initial = lossAt().dataSync()[0];
  const before = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, tf.clone(v)]));
  for (let step = 0; step < 150; step++) optimizer.minimize(lossAt);
  const final = lossAt().dataSync()[0];
  for (const [k, v] of Object.entries(params)) assert.ok(tf.abs(tf.sub(v, before[k])).max().dataSync()[0] > 0, `${k} did not change`);
  assert.ok(final < 0.05 * initial, `loss ${initial} -> ${final}`);
  optimizer.dispose();
});

test("a one-step sequence trains: gradients flow through scan and the structured gather path at T=1", () => {
  const rng = new Rng(11);
  const cell = createLstm({ inputSize: 3, hiddenSize: 4 });
  const params = cell.init(rng);
  const xs = tf.randomNormal([1, 2, 3], 0, 1, "float32", 5) as tf.Tensor3D;
  const grads = tf.grads((x: tf.Tensor) => scan(cell, params, x as tf.Tensor3D, cell.initialState(2)).ys.sum())([xs]);
  assert.deepEqual(grads[0].shape, [1, 2, 3]);
  assert.ok(Math.abs(grads[0].sum().dataSync()[0]) > 0);
  tf.dispose([xs, ...grads]);
});

test("fused recurrences (cell.sequence) equal stepping: forward and reverse, G2 Gumbel gates in training, weight drop, with gradients", () => {
  const variants: [string, () => Cell<any, any, any>][] = [
    ["lstm", () => createLstm({ inputSize: I, hiddenSize: H })],
    ["lstm gumbel + weight drop", () => createLstm({ inputSize: I, hiddenSize: H, gate: { kind: "gumbel", temperature: 0.7, noiseProbability: 0.5 }, recurrence: { kind: "weightDrop", rate: 0.3 } })],
    ["lstm sharpened", () => createLstm({ inputSize: I, hiddenSize: H, gate: { kind: "sharpened", temperature: 0.5 } })],
    ["gru", () => createGru({ inputSize: I, hiddenSize: H })],
    ["layer-norm lstm", () => createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "layer" } })],
    ["ATN lstm (k=3)", () => createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 3 } })],
    ["ATN lstm (k=3) + weight drop", () => createLstm({ inputSize: I, hiddenSize: H, normalization: { kind: "assortedTime", window: 3 }, recurrence: { kind: "weightDrop", rate: 0.3 } })],
    ["nc-gru", () => createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2 })],
    ["nc-gru(U_c, U_r)", () => createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset: true })],
    ["nc-gru resetAfterProduct", () => createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, candidate: "resetAfterProduct" })],
    ["nc-gru(U_c, U_r) resetAfterProduct", () => createNcGru({ inputSize: I, hiddenSize: H, negativeOnes: 2, orthogonalReset: true, candidate: "resetAfterProduct" })],
    ["scornn", () => createScoRnn({ inputSize: I, hiddenSize: H, negativeOnes: 2, inputDropout: { kind: "elementwise", rate: 0.3 } })],
  ];
  for (const [name, make] of variants) {
    const cell = make();
    const params = cell.init(new Rng(3));
    const xs = randomInputs(4);
    for (const reverse of [false, true]) {
      for (const training of [false, true]) {
        const run = (fused: boolean) =>
          tf.tidy(() => {
            const names = Object.keys(params);
            const f = (...ps: tf.Tensor[]) => {
              const p = Object.fromEntries(names.map((n, k) => [n, ps[k]]));
              const out = scan(cell, p as any, xs, cell.initialState(B), { reverse, training, rng: new Rng(9), fused });
              return tf.add(tf.sum(tf.mul(out.ys, out.ys)), tf.sum(out.state.h));
            };
            const { value, grads } = tf.valueAndGrads(f)(names.map((n) => (params as any)[n]));
            return [value, ...grads];
          });
        const a = run(true);
        const b = run(false);
        a.forEach((t, k) => {
          const d = tf.max(tf.abs(tf.sub(t, b[k]))).dataSync()[0];
          const scale = Math.max(1, tf.max(tf.abs(b[k])).dataSync()[0]);
          assert.ok(d / scale < 2e-5, `${name} reverse=${reverse} training=${training}: output ${k} differs by ${d}`);
        });
        tf.dispose([...a, ...b]);
      }
    }
    tf.dispose(Object.values(params) as tf.Tensor[]);
    xs.dispose();
  }
});

test("fused LSTM recurrence with per-sequence lengths equals stepping: forward, reverse and bidirectional, with gradients", () => {
  const lengths = [6, 3, 0, 5].slice(0, B).concat(Array(Math.max(0, B - 4)).fill(6));
  for (const make of [
    () => createLstm({ inputSize: I, hiddenSize: H }),
    () => createLstm({ inputSize: I, hiddenSize: H, gate: { kind: "gumbel", temperature: 0.8, noiseProbability: 0.5 } }),
  ]) {
    const fwd = make();
    const bwd = make();
    const pf = fwd.init(new Rng(5));
    const pb = bwd.init(new Rng(6));
    const xs = randomInputs(7);
    const steps = xs.shape[0];
    const lens = lengths.map((l) => Math.min(l, steps));
    const names = Object.keys(pf);
    for (const training of [false, true]) {
      const run = (fused: boolean) =>
        tf.tidy(() => {
          const f = (...ps: tf.Tensor[]) => {
            const a = Object.fromEntries(names.map((n, k) => [n, ps[k]]));
            const b = Object.fromEntries(names.map((n, k) => [n, ps[names.length + k]]));
            const rng = new Rng(13);
            const forward = scan(fwd, a as any, xs, fwd.initialState(B), { lengths: lens, training, rng, fused });
            const reverse = scan(bwd, b as any, xs, bwd.initialState(B), { lengths: lens, training, rng, fused, reverse: true });
            const both = bidirectionalScan({ cell: fwd, params: a as any }, { cell: bwd, params: b as any }, xs, { forward: fwd.initialState(B), backward: bwd.initialState(B) }, { lengths: lens, training, rng, fused });
            return tf.addN([
              tf.sum(tf.mul(forward.ys, forward.ys)), tf.sum(forward.state.h), tf.sum(forward.state.c),
              tf.sum(tf.mul(reverse.ys, reverse.ys)), tf.sum(reverse.state.c), tf.mul(tf.sum(tf.square(both.ys)), 0.5),
            ]);
          };
          const { value, grads } = tf.valueAndGrads(f)([...names.map((n) => (pf as any)[n]), ...names.map((n) => (pb as any)[n])]);
          return [value, ...grads];
        });
      const a = run(true);
      const b = run(false);
      a.forEach((t, k) => {
        const d = tf.max(tf.abs(tf.sub(t, b[k]))).dataSync()[0];
        const scale = Math.max(1, tf.max(tf.abs(b[k])).dataSync()[0]);
        assert.ok(d / scale < 2e-5, `training=${training}: output ${k} differs by ${d}`);
      });
      tf.dispose([...a, ...b]);
    }
    tf.dispose([...Object.values(pf), ...Object.values(pb)] as tf.Tensor[]);
    xs.dispose();
  }
});
