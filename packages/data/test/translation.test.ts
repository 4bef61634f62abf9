import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { Rng } from "@rnnlab/core";
import { BytePairEncoding, mergePair, wordSymbols } from "../src/bpe";
import {
  BOS_ID,
  END_ID,
  PAD_ID,
  UNKNOWN_ID,
  applyBpeToSplit,
  buildTranslationVocabulary,
  detokenize,
  encodePairs,
  filterByLength,
  loadTranslationCorpus,
  makeTranslationBatches,
  prepareTranslationTask,
  readParallelFiles,
} from "../src/translation";
import { realDataDirectory, temporaryDirectory, writeFixture } from "./helpers";

test("readParallelFiles: misaligned files fail with file:line; empty pairs are dropped and counted", () => {
  const dir = temporaryDirectory();
  const de = writeFixture(dir, "a.de", "ein hund\nzwei\n\ndrei katzen\n");
  const en = writeFixture(dir, "a.en", "a dog\ntwo\nempty source\nthree cats\n");
  const split = readParallelFiles(de, en);
  assert.equal(split.source.length, 3);
  assert.equal(split.dropped.emptyPairs, 1);
  assert.deepEqual(split.lineNumbers, [1, 2, 4]);
  assert.deepEqual(split.target[2], ["three", "cats"]);
  const short = writeFixture(dir, "b.en", "a dog\ntwo\n");
  assert.throws(() => readParallelFiles(de, short), new RegExp(`a\\.de:3: misaligned parallel files: .*a\\.de has 4 lines but .*b\\.en has 2`));
  const empty = writeFixture(dir, "c.en", "");
  assert.throws(() => readParallelFiles(de, empty), /c\.en: empty file/);
  const bad = writeFixture(dir, "d.en", Buffer.concat([Buffer.from("ok\nok\n"), Buffer.from([0xe2, 0x82]), Buffer.from("\nok\n")]));
  assert.throws(() => readParallelFiles(de, bad), /d\.en:3: invalid UTF-8/);
});

test("translation vocabulary: <pad>=0 <unk>=1 <s>=2 </s>=3, frequency order, size cap and min frequency", () => {
  const v = buildTranslationVocabulary([["b", "a", "a", "c"], ["a", "b", "d"]], { maxSize: 6 });
  assert.deepEqual(v.tokens, ["<pad>", "<unk>", "<s>", "</s>", "a", "b"]);
  assert.deepEqual([PAD_ID, UNKNOWN_ID, BOS_ID, END_ID], [0, 1, 2, 3]);
  assert.equal(v.id("d"), UNKNOWN_ID);
  assert.deepEqual(buildTranslationVocabulary([["x", "y", "x"]], { minFrequency: 2 }).tokens.slice(4), ["x"]);
});

function toyPairs(rng: Rng, n: number) {
  const source: Int32Array[] = [];
  const target: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    source.push(Int32Array.from({ length: 1 + rng.int(20) }, () => 4 + rng.int(50)));
    target.push(Int32Array.from({ length: 1 + rng.int(20) }, () => 4 + rng.int(50)));
  }
  return { source, target };
}

test("makeTranslationBatches: padding, masks, <s>/</s>, every pair once, bucketed, seeded", () => {
  const pairs = toyPairs(new Rng(3), 103);
  const batches = makeTranslationBatches(pairs, { batchSize: 10, rng: new Rng(7) });
  assert.equal(batches.length, 11);
  const seen = batches.flatMap((b) => [...b.indices]).sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: 103 }, (_, i) => i));
  for (const b of batches) {
    for (let r = 0; r < b.batchSize; r++) {
      const s = pairs.source[b.indices[r]];
      const t = pairs.target[b.indices[r]];
      assert.deepEqual([...b.source.subarray(r * b.sourceLength, r * b.sourceLength + s.length)], [...s]);
      assert.equal(b.sourceLengths[r], s.length);
      const sm = [...b.sourceMask.subarray(r * b.sourceLength, (r + 1) * b.sourceLength)];
      assert.equal(sm.reduce((x, y) => x + y, 0), s.length);
      assert.ok(b.source.subarray(r * b.sourceLength + s.length, (r + 1) * b.sourceLength).every((x) => x === PAD_ID));
      const ti = [...b.targetInput.subarray(r * b.targetLength, r * b.targetLength + t.length + 1)];
      const to = [...b.targetOutput.subarray(r * b.targetLength, r * b.targetLength + t.length + 1)];
      assert.deepEqual(ti, [BOS_ID, ...t]);
      assert.deepEqual(to, [...t, END_ID]);
      const tm = [...b.targetMask.subarray(r * b.targetLength, (r + 1) * b.targetLength)];
      assert.equal(tm.reduce((x, y) => x + y, 0), t.length + 1);
    }
  }
  // Bucketing: far less source padding than batches in random order.
  const padding = (bs: typeof batches) => bs.reduce((n, b) => n + b.sourceMask.length - b.sourceMask.reduce((x, y) => x + y, 0), 0);
  const unbucketed = makeTranslationBatches(pairs, { batchSize: 10, rng: new Rng(7), bucketByLength: false });
  assert.ok(padding(batches) * 4 < padding(unbucketed), `padding ${padding(batches)} vs ${padding(unbucketed)}`);
  const again = makeTranslationBatches(pairs, { batchSize: 10, rng: new Rng(7) });
  assert.deepEqual(again.map((b) => [...b.indices]), batches.map((b) => [...b.indices]));
  const other = makeTranslationBatches(pairs, { batchSize: 10, rng: new Rng(8) });
  assert.notDeepEqual(other.map((b) => [...b.indices]), batches.map((b) => [...b.indices]));
  const withEnd = makeTranslationBatches({ source: [Int32Array.of(5, 6)], target: [Int32Array.of(7)] }, { batchSize: 4, sourceEnd: true });
  assert.deepEqual([...withEnd[0].source], [5, 6, END_ID]);
});

