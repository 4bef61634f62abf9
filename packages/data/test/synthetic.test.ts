import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "@rnnlab/core";
import {
  COPY_BLANK,
  COPY_MARKER,
  addingBaselineMse,
  copyingBaselineCrossEntropy,
  denoiseBaselineCrossEntropy,
  generateAdding,
  generateCopying,
  generateDenoise,
  generateParenthesis,
  parenthesisAverageMarginal,
  parenthesisBaselineCrossEntropy,
  parenthesisBaselineMse,
} from "../src/synthetic";

test("adding: one marker in each half, target = sum of marked values; predicting 1 scores MSE ≈ 1/6", () => {
  const T = 50;
  const batch = generateAdding(new Rng(1), 20000, T);
  assert.equal(batch.inputs.length, 20000 * T * 2);
  let mse = 0;
  for (let b = 0; b < 20000; b++) {
    const marked: number[] = [];
    let sum = 0;
    for (let t = 0; t < T; t++)
      if (batch.inputs[(b * T + t) * 2 + 1] === 1) {
        marked.push(t);
        sum += batch.inputs[(b * T + t) * 2];
      }
    assert.equal(marked.length, 2);
    assert.ok(marked[0] < 25 && marked[1] >= 25);
    assert.ok(Math.abs(batch.targets[b] - sum) < 1e-6);
    mse += (batch.targets[b] - 1) ** 2 / 20000;
  }
  assert.equal(addingBaselineMse(), 1 / 6);
  assert.ok(Math.abs(mse - 1 / 6) < 0.006, `empirical MSE ${mse}`);
  assert.deepEqual(generateAdding(new Rng(1), 3, 10).inputs, generateAdding(new Rng(1), 3, 10).inputs);
});

test("copying: layout, marker at T+9, targets = the first 10 inputs after T+10 blanks; data entropy ≈ ln 8", () => {
  const T = 30;
  const batch = generateCopying(new Rng(2), 4000, T);
  const L = T + 20;
  assert.equal(batch.length, L);
  assert.equal(batch.inputSymbols, 10);
  assert.equal(batch.targetClasses, 9);
  const counts = new Array(9).fill(0);
  for (let b = 0; b < 4000; b++) {
    const row = b * L;
    for (let t = 0; t < L; t++) {
      const x = batch.inputs[row + t];
      if (t < 10) assert.ok(x >= 1 && x <= 8);
      else assert.equal(x, t === T + 9 ? COPY_MARKER : COPY_BLANK);
      const y = batch.targets[row + t];
      if (t < T + 10) assert.equal(y, COPY_BLANK);
      else {
        assert.equal(y, batch.inputs[row + t - T - 10]);
        counts[y]++;
      }
    }
  }
  const total = 40000;
  const entropy = counts.slice(1).reduce((s, c) => s - (c / total) * Math.log(c / total), 0);
  assert.ok(Math.abs(entropy - Math.log(8)) < 0.01, `empirical data entropy ${entropy}`);
  // Memoryless baseline: blank known, then uniform over 8, averaged over T+20 steps.
  assert.ok(Math.abs(copyingBaselineCrossEntropy(100) - 0.17329) < 1e-4);
  assert.ok(Math.abs(copyingBaselineCrossEntropy(T) - (10 * entropy) / L) < 0.002);
});

test("denoise: distinct ordered positions (no collisions), explicit marker symbol, targets in order", () => {
  const T = 15;
  const n = 9;
  const batch = generateDenoise(new Rng(3), 500, T);
  const L = T + 20;
  assert.equal(batch.inputSymbols, n + 2);
  assert.equal(batch.targetClasses, n + 1);
  for (let b = 0; b < 500; b++) {
    const row = b * L;
    const data: number[] = [];
    for (let t = 0; t < T; t++) if (batch.inputs[row + t] !== 0) data.push(batch.inputs[row + t]);
    assert.equal(data.length, 10, "10 data symbols at distinct positions");
    for (let t = T; t < L; t++) assert.equal(batch.inputs[row + t], t === T + 9 ? n + 1 : 0);
    assert.deepEqual([...batch.targets.subarray(row + T + 10, row + L)], data);
    assert.ok(batch.targets.subarray(row, row + T + 10).every((y) => y === 0));
  }
  assert.ok(Math.abs(denoiseBaselineCrossEntropy(100) - (10 * Math.log(9)) / 120) < 1e-12);
  assert.throws(() => generateDenoise(new Rng(0), 1, 5), /length must be >= 10/);
});

test("parenthesis: targets are the saturating unclosed counts of each bracket type", () => {
  const T = 60;
  const batch = generateParenthesis(new Rng(4), 200, T);
  for (let b = 0; b < 200; b++) {
    const counts = [0, 0, 0];
    for (let t = 0; t < T; t++) {
      const ch = "()[]{}a"[batch.inputs[b * T + t]];
      const type = "([{".indexOf(ch) >= 0 ? "([{".indexOf(ch) : ")]}".indexOf(ch);
      if (type >= 0) counts[type] = "([{".includes(ch) ? Math.min(5, counts[type] + 1) : Math.max(0, counts[type] - 1);
      assert.deepEqual([...batch.targets.subarray((b * T + t) * 3, (b * T + t) * 3 + 3)], counts);
    }
  }
});

test("parenthesis baseline: the constant predictor's cross-entropy and MSE match generated data", () => {
  const T = 40;
  const q = parenthesisAverageMarginal(T);
  assert.ok(Math.abs(q.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  const batch = generateParenthesis(new Rng(5), 3000, T);
  let crossEntropy = 0;
  let squared = 0;
  const n = batch.targets.length;
  for (const c of batch.targets) {
    crossEntropy -= Math.log(q[c]) / n;
    for (let k = 0; k < 6; k++) squared += ((k === c ? 1 : 0) - q[k]) ** 2 / n;
  }
  assert.ok(Math.abs(crossEntropy - parenthesisBaselineCrossEntropy(T)) < 0.01, `${crossEntropy} vs ${parenthesisBaselineCrossEntropy(T)}`);
  assert.ok(Math.abs(squared - parenthesisBaselineMse(T)) < 0.005, `${squared} vs ${parenthesisBaselineMse(T)}`);
  assert.ok(parenthesisBaselineCrossEntropy(T, { timeAware: true }) < parenthesisBaselineCrossEntropy(T));
  // Long sequences: the counter's stationary distribution is uniform, so the baseline tends to ln 6.
  assert.ok(Math.abs(parenthesisBaselineCrossEntropy(20000) - Math.log(6)) < 1e-3);
  assert.ok(parenthesisBaselineCrossEntropy(10) < parenthesisBaselineCrossEntropy(40), "short sequences stay near count 0: lower baseline");
});
