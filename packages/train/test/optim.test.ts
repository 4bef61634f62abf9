import { test, before } from "node:test";
import assert from "node:assert/strict";
import { tf, selectBackend } from "@rnnlab/core";
import {
  Optimizer, clipByGlobalNorm, createVariables, nonMonotoneInitial, nonMonotoneObserve, withParameters,
} from "../src";

before(async () => {
  await selectBackend();
});

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-6, label = "") {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

/** Run `steps` updates of one scalar-pair parameter with a fixed gradient sequence; return the values. */
function run(options: ConstructorParameters<typeof Optimizer>[0], gradients: number[][], lr: number, start = [1, -2]): number[] {
  const set = createVariables({ w: tf.tensor1d(start) });
  const opt = new Optimizer(options, set.variables);
  for (const g of gradients) {
    const gt = tf.tensor1d(g);
    opt.step({ w: gt }, lr);
    gt.dispose();
  }
  const out = Array.from(set.variables.w.dataSync());
  opt.dispose();
  set.dispose();
  return out;
}

const G = [[0.5, -1], [0.25, 2], [-1, 0.5]];

test("SGD, momentum and Nesterov match hand-computed values", () => {
  // plain: w = [1,-2] - 0.1*(sum g) = [1 - 0.1*(-0.25), -2 - 0.1*1.5]
  close(run({ kind: "sgd" }, G, 0.1), [1.025, -2.15]);
  // momentum 0.9, per coordinate 0: v1=.5 v2=.7  v3=-.37; w = 1 - .1*(.5+.7-.37) = 0.917
  // coordinate 1: v1=-1 v2=1.1 v3=1.49; w = -2 - .1*(-1+1.1+1.49) = -2.159
  close(run({ kind: "sgd", momentum: 0.9 }, G, 0.1), [0.917, -2.159]);
  // Nesterov: d = g + .9 v: coord0 d1=.95 d2=.88 d3=-1.333 -> w=1-.1*.497=.9503 ; coord1 d1=-1.9 d2=2.99 d3=1.841 -> -2 - .1*2.931 = -2.2931
  close(run({ kind: "sgd", momentum: 0.9, nesterov: true }, G, 0.1), [0.9503, -2.2931]);
});

test("weight decay: L2 vs decoupled differ as documented", () => {
  // L2 with wd=0.1, one step g=[0.5,-1]: g' = g + .1*w = [0.6, -1.2]; w = [1-.06, -2+.12]
  close(run({ kind: "sgd", weightDecay: 0.1 }, [G[0]], 0.1), [0.94, -1.88]);
  // decoupled: w <- w - lr*wd*w = [0.99, -1.98], then - lr g = [0.94, -1.88] (same for plain SGD)
  close(run({ kind: "sgd", weightDecay: 0.1, decoupledWeightDecay: true }, [G[0]], 0.1), [0.94, -1.88]);
  // Adam first step moves each coord by lr*sign(g) (~); decoupled decay is additionally -lr*wd*w
  const coupled = run({ kind: "adam", weightDecay: 0.1 }, [G[0]], 0.1);
  const decoupled = run({ kind: "adam", weightDecay: 0.1, decoupledWeightDecay: true }, [G[0]], 0.1);
  // coupled: g'=[.6,-1.2] -> update = lr * g'/(|g'|+eps) = ±0.1 -> [0.9, -1.9]
  close(coupled, [0.9, -1.9], 1e-6);
  // decoupled: [0.99 - 0.1, -1.98 + 0.1]
  close(decoupled, [0.89, -1.88], 1e-6);
});

test("Adam matches a hand computation over 3 steps", () => {
  const b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.01;
  const w = [1, -2];
  const m = [0, 0], v = [0, 0];
  G.forEach((g, t) => {
    for (let j = 0; j < 2; j++) {
      m[j] = b1 * m[j] + (1 - b1) * g[j];
      v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j];
      const mh = m[j] / (1 - b1 ** (t + 1)), vh = v[j] / (1 - b2 ** (t + 1));
      w[j] -= (lr * mh) / (Math.sqrt(vh) + eps);
    }
  });
  close(run({ kind: "adam" }, G, lr), w, 1e-6);
});

test("RMSprop with and without momentum matches torch's formulas", () => {
  const alpha = 0.9, lr = 0.01, eps = 1e-8;
  for (const mu of [0, 0.5]) {
    const w = [1, -2], s = [0, 0], b = [0, 0];
    for (const g of G)
      for (let j = 0; j < 2; j++) {
        s[j] = alpha * s[j] + (1 - alpha) * g[j] * g[j];
        const u = g[j] / (Math.sqrt(s[j]) + eps);
        b[j] = mu * b[j] + u;
        w[j] -= lr * (mu > 0 ? b[j] : u);
      }
    close(run({ kind: "rmsprop", decay: alpha, momentum: mu }, G, lr), w, 1e-5, `mu=${mu}`);
  }
});

