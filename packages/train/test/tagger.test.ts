import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf, Rng } from "@rnnlab/core";
import {
  trainTagger,
  evaluateTagger,
  predictTags,
  taggerLogits,
  padTaggingBatch,
  disposeTaggingTensors,
  resolveTaggerConfig,
  taggedIdsFromSentences,
  wordCasing,
  initTaggerParams,
  type TaggedIds,
  type TaggerModelConfig,
  type TaggerTrainingResult,
} from "../src/tagger";

// Words: 0 pad; 1..4 person words, 5..7 location words, 8..14 other words.
// Tags: IOB2. An entity is 1-2 words of one type and is always followed by an "other" word, so B vs I
// depends on the previous word: the tagger needs context, not just a word->tag lookup.
const TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"];
const model: TaggerModelConfig = { vocabularySize: 15, tagCount: TAGS.length, embeddingSize: 16, hiddenSize: 16, padToken: 0 };

function taggingData(count: number, seed: number): TaggedIds {
  const rng = new Rng(seed);
  const words: number[][] = [];
  const tags: number[][] = [];
  for (let i = 0; i < count; i++) {
    const w: number[] = [];
    const t: number[] = [];
    const target = 3 + rng.int(6);
    while (w.length < target) {
      const r = rng.uniform();
      if (r < 0.5) {
        w.push(8 + rng.int(7));
        t.push(0);
      } else {
        const person = r < 0.75;
        const length = 1 + rng.int(2);
        for (let k = 0; k < length; k++) {
          w.push(person ? 1 + rng.int(4) : 5 + rng.int(3));
          t.push(person ? (k === 0 ? 1 : 2) : k === 0 ? 3 : 4);
        }
        w.push(8 + rng.int(7));
        t.push(0);
      }
    }
    words.push(w);
    tags.push(t);
  }
  return { words, tags };
}

const train = taggingData(150, 1);
const valid = taggingData(40, 2);
const base = { train, tagNames: TAGS, batchSize: 16, optimizer: { kind: "adam" as const }, schedule: { kind: "constant" as const, learningRate: 0.02 }, seed: 5 };
let trained: TaggerTrainingResult;

before(async () => {
  await selectBackend();
  trained = await trainTagger({ ...base, model, valid, epochs: 12 });
});

test("a tiny BiLSTM tagger overfits a generated tagging set (span F1 high)", () => {
  const onTrain = evaluateTagger(trained.config, trained.params, train, TAGS);
  assert.ok(onTrain.f1 > 95, `train F1 ${onTrain.f1}`);
  assert.ok(trained.final.validF1 > 90, `valid F1 ${trained.final.validF1}`);
  const fresh = initTaggerParams(trained.config, new Rng(11));
  const untrained = evaluateTagger(trained.config, fresh, train, TAGS);
  tf.dispose(fresh as unknown as tf.TensorContainer);
  assert.ok(untrained.f1 < 50, `untrained F1 ${untrained.f1}`);
});

test("padding does not change the tag scores of real tokens (both directions)", () => {
  const config = trained.config;
  const short = [[1, 2, 9]];
  const mixed = [[1, 2, 9], [5, 6, 10, 3, 11, 12, 13]];
  const one = padTaggingBatch(config, short, short.map((s) => s.map(() => 0)));
  const two = padTaggingBatch(config, mixed, mixed.map((s) => s.map(() => 0)));
  const alone = tf.tidy(() => taggerLogits(config, trained.params, one).arraySync()) as number[][][];
  const together = tf.tidy(() => taggerLogits(config, trained.params, two).arraySync()) as number[][][];
  for (let t = 0; t < 3; t++) {
    alone[t][0].forEach((v, c) => assert.ok(Math.abs(v - together[t][0][c]) < 1e-5, `t=${t} tag ${c}: ${v} vs ${together[t][0][c]}`));
  }
  disposeTaggingTensors(one);
  disposeTaggingTensors(two);
  // Loss of a batch = token-weighted mean: the padding of the short sentence counts nowhere.
  const lossShort = evaluateTagger(config, trained.params, { words: short, tags: [[1, 2, 0]] }, TAGS).loss;
  const lossLong = evaluateTagger(config, trained.params, { words: [mixed[1]], tags: [[3, 4, 0, 1, 0, 0, 0]] }, TAGS).loss;
  const lossBoth = evaluateTagger(config, trained.params, { words: mixed, tags: [[1, 2, 0], [3, 4, 0, 1, 0, 0, 0]] }, TAGS).loss;
  assert.ok(Math.abs(lossBoth - (3 * lossShort + 7 * lossLong) / 10) < 1e-5, `${lossBoth} vs ${(3 * lossShort + 7 * lossLong) / 10}`);
});

