import { before, test } from "node:test";
import assert from "node:assert/strict";
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import {
  compressGateBlocks,
  findLstmKernels,
  LossAccumulator,
  precisionRound,
  roundAndClip,
  roundToGrid,
  truncatedSvd,
  type ParameterTree,
} from "../src/index";

before(async () => {
  await selectBackend();
});

function randomMatrix(rng: Rng, rows: number, columns: number, scale = 0.5): Float32Array {
  const out = new Float32Array(rows * columns);
  for (let index = 0; index < out.length; index++) out[index] = scale * rng.normal();
  return out;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let index = 0; index < a.length; index++) max = Math.max(max, Math.abs(a[index] - b[index]));
  return max;
}

test("roundToGrid: exact binary cases (half to even) and a tiny grid leaves values unchanged", () => {
  assert.deepEqual(Array.from(roundToGrid([0.25, 0.75, -0.25, 1.3, -1.3], 0.5)), [0, 1, 0, 1.5, -1.5]);
  const values = randomMatrix(new Rng(1), 10, 10);
  assert.ok(maxAbsDifference(roundToGrid(values, 1e-7), values) < 1e-7);
  assert.throws(() => roundToGrid(values, 0), /roundToGrid\(step\)/);
});

test("roundAndClip gives at most 5 levels {-2r, -r, 0, r, 2r}", () => {
  const step = 0.1;
  const compressed = roundAndClip(randomMatrix(new Rng(2), 20, 20), step);
  const levels = new Set(compressed);
  assert.ok(levels.size <= 5 && levels.size >= 4, `levels: ${[...levels]}`);
  const allowed = new Set(Array.from(new Float32Array([-0.2, -0.1, 0, 0.1, 0.2])));
  for (const level of levels) assert.ok(allowed.has(level) || level === 0, `unexpected level ${level}`);
  assert.deepEqual(Array.from(roundAndClip([5, -5, 0.14], 1)), [2, -2, 0]);
});

test("precisionRound clips to [-1, 1] and rounds to 1/k", () => {
  assert.deepEqual(Array.from(precisionRound([3.7, -2, 0.4, 0.6], 1)), [1, -1, 0, 1]);
  assert.deepEqual(Array.from(precisionRound([0.26, -0.74], 4)), [0.25, -0.75]);
  const values = randomMatrix(new Rng(3), 8, 8, 0.2);
  assert.ok(maxAbsDifference(precisionRound(values, 1e7), values) < 1e-7);
});

test("truncatedSvd: full rank reproduces, error decreases with rank and matches Eckart-Young", () => {
  const rows = 12;
  const columns = 7;
  const values = randomMatrix(new Rng(4), rows, columns);
  assert.ok(maxAbsDifference(truncatedSvd(values, rows, columns, columns), values) < 1e-5);
  assert.ok(maxAbsDifference(truncatedSvd(values, rows, columns, 100), values) < 1e-5); // clamped rank
  // Also for a wide matrix (the decomposition transposes internally).
  const wide = randomMatrix(new Rng(5), 3, 9);
  assert.ok(maxAbsDifference(truncatedSvd(wide, 3, 9, 3), wide) < 1e-5);

  const singularValues = new SingularValueDecomposition(new Matrix(Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * columns, (r + 1) * columns)))))
    .diagonal.slice()
    .sort((a, b) => b - a);
  let previousError = Infinity;
  for (let rank = 1; rank <= columns; rank++) {
    const approximation = truncatedSvd(values, rows, columns, rank);
    let errorSquares = 0;
    for (let index = 0; index < values.length; index++) errorSquares += (approximation[index] - values[index]) ** 2;
    const discarded = singularValues.slice(rank).reduce((sum, value) => sum + value * value, 0);
    assert.ok(Math.abs(errorSquares - discarded) < 1e-4, `rank ${rank}: ${errorSquares} vs ${discarded}`);
    assert.ok(errorSquares < previousError);
    previousError = errorSquares;
  }
});

function makeTree(rng: Rng): ParameterTree {
  const tensor = (rows: number, columns: number) => tf.tensor2d(randomMatrix(rng, rows, columns), [rows, columns]);
  const vector = (length: number) => tf.tensor1d(randomMatrix(rng, 1, length, 0.1));
  return {
    embedding: tensor(6, 3),
    layers: [
      { inputKernel: tensor(3, 16), recurrentKernel: tensor(4, 16), bias: vector(16) },
      { inputKernel: tensor(4, 16), recurrentKernel: tensor(4, 16), bias: vector(16) },
    ],
    gru: { inputKernel: tensor(3, 12), recurrentKernel: tensor(4, 12), bias: vector(12), recurrentBias: vector(12) },
    decoder: { kernel: tensor(4, 6), bias: vector(6) },
  };
}