test("filterByLength drops and counts pairs outside the range", () => {
  const dir = temporaryDirectory();
  const split = readParallelFiles(writeFixture(dir, "x.de", "a b c\na\na b c d e\n"), writeFixture(dir, "x.en", "a\na b\na b\n"));
  const { split: kept, dropped } = filterByLength(split, { maxSourceLength: 3, maxTargetLength: 1 });
  assert.equal(dropped, 2);
  assert.deepEqual(kept.lineNumbers, [1]);
  assert.equal(kept.references.length, 1);
});

/** Reference BPE: recount every pair after every merge (slow, obviously correct). */
function naiveBpe(frequencies: Map<string, number>, numMerges: number, minFrequency = 2): [string, string][] {
  let words = [...frequencies.entries()].map(([w, c]) => ({ symbols: wordSymbols(w), count: c }));
  const merges: [string, string][] = [];
  while (merges.length < numMerges) {
    const counts = new Map<string, number>();
    for (const w of words)
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const k = `${w.symbols[i]}\u0000${w.symbols[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + w.count);
      }
    let best: [string, string] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [l, r] = k.split("\u0000");
      if (c > bestCount || (c === bestCount && best && (l > best[0] || (l === best[0] && r > best[1])))) {
        best = [l, r];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    merges.push(best);
    words = words.map((w) => ({ symbols: mergePair(w.symbols, best![0], best![1]), count: w.count }));
  }
  return merges;
}

test("BPE: Sennrich's toy corpus, with subword-nmt's glued </w> and (count, pair) tie-break", () => {
  const corpus = new Map([["low", 5], ["lower", 2], ["newest", 6], ["widest", 3]]);
  const bpe = BytePairEncoding.learn(corpus, 10);
  // "e s" and "s t</w>" both occur 9 times; the larger pair wins the tie, as in subword-nmt.
  assert.deepEqual(bpe.merges.slice(0, 4), [["s", "t</w>"], ["e", "st</w>"], ["l", "o"], ["w", "est</w>"]]);
  assert.deepEqual(bpe.merges, naiveBpe(corpus, 10));
  assert.deepEqual(bpe.apply(["lowest", "x"]), ["lo@@", "west", "x"]);
  assert.deepEqual(bpe.segmentWord("newest"), ["newest"]);
  const all = BytePairEncoding.learn(corpus, 100);
  assert.ok(all.merges.length < 100, "stops when the best pair is rarer than minFrequency 2");
  assert.deepEqual(all.merges, naiveBpe(corpus, 100));
  const withRare = new Map([...corpus, ["xyz", 1]]);
  assert.equal(BytePairEncoding.learn(withRare, 100).merges.length, all.merges.length);
  assert.equal(BytePairEncoding.learn(withRare, 100, { minFrequency: 1 }).merges.length, all.merges.length + 2);
});

test("BPE: incremental learning equals the naive recount on a random corpus; apply/join round trip; codes round trip", () => {
  const rng = new Rng(11);
  const letters = "abcdeéfg";
  const frequencies = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const word = Array.from({ length: 1 + rng.int(8) }, () => letters[rng.int(letters.length)]).join("");
    frequencies.set(word, (frequencies.get(word) ?? 0) + 1 + rng.int(5));
  }
  const fast = BytePairEncoding.learn(frequencies, 150);
  assert.deepEqual(fast.merges, naiveBpe(frequencies, 150));
  assert.ok(fast.merges.length > 50);
  const sentence = ["abc", "gfedcba", "é", "aaaa"];
  const units = fast.apply(sentence);
  assert.deepEqual(BytePairEncoding.join(units), sentence);
  assert.ok(units.slice(0, -1).some((u) => u.endsWith("@@")));
  const reloaded = BytePairEncoding.fromCodes(fast.toCodes());
  assert.deepEqual(reloaded.apply(sentence), units);
  assert.throws(() => BytePairEncoding.fromCodes("#version: 0.2\na b c\n", "codes.txt"), /codes\.txt:2: expected "left right"/);
});

test("detokenize undoes Moses escapes, BPE and punctuation spacing", () => {
  assert.equal(detokenize(["I", "didn&apos;t", "say", "&quot;", "no", "&quot;", ",", "it", "&apos;s", "fi@@", "ne", "."]), `I didn't say " no ", it's fine.`);
  assert.equal(detokenize(["a", "(", "b", ")", "c", "'s", "n't"]), "a (b) c'sn't");
});

test("loadTranslationCorpus: Multi30k layout (tok + gzip raw references), direction, IWSLT'15 train absent", () => {
  const dir = temporaryDirectory();
  const m = "multi30k_de_en";
  const splits = { train: "train", val: "val", test_2016_flickr: "test_2016_flickr" };
  for (const name of Object.values(splits)) {
    writeFixture(dir, `${m}/tok/${name}.lc.norm.tok.de`, "ein hund .\nzwei katzen .\n");
    writeFixture(dir, `${m}/tok/${name}.lc.norm.tok.en`, "a dog .\ntwo cats .\n");
    writeFixture(dir, `${m}/raw/${name}.en.gz`, zlib.gzipSync("A dog.\nTwo cats.\n"));
    writeFixture(dir, `${m}/raw/${name}.de.gz`, zlib.gzipSync("Ein Hund.\nZwei Katzen.\n"));
  }
  const corpus = loadTranslationCorpus(m, { dataDir: dir, verify: false });
  assert.equal(corpus.sourceLanguage, "de");
  assert.deepEqual(corpus.splits.train!.source[1], ["zwei", "katzen", "."]);
  assert.deepEqual(corpus.splits.test!.references, ["A dog.", "Two cats."]);
  const reverse = loadTranslationCorpus(m, { dataDir: dir, verify: false, sourceLanguage: "en", targetLanguage: "de", splits: ["valid"] });
  assert.deepEqual(reverse.splits.valid!.references, ["Ein Hund.", "Zwei Katzen."]);
  assert.equal(reverse.splits.train, undefined);
  assert.throws(() => loadTranslationCorpus(m, { dataDir: dir, sourceLanguage: "fr" }), /sourceLanguage "fr" must be one of de, en/);
  fs.rmSync(path.join(dir, m, "raw", "test_2016_flickr.en.gz"));
  const fallback = loadTranslationCorpus(m, { dataDir: dir, verify: false, splits: ["test"] });
  assert.deepEqual(fallback.splits.test!.references, ["a dog.", "two cats."], "no raw file: detokenized lowercased target");
  writeFixture(dir, `${m}/raw/val.en.gz`, zlib.gzipSync("A dog.\n"));
  assert.throws(() => loadTranslationCorpus(m, { dataDir: dir, verify: false, splits: ["valid"] }), /val\.en\.gz: 1 lines, but .* has 2/);
  writeFixture(dir, "iwslt15_en_vi/tst2012.en", "Hello .\n");
  writeFixture(dir, "iwslt15_en_vi/tst2012.vi", "Xin chào .\n");
  writeFixture(dir, "iwslt15_en_vi/tst2013.en", "Bye .\n");
  writeFixture(dir, "iwslt15_en_vi/tst2013.vi", "Tạm biệt .\n");
  const vi = loadTranslationCorpus("iwslt15_en_vi", { dataDir: dir, verify: false, splits: ["valid", "test"] });
  assert.deepEqual(vi.splits.test!.references, ["Tạm biệt."]);
  assert.throws(
    () => loadTranslationCorpus("iwslt15_en_vi", { dataDir: dir, verify: false }),
    /IWSLT'15 en-vi has no training set .*train\.en\/train\.vi are absent.*npm run data -- fetch iwslt15_en_vi/,
  );
});

test("IWSLT'14 fairseq layout: BPE units, references with BPE removed; prepareTranslationTask pipeline", () => {
  const dir = temporaryDirectory();
  for (const split of ["train", "valid", "test"]) {
    writeFixture(dir, `iwslt14_de_en/${split}.de`, "das ist gu@@ t .\nein sehr sehr langer satz hier .\nja\n");
    writeFixture(dir, `iwslt14_de_en/${split}.en`, "this is go@@ od .\na very very long sentence here .\nyes\n");
  }
  const corpus = loadTranslationCorpus("iwslt14_de_en", { dataDir: dir, verify: false });
  assert.deepEqual(corpus.splits.valid!.references, ["this is good .", "a very very long sentence here .", "yes"]);
  const task = prepareTranslationTask(corpus, { maxSourceLength: 5, maxTargetLength: 6 });
  assert.deepEqual(task.dropped.train, { emptyPairs: 0, tooLong: 1 });
  assert.deepEqual(task.dropped.test, { emptyPairs: 0, tooLong: 0 });
  assert.equal(task.splits.train!.pairs.source.length, 2);
  assert.equal(task.splits.test!.pairs.source.length, 3, "valid/test are never length-filtered");
  // "langer" never occurs in the filtered training data: it maps to <unk> in test.
  assert.ok(task.splits.test!.pairs.source[1].includes(UNKNOWN_ID));
  const bpeTask = prepareTranslationTask(corpus, { bpeMerges: 20, jointBpe: true });
  assert.equal(bpeTask.sourceBpe, bpeTask.targetBpe);
  assert.deepEqual(BytePairEncoding.join(bpeTask.splits.train!.split.target[1]), corpus.splits.train!.target[1]);
  assert.throws(() => prepareTranslationTask({ ...corpus, splits: { test: corpus.splits.test } }), /has no train split/);
});

test("real data: Multi30k has 29,000 / 1,014 / 1,000 pairs; BPE + batches work on it", (t) => {
  const real = realDataDirectory("multi30k_de_en");
  if ("skip" in real) return t.skip(real.skip);
  const corpus = loadTranslationCorpus("multi30k_de_en", { dataDir: real.dir });
  const { train, valid, test: testSplit } = corpus.splits;
  assert.deepEqual([train!.source.length, valid!.source.length, testSplit!.source.length], [29000, 1014, 1000]);
  assert.equal(train!.source.reduce((n, s) => n + s.length, 0), 360706);
  assert.equal(train!.target.reduce((n, s) => n + s.length, 0), 377534);
  assert.equal(testSplit!.references[0], "A man in an orange hat starring at something.");
  const start = performance.now();
  const bpe = BytePairEncoding.learn(train!.target, 2000);
  const learnMs = performance.now() - start;
  assert.equal(bpe.merges.length, 2000);
  const segmented = applyBpeToSplit(train!, { target: bpe });
  assert.deepEqual(BytePairEncoding.join(segmented.target[5]), train!.target[5]);
  const { split, dropped } = filterByLength(segmented, { maxSourceLength: 50, maxTargetLength: 50 });
  const sv = buildTranslationVocabulary(split.source, { minFrequency: 2 });
  const tv = buildTranslationVocabulary(split.target);
  const batches = makeTranslationBatches(encodePairs(split, sv, tv), { batchSize: 64, rng: new Rng(1) });
  assert.equal(batches.reduce((n, b) => n + b.batchSize, 0), 29000 - dropped);
  t.diagnostic(`BPE 2000 merges on Multi30k en train: ${learnMs.toFixed(0)} ms; length filter (50) dropped ${dropped}; de vocab ${sv.size}, en BPE vocab ${tv.size}`);
});

test("real data: IWSLT'15 en-vi tst2012 / tst2013 have 1,553 / 1,268 pairs; its train split is reported absent", (t) => {
  const dir = process.env.RNNLAB_DATA_DIR;
  if (!dir) return t.skip("RNNLAB_DATA_DIR is not set (e.g. RNNLAB_DATA_DIR=/path/to/datasets): real iwslt15_en_vi not checked");
  let corpus;
  try {
    corpus = loadTranslationCorpus("iwslt15_en_vi", { dataDir: dir, splits: ["valid", "test"] });
  } catch (e) {
    return t.skip(`iwslt15_en_vi test sets not loadable from ${dir}: ${(e as Error).message.slice(0, 120)}`);
  }
  assert.deepEqual([corpus.splits.valid!.source.length, corpus.splits.test!.source.length], [1553, 1268]);
  assert.equal(corpus.splits.valid!.dropped.emptyPairs, 0);
  if (!fs.existsSync(path.join(dir, "iwslt15_en_vi", "train.en")))
    assert.throws(() => loadTranslationCorpus("iwslt15_en_vi", { dataDir: dir }), /IWSLT'15 en-vi has no training set/);
});