test("structured and elementwise dropout: deterministic per seed, no tensor leaks across steps", async () => {
  const small = { words: train.words.slice(0, 48), tags: train.tags.slice(0, 48) };
  for (const dropout of [{ kind: "structured" as const, rate: 0.3 }, { kind: "elementwise" as const, rate: 0.3 }]) {
    const start = tf.memory().numTensors;
    let counts: number[] = [];
    const options = { ...base, train: small, epochs: 2, logEvery: 1, model: { ...model, layers: 2, dropout } };
    const a = await trainTagger({ ...options, onProgress: (e) => void (e.kind === "step" && counts.push(tf.memory().numTensors)) });
    counts = counts.slice(1);
    assert.ok(counts.every((n) => n === counts[0]), `tensor counts during training: ${counts}`);
    const b = await trainTagger(options);
    const c = await trainTagger({ ...options, seed: 6 });
    assert.equal(a.final.trainLoss, b.final.trainLoss);
    assert.notEqual(a.final.trainLoss, c.final.trainLoss);
    const mid = tf.memory().numTensors;
    predictTags(a.config, a.params, valid);
    evaluateTagger(a.config, a.params, valid, TAGS);
    assert.equal(tf.memory().numTensors, mid);
    for (const r of [a, b, c]) r.variables.dispose();
    assert.equal(tf.memory().numTensors, start);
  }
});

test("bad tagger configuration names the offending option", () => {
  assert.throws(() => resolveTaggerConfig({ ...model, hiddenSize: 0 }), /"hiddenSize"/);
  assert.throws(() => resolveTaggerConfig({ ...model, characterEmbedding: 8 } as never), /unknown option "characterEmbedding"/);
  assert.throws(() => resolveTaggerConfig({ ...model, dropout: { kind: "structured", rate: 1.5 } }), /rate/);
  assert.throws(() => evaluateTagger(trained.config, trained.params, valid, TAGS.slice(1)), /tag names/);
});

test("sentences from @rnnlab/data vocabularies: ids via taggedIdsFromSentences, a predicted <pad> tag counts as O", () => {
  const words = new Map([["<pad>", 0], ["<unk>", 1], ["Ann", 2], ["runs", 3]]);
  const tags = new Map([["<pad>", 0], ["B-PER", 1], ["O", 2]]);
  const vocabularies = { words: { id: (w: string) => words.get(w) ?? 1 }, tags: { id: (t: string) => tags.get(t)! } };
  const ids = taggedIdsFromSentences([{ words: ["Ann", "runs", "fast"], tags: ["B-PER", "O", "O"] }], vocabularies);
  assert.deepEqual(ids, { words: [[2, 3, 1]], tags: [[1, 2, 2]], casing: [[2, 1, 1]] });
  // An untrained 3-tag model may predict id 0 ("<pad>"); evaluation must not choke on it.
  const config = resolveTaggerConfig({ ...model, vocabularySize: 4, tagCount: 3 });
  const params = initTaggerParams(config, new Rng(3));
  const result = evaluateTagger(config, params, ids, ["<pad>", "B-PER", "O"]);
  assert.ok(Number.isFinite(result.loss) && result.f1 >= 0 && result.f1 <= 100);
  tf.dispose(params as unknown as tf.TensorContainer);
});

test("casing classes, and a casing feature the tagger needs: the tag is given by capitalisation alone", async () => {
  assert.deepEqual(["the", "Paris", "IBM", "iPhone", "1,000", "A4", "--", "I", "McDonald"].map(wordCasing), [1, 2, 3, 4, 5, 6, 7, 2, 4]);
  // Every word id is shared by a capitalised (B-PER) and a lowercase (O) use: without casing the words
  // alone cannot tell them apart, with the casing feature the tagger can.
  const rng = new Rng(7);
  const data = { words: [] as number[][], tags: [] as number[][], casing: [] as number[][] };
  for (let i = 0; i < 120; i++) {
    const n = 3 + rng.int(4);
    const words = Array.from({ length: n }, () => 1 + rng.int(10));
    const caps = words.map(() => rng.uniform() < 0.3);
    data.words.push(words);
    data.tags.push(caps.map((c) => (c ? 1 : 0)));
    data.casing.push(caps.map((c) => (c ? 2 : 1)));
  }
  const names = ["O", "B-PER"];
  const common = { ...base, train: data, tagNames: names, epochs: 8, model: { ...model, vocabularySize: 11, tagCount: 2 } };
  const withCasing = await trainTagger({ ...common, model: { ...common.model, casingEmbeddingSize: 4 } });
  const without = await trainTagger({ ...common, train: { words: data.words, tags: data.tags } });
  const f1With = evaluateTagger(withCasing.config, withCasing.params, data, names).f1;
  const f1Without = evaluateTagger(without.config, without.params, { words: data.words, tags: data.tags }, names).f1;
  assert.ok(f1With > 95, `with casing F1 ${f1With}`);
  assert.ok(f1Without < 70, `without casing F1 ${f1Without}`);
  assert.throws(() => evaluateTagger(withCasing.config, withCasing.params, { words: data.words, tags: data.tags }, names), /casing/);
  withCasing.variables.dispose();
  without.variables.dispose();
});
