import { test } from "node:test";
import assert from "node:assert/strict";
import {
  stepDecayLearningRate, sgdrLearningRate, sgdrRestartEpochs, sgdrCycleIndex, plateauInitial, plateauObserve,
  learningRateAt, DecimatedCurve, validateSchedule, type CosineRestartsSchedule, type PlateauSchedule,
} from "../src";

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test("constant and step decay", () => {
  near(learningRateAt({ kind: "constant", learningRate: 0.3 }, 17), 0.3);
  const s = { kind: "step" as const, learningRate: 1, factor: 0.5, every: 2 };
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((e) => stepDecayLearningRate(s, e)), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  // Zaremba: 1 until epoch 4, then halve each epoch
  const z = { kind: "step" as const, learningRate: 1, factor: 0.5, every: 1, start: 4 };
  assert.deepEqual([3, 4, 5, 6].map((e) => stepDecayLearningRate(z, e)), [1, 0.5, 0.25, 0.125]);
});

test("SGDR: cosine values, doubling cycles, restart boundaries", () => {
  const s: CosineRestartsSchedule = { kind: "sgdr", learningRate: 1, minLearningRate: 0.1, period: 2, periodMultiplier: 2 };
  near(sgdrLearningRate(s, 0), 1);
  near(sgdrLearningRate(s, 1), 0.1 + 0.45 * (1 + Math.cos(Math.PI / 2))); // 0.55
  near(sgdrLearningRate(s, 2), 1); // restart
  near(sgdrLearningRate(s, 4), 0.1 + 0.45 * (1 + Math.cos(Math.PI / 2))); // middle of the 4-long cycle
  near(sgdrLearningRate(s, 6), 1);
  assert.deepEqual(sgdrRestartEpochs(s, 30), [2, 6, 14, 30]);
  assert.deepEqual([0, 1.9, 2, 5.9, 6, 13.99, 14].map((e) => sgdrCycleIndex(s, e)), [0, 0, 1, 1, 2, 2, 3]);
  const alt: CosineRestartsSchedule = { kind: "sgdr", learningRate: 1, period: 5, repeatFirstCycle: true };
  assert.deepEqual(sgdrRestartEpochs(alt, 320), [5, 10, 20, 40, 80, 160, 320]);
});

test("plateau reducer: patience, factor, floor", () => {
  const s: PlateauSchedule = { kind: "plateau", learningRate: 1, factor: 0.5, patience: 1, minLearningRate: 0.3 };
  let st = plateauInitial(s);
  const rates: number[] = [];
  for (const m of [5, 4, 4.5, 4.6, 3, 3.1, 3.2, 3.3, 3.4]) {
    st = plateauObserve(s, st, m);
    rates.push(st.learningRate);
  }
  assert.deepEqual(rates, [1, 1, 1, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]);
  near(learningRateAt(s, 0, st), 0.3);
});

test("bad schedule options name the option", () => {
  assert.throws(() => validateSchedule({ kind: "sgdr", learningRate: 1, period: 0 }), /period=0/);
  assert.throws(() => validateSchedule({ kind: "nope" } as never), /unknown/);
});

test("DecimatedCurve stays bounded and spans the run", () => {
  const c = new DecimatedCurve(16);
  for (let i = 0; i < 10000; i++) c.add(i, i);
  const v = c.values();
  assert.ok(v.length < 16 && v.length >= 8, `${v.length}`);
  assert.equal(v[0].step, 0);
  assert.ok(v[v.length - 1].step > 5000);
  const r = DecimatedCurve.fromJSON(JSON.parse(JSON.stringify(c)));
  assert.deepEqual(r.values(), v);
});