test("ASGD averages the iterates after the switch; evaluation can swap them in", async () => {
  const set = createVariables({ w: tf.tensor1d([1, -2]) });
  const opt = new Optimizer({ kind: "asgd" }, set.variables);
  const step = (g: number[]) => { const t = tf.tensor1d(g); opt.step({ w: t }, 0.1); t.dispose(); };
  step(G[0]); // w = [0.95, -1.9], not averaged
  assert.equal(opt.averagedParameters(), undefined);
  opt.startAveraging();
  step(G[1]); // w = [0.925, -2.1], avg = w
  step(G[2]); // w = [1.025, -2.15], avg = mean of the two
  const avg = opt.averagedParameters()!;
  close(avg.w.dataSync(), [(0.925 + 1.025) / 2, (-2.1 - 2.15) / 2]);
  const inside = await withParameters(set.variables, avg, () => Array.from(set.variables.w.dataSync()));
  close(inside, [0.975, -2.125]);
  close(set.variables.w.dataSync(), [1.025, -2.15], 1e-6, "restored");
  // state round trip keeps the average
  const state = JSON.parse(JSON.stringify({ ...opt.exportState(), tensors: {} }));
  assert.equal(state.meta.averaging.count, 2);
  const exported = opt.exportState();
  const opt2 = new Optimizer({ kind: "asgd" }, set.variables);
  opt2.importState(exported);
  close(opt2.averagedParameters()!.w.dataSync(), [0.975, -2.125]);
  tf.dispose(Object.values(avg));
  opt.dispose(); opt2.dispose(); set.dispose();
});

test("non-monotone trigger fires exactly as AWD-LSTM's rule", () => {
  let s = nonMonotoneInitial(2);
  const losses = [5, 4, 3, 3.5, 3.4, 3.2, 3.1];
  // at index 3: history [5,4,3] len 3 > 2, min(history[:-2]) = 5, 3.5 > 5? no
  // at index 4: history [5,4,3,3.5], min([5,4]) = 4, 3.4 > 4 no
  // index 5: min([5,4,3]) = 3, 3.2 > 3 -> fire at 5
  const fired: number[] = [];
  losses.forEach((l, i) => { const was = s.triggered; s = nonMonotoneObserve(s, l); if (s.triggered && !was) fired.push(i); });
  assert.deepEqual(fired, [5]);
  assert.equal(s.triggeredAt, 5);
});

test("clipByGlobalNorm returns the pre-clip norm and scales only above the threshold", () => {
  const a = tf.tensor1d([3, 0]), b = tf.tensor2d([[0, 4]]);
  const r = clipByGlobalNorm({ a, b }, 1);
  assert.ok(Math.abs(r.norm - 5) < 1e-6);
  close(r.grads.a.dataSync(), [3 / 5, 0], 1e-5);
  close(r.grads.b.dataSync(), [0, 4 / 5], 1e-5);
  const r2 = clipByGlobalNorm({ a, b }, 10);
  close(r2.grads.a.dataSync(), [3, 0]);
  tf.dispose([a, b, ...Object.values(r.grads), ...Object.values(r2.grads)]);
});

test("optimizer steps do not leak tensors and bad options name the option", () => {
  const set = createVariables({ w: tf.randomNormal([4, 3], 0, 1, "float32", 1) });
  for (const o of [{ kind: "sgd", momentum: 0.9, nesterov: true }, { kind: "adam" }, { kind: "rmsprop", momentum: 0.9 }, { kind: "asgd", averageFromStart: true }] as const) {
    const opt = new Optimizer(o, set.variables);
    const g = tf.onesLike(set.variables.w);
    opt.step({ w: g }, 0.1); // creates slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) opt.step({ w: g }, 0.1);
    assert.equal(tf.memory().numTensors, before, o.kind);
    g.dispose();
    opt.dispose();
  }
  assert.throws(() => new Optimizer({ kind: "sgd", nesterov: true }, set.variables), /nesterov/);
  assert.throws(() => new Optimizer({ kind: "adam", beta1: 1.5 }, set.variables), /beta1/);
  set.dispose();
});

test("optimizer state round-trips through JSON-free serialization: resumed updates equal uninterrupted ones", () => {
  for (const options of [{ kind: "adam" }, { kind: "rmsprop", momentum: 0.5 }, { kind: "sgd", momentum: 0.9, nesterov: true }] as const) {
    const a = createVariables({ w: tf.tensor1d([1, -2]) });
    const b = createVariables({ w: tf.tensor1d([1, -2]) });
    const optA = new Optimizer(options, a.variables);
    const optB = new Optimizer(options, b.variables);
    const step = (opt: Optimizer, g: number[]) => { const t = tf.tensor1d(g); opt.step({ w: t }, 0.05); t.dispose(); };
    step(optA, G[0]); step(optA, G[1]); step(optA, G[2]);
    step(optB, G[0]); step(optB, G[1]);
    // "checkpoint" B: copy the parameter and the optimizer state into fresh objects, continue there
    const c = createVariables({ w: tf.tensor1d(Array.from(b.variables.w.dataSync())) });
    const optC = new Optimizer(options, c.variables);
    optC.importState(optB.exportState());
    step(optC, G[2]);
    assert.deepEqual(Array.from(c.variables.w.dataSync()), Array.from(a.variables.w.dataSync()), options.kind);
    assert.equal(optC.steps, 3);
    for (const o of [optA, optB, optC]) o.dispose();
    for (const s of [a, b, c]) s.dispose();
  }
});