const leaf = (tree: ParameterTree, path: string): tf.Tensor =>
  path.split(".").reduce((node: unknown, key) => (node as Record<string, unknown>)[key], tree) as tf.Tensor;

/** Mean NLL of a 2-layer LSTM LM (gate order i, f, g, o) on a fixed token sequence: a metric of the parameters. */
function languageModelPerplexity(tree: ParameterTree, tokens: number[]): number {
  return tf.tidy(() => {
    const losses = new LossAccumulator();
    const layers = [0, 1].map((index) => ({
      inputKernel: leaf(tree, `layers.${index}.inputKernel`),
      recurrentKernel: leaf(tree, `layers.${index}.recurrentKernel`),
      bias: leaf(tree, `layers.${index}.bias`),
    }));
    let states = layers.map(() => ({ h: tf.zeros([1, 4]), c: tf.zeros([1, 4]) }));
    for (let t = 0; t + 1 < tokens.length; t++) {
      let x: tf.Tensor = tf.gather(leaf(tree, "embedding"), [tokens[t]]); // [1, 3]
      states = layers.map((layer, index) => {
        const gates = tf.add(tf.add(tf.matMul(x, layer.inputKernel), tf.matMul(states[index].h, layer.recurrentKernel)), layer.bias); // [1, 16]
        const [i, f, g, o] = tf.split(gates, 4, 1);
        const c = tf.add(tf.mul(tf.sigmoid(f), states[index].c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        const h = tf.mul(tf.sigmoid(o), tf.tanh(c));
        x = h;
        return { h, c };
      });
      const logits = tf.add(tf.matMul(x, leaf(tree, "decoder.kernel")), leaf(tree, "decoder.bias")); // [1, 6]
      const nll = tf.neg(tf.gather(tf.logSoftmax(logits), [tokens[t + 1]], 1));
      losses.add(nll.dataSync()[0], 1);
    }
    return losses.perplexity();
  });
}

test("compressGateBlocks: default targets, only i/f blocks change, input untouched, no leaks", () => {
  const tree = makeTree(new Rng(6));
  assert.deepEqual(findLstmKernels(tree), ["layers.0.inputKernel", "layers.0.recurrentKernel", "layers.1.inputKernel", "layers.1.recurrentKernel"]);
  const snapshot = new Map<string, Float32Array>();
  const paths = ["embedding", "layers.0.inputKernel", "layers.0.recurrentKernel", "layers.0.bias", "layers.1.inputKernel", "layers.1.recurrentKernel", "gru.inputKernel", "gru.recurrentKernel", "decoder.kernel"];
  for (const path of paths) snapshot.set(path, Float32Array.from(leaf(tree, path).dataSync()));

  const before = tf.memory().numTensors;
  const { params, report } = compressGateBlocks(tree, { method: "roundAndClip", parameter: 0.1 });
  const leafCount = 1 + 2 * 3 + 4 + 2; // embedding, 2 LSTM layers x 3, GRU 4, decoder 2
  assert.equal(tf.memory().numTensors, before + leafCount);

  for (const path of paths) {
    assert.deepEqual(Array.from(leaf(tree, path).dataSync()), Array.from(snapshot.get(path)!), `input ${path} changed`);
  }
  assert.deepEqual(report.matrices.map((entry) => entry.path), findLstmKernels(tree));
  for (const entry of report.matrices) {
    const [rows, columns] = entry.shape;
    const block = columns / 4;
    const original = snapshot.get(entry.path)!;
    const compressed = leaf(params, entry.path).dataSync();
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++) {
        const index = row * columns + column;
        if (column >= 2 * block) assert.equal(compressed[index], original[index], `${entry.path}[${row},${column}] (g/o block) changed`);
      }
    }
    assert.ok(entry.levels! <= 5);
    assert.ok(entry.relativeError > 0.05);
    assert.deepEqual(entry.blocks.map((block) => block.gate), ["i", "f"]);
    assert.ok(maxAbsDifference(compressed, original) > 0);
  }
  for (const path of ["embedding", "layers.0.bias", "gru.inputKernel", "gru.recurrentKernel", "decoder.kernel"]) {
    assert.deepEqual(Array.from(leaf(params, path).dataSync()), Array.from(snapshot.get(path)!));
    assert.notEqual(leaf(params, path), leaf(tree, path)); // a copy the caller owns
  }
  tf.dispose(params as tf.Tensor[] & ParameterTree);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(tree as never);
});

