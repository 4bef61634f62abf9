import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf, Rng } from "@rnnlab/core";
import { crfLogPartition, crfSequenceScore, crfNegativeLogLikelihood, crfViterbi, type CrfParams } from "../src/tagger-crf";
import { trainTagger, evaluateTagger, initTaggerParams, resolveTaggerConfig, padTaggingBatch, disposeTaggingTensors, taggerLoss } from "../src/tagger";

before(async () => {
  await selectBackend();
});

const C = 3;
const T = 4;
const lengths = [4, 2]; // the second sentence has 2 padding steps

function randomCrf(rng: Rng): { crf: CrfParams; emissions: tf.Tensor3D; e: number[][][]; A: number[][]; start: number[]; end: number[] } {
  const e = Array.from({ length: T }, () => Array.from({ length: lengths.length }, () => Array.from({ length: C }, () => rng.normal())));
  const A = Array.from({ length: C }, () => Array.from({ length: C }, () => rng.normal()));
  const start = Array.from({ length: C }, () => rng.normal());
  const end = Array.from({ length: C }, () => rng.normal());
  return { crf: { transitions: tf.tensor2d(A), start: tf.tensor1d(start), end: tf.tensor1d(end) }, emissions: tf.tensor3d(e), e, A, start, end };
}

/** Every tag sequence of length n. */
function* sequences(n: number): Generator<number[]> {
  if (n === 0) {
    yield [];
    return;
  }
  for (const head of sequences(n - 1)) for (let c = 0; c < C; c++) yield [...head, c];
}

function bruteScore(m: ReturnType<typeof randomCrf>, b: number, y: number[]): number {
  let s = m.start[y[0]] + m.end[y[y.length - 1]];
  y.forEach((tag, t) => {
    s += m.e[t][b][tag];
    if (t > 0) s += m.A[y[t - 1]][tag];
  });
  return s;
}

test("CRF log-partition, gold score and Viterbi equal brute-force enumeration (with padding)", () => {
  const m = randomCrf(new Rng(1));
  const logZ = crfLogPartition(m.crf, m.emissions, lengths).arraySync();
  const paths = crfViterbi(m.crf, m.emissions, lengths);
  const gold = [[0, 2, 1, 1], [2, 0, 0, 0]]; // sentence 1's last two entries are padding
  const goldTensor = tf.tensor2d(Array.from({ length: T }, (_, t) => gold.map((g) => g[t])), [T, 2], "int32");
  const scores = crfSequenceScore(m.crf, m.emissions, goldTensor, lengths).arraySync();
  lengths.forEach((n, b) => {
    let total = 0;
    let best = -Infinity;
    let bestPath: number[] = [];
    for (const y of sequences(n)) {
      const s = bruteScore(m, b, y);
      total += Math.exp(s);
      if (s > best) {
        best = s;
        bestPath = y;
      }
    }
    assert.ok(Math.abs(logZ[b] - Math.log(total)) < 1e-4, `sentence ${b}: log Z ${logZ[b]} vs ${Math.log(total)}`);
    assert.deepEqual(paths[b], bestPath, `sentence ${b}: Viterbi`);
    assert.ok(Math.abs(scores[b] - bruteScore(m, b, gold[b].slice(0, n))) < 1e-4, `sentence ${b}: gold score`);
  });
  tf.dispose([m.crf.transitions, m.crf.start, m.crf.end, m.emissions, goldTensor]);
});

test("CRF NLL gradient matches central finite differences (transitions)", () => {
  const m = randomCrf(new Rng(2));
  const tags = tf.tensor2d([[0, 1], [2, 2], [1, 0], [1, 0]], [T, 2], "int32");
  const f = (A: tf.Tensor) => crfNegativeLogLikelihood({ ...m.crf, transitions: A as tf.Tensor2D }, m.emissions, tags, lengths);
  const grad = tf.grad(f)(m.crf.transitions).arraySync() as number[][];
  const h = 1e-2;
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      const plus = m.A.map((r) => r.slice());
      const minus = m.A.map((r) => r.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      const fd = (tf.tidy(() => f(tf.tensor2d(plus)).dataSync()[0]) - tf.tidy(() => f(tf.tensor2d(minus)).dataSync()[0])) / (2 * h);
      assert.ok(Math.abs(grad[i][j] - fd) < 2e-3, `[${i},${j}] ${grad[i][j]} vs ${fd}`);
    }
  }
  tf.dispose([m.crf.transitions, m.crf.start, m.crf.end, m.emissions, tags]);
});

test("a BiLSTM-CRF tagger learns a transition rule the words alone do not give, and padding leaves its loss unchanged", async () => {
  // Words 1..6 are ambiguous: after an entity word a word of the same kind is I-, otherwise B-.
  // Tags: 0 O, 1 B-X, 2 I-X. Words 1..3 are entity words, 4..6 other words.
  const rng = new Rng(4);
  const words: number[][] = [];
  const tags: number[][] = [];
  for (let i = 0; i < 100; i++) {
    const w = Array.from({ length: 3 + rng.int(5) }, () => 1 + rng.int(6));
    words.push(w);
    tags.push(w.map((x, t) => (x > 3 ? 0 : t > 0 && w[t - 1] <= 3 ? 2 : 1)));
  }
  const names = ["O", "B-X", "I-X"];
  const run = await trainTagger({
    model: { vocabularySize: 7, tagCount: 3, embeddingSize: 8, hiddenSize: 8, padToken: 0, crf: true },
    train: { words, tags }, tagNames: names, epochs: 10, batchSize: 16, optimizer: { kind: "adam" }, schedule: { kind: "constant", learningRate: 0.03 }, seed: 1,
  });
  const result = evaluateTagger(run.config, run.params, { words, tags }, names);
  assert.ok(result.f1 > 95, `CRF tagger F1 ${result.f1}`);
  const transitions = run.params.crf!.transitions.arraySync() as number[][];
  assert.ok(transitions[0][2] < transitions[1][2], `O -> I-X (${transitions[0][2]}) should score below B-X -> I-X (${transitions[1][2]})`);
  // Padding: one sentence alone vs. in a batch with a longer one gives the same summed NLL.
  const config = run.config;
  const alone = padTaggingBatch(config, [words[0]], [tags[0]]);
  const long = words.findIndex((w) => w.length > words[0].length);
  const both = padTaggingBatch(config, [words[0], words[long]], [tags[0], tags[long]]);
  const second = padTaggingBatch(config, [words[long]], [tags[long]]);
  const loss = (b: ReturnType<typeof padTaggingBatch>) => {
    const l = taggerLoss(config, run.params, b);
    const v = l.dataSync()[0] * b.lengths.reduce((x, y) => x + y, 0);
    l.dispose();
    return v;
  };
  assert.ok(Math.abs(loss(both) - loss(alone) - loss(second)) < 1e-4);
  [alone, both, second].forEach(disposeTaggingTensors);
  run.variables.dispose();
});

test("crf option is validated and its parameters exist only when asked for", () => {
  assert.throws(() => resolveTaggerConfig({ vocabularySize: 5, tagCount: 3, embeddingSize: 4, hiddenSize: 4, padToken: 0, crf: "yes" as never }), /"crf"/);
  const config = resolveTaggerConfig({ vocabularySize: 5, tagCount: 3, embeddingSize: 4, hiddenSize: 4, padToken: 0 });
  const params = initTaggerParams(config, new Rng(1));
  assert.equal(params.crf, undefined);
  tf.dispose(params as unknown as tf.TensorContainer);
});