test("tiny round grid and full-rank SVD leave the weights and the perplexity unchanged; heavy clip changes it", () => {
  const tree = makeTree(new Rng(8));
  const tokens = Array.from({ length: 20 }, (_, index) => (index * 7 + 3) % 6);
  const reference = languageModelPerplexity(tree, tokens);
  const specs = [
    { method: "round", parameter: 1e-7 },
    { method: "svd", parameter: 16 },
  ] as const;
  for (const spec of specs) {
    const { params, report } = compressGateBlocks(tree, { ...spec, gates: ["i", "f", "g", "o"] });
    for (const entry of report.matrices) {
      assert.ok(maxAbsDifference(leaf(params, entry.path).dataSync(), leaf(tree, entry.path).dataSync()) < 1e-5, `${spec.method} ${entry.path}`);
      assert.ok(entry.relativeError < 1e-5);
    }
    assert.ok(Math.abs(languageModelPerplexity(params, tokens) - reference) / reference < 1e-5, spec.method);
    tf.dispose(params as never);
  }
  // A grid step of 2 rounds almost every i/f weight to 0, so the gates fall back to σ(bias).
  const heavy = compressGateBlocks(tree, { method: "roundAndClip", parameter: 2 });
  const heavyPerplexity = languageModelPerplexity(heavy.params, tokens);
  assert.ok(Math.abs(heavyPerplexity - reference) / reference > 1e-3, `${heavyPerplexity} vs ${reference}`);
  tf.dispose(heavy.params as never);
  tf.dispose(tree as never);
});

test("SVD per gate block: report rank, error decreases with rank", () => {
  const tree = makeTree(new Rng(9));
  const errors = [1, 2, 3, 4].map((rank) => {
    const { params, report } = compressGateBlocks(tree, { method: "svd", parameter: rank, matrices: ["layers.0.recurrentKernel"] });
    tf.dispose(params as never);
    assert.deepEqual(report.matrices[0].blocks.map((block) => block.rank), [rank, rank]);
    return report.matrices[0].relativeError;
  });
  for (let index = 1; index < errors.length; index++) assert.ok(errors[index] < errors[index - 1], `${errors}`);
  assert.ok(errors[3] < 1e-5); // rank 4 is full rank for a [4, 4] block
  tf.dispose(tree as never);
});

test("bad specs name the key and leak nothing", () => {
  const tree = makeTree(new Rng(10));
  const before = tf.memory().numTensors;
  assert.throws(() => compressGateBlocks(tree, { method: "round", parameter: 0.1, gate: ["i"] } as never), /unknown key "gate"/);
  assert.throws(() => compressGateBlocks(tree, { method: "quantize" as never, parameter: 0.1 }), /spec.method/);
  assert.throws(() => compressGateBlocks(tree, { method: "round", parameter: -1 }), /spec.parameter/);
  assert.throws(() => compressGateBlocks(tree, { method: "round", parameter: 0.1, gates: ["x"] }), /"x" is not in gateOrder/);
  assert.throws(() => compressGateBlocks(tree, { method: "round", parameter: 0.1, matrices: ["layers.5.inputKernel"] }), /no tensor at "layers.5.inputKernel"/);
  assert.throws(() => compressGateBlocks(tree, { method: "round", parameter: 0.1, matrices: ["layers.0.bias"] }), /must be a 2-D/);
  const plain = { w: tf.zeros([2, 2]) };
  assert.throws(() => compressGateBlocks(plain, { method: "round", parameter: 0.1 }), /no LSTM layer/);
  tf.dispose(plain.w);
  // GRU blocks by explicit path and gate order.
  const gru = compressGateBlocks(tree, { method: "round", parameter: 0.1, matrices: ["gru.recurrentKernel"], gateOrder: ["r", "z", "n"], gates: ["z"] });
  assert.equal(gru.report.matrices[0].blocks[0].gate, "z");
  tf.dispose(gru.params as never);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose(tree as never);
});

test("tf.Variable leaves are read, copied to plain tensors, and left alive", () => {
  const rng = new Rng(11);
  const inputKernel = tf.variable(tf.tensor2d(randomMatrix(rng, 2, 8), [2, 8]));
  const recurrentKernel = tf.variable(tf.tensor2d(randomMatrix(rng, 2, 8), [2, 8]));
  const tree = { lstm: { inputKernel, recurrentKernel, bias: tf.variable(tf.zeros([8])) } };
  const { params, report } = compressGateBlocks(tree, { method: "round", parameter: 0.25 });
  assert.equal(report.matrices.length, 2);
  assert.ok(!(params.lstm.inputKernel instanceof tf.Variable));
  const compressed = params.lstm.inputKernel.dataSync(); // [2, 8]: i and f blocks are columns 0..3
  for (let row = 0; row < 2; row++) {
    for (let column = 0; column < 4; column++) assert.ok(compressed[row * 8 + column] % 0.25 === 0); // -0 counts as 0
  }
  tf.dispose(params as never);
  assert.equal(inputKernel.isDisposed, false);
  tf.dispose([inputKernel, recurrentKernel, tree.lstm.bias]);
});
