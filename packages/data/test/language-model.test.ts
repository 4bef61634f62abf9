import { test } from "node:test";
import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { Rng } from "@rnnlab/core";
import {
  batchify,
  bpttWindow,
  buildLanguageModelCorpus,
  evaluationWindows,
  fixedWindows,
  lineTokens,
  loadLanguageModelCorpus,
  splitWords,
  streamTargetCount,
  variableWindows,
} from "../src/language-model";
import { Vocabulary } from "../src/vocabulary";
import { realDataDirectory, temporaryDirectory, writeFixture } from "./helpers";

const source = (text: string, file = "fixture.txt") => ({ text, file });

test("word tokens: every line (empty ones too) gets <eos>; Python whitespace, U+FEFF kept as a token", () => {
  assert.deepEqual(lineTokens(" the cat  sat ", "word"), ["the", "cat", "sat", "<eos>"]);
  assert.deepEqual(lineTokens(" ", "word"), ["<eos>"]);
  assert.deepEqual(splitWords("a\u00a0b\tc \ufeff d"), ["a", "b", "c", "\ufeff", "d"]);
  const corpus = buildLanguageModelCorpus("toy", {
    train: source(" a b a \n \n c <unk> \n"),
    valid: source(" a z \n"),
    test: source("\n"),
  });
  // First-occurrence ids: a b <eos> c <unk>.
  assert.deepEqual(corpus.vocabulary.tokens, ["a", "b", "<eos>", "c", "<unk>"]);
  assert.deepEqual([...corpus.train], [0, 1, 0, 2, 2, 3, 4, 2]);
  assert.deepEqual([...corpus.valid], [0, 4, 2]); // z -> <unk>
  assert.deepEqual(corpus.outOfVocabulary, { valid: 1, test: 0 });
  assert.deepEqual(corpus.lines, { train: 3, valid: 1, test: 1 });
});

/** sha256 of ids as little-endian int32, as test/reference/awd_data.py prints it. */
function idsSha256(ids: Int32Array): string {
  const view = new DataView(new ArrayBuffer(ids.length * 4));
  ids.forEach((id, i) => view.setInt32(i * 4, id, true));
  return crypto.createHash("sha256").update(new Uint8Array(view.buffer)).digest("hex");
}

test("golden: ids equal AWD-LSTM data.py on tricky whitespace (test/reference/awd_data.py)", () => {
  // Golden values printed by `python3 test/reference/awd_data.py tr.txt va.txt te.txt` on these bytes.
  const corpus = buildLanguageModelCorpus("golden", {
    train: source(" a\u00a0b \ufeff c\n\n\t = T = \n x\u000by a\n"),
    valid: source(" a b\n"),
    test: source("\n c x\n"),
  });
  assert.equal(corpus.vocabulary.size, 9);
  assert.deepEqual([corpus.train.length, corpus.valid.length, corpus.test.length], [14, 3, 4]);
  assert.deepEqual([...corpus.train.subarray(0, 12)], [0, 1, 2, 3, 4, 4, 5, 6, 5, 4, 7, 8]);
  assert.deepEqual(
    [idsSha256(corpus.train), idsSha256(corpus.valid), idsSha256(corpus.test)],
    [
      "9aef7d9d008bb7d13f265dc25df7dc40dc2ab978d7c0cb921ef3ec77d1da509a",
      "e9df879ac2410b03261a92cd22d1f967bc107f8a4cdfa343f43027fa5e654156",
      "905dd7db72bc19f5d2b7aade5c85af1de4a5936996b29788f0b235e0876a7544",
    ],
  );
});

test("a valid token unseen in train is an error naming file:line when there is no <unk>", () => {
  assert.throws(
    () => buildLanguageModelCorpus("toy", { train: source("a b\n"), valid: source("a\nb q\n", "valid.txt"), test: source("a\n") }),
    /valid\.txt:2: token "q" does not occur in the training split/,
  );
});

test("character rule: characters, _ between words, <unk> one symbol, <eos> per line", () => {
  assert.deepEqual(lineTokens(" ab <unk> c ", "character"), ["a", "b", "_", "<unk>", "_", "c", "<eos>"]);
  assert.deepEqual(lineTokens("<unk>", "character", { unknownAsSymbol: false }), ["<", "u", "n", "k", ">", "<eos>"]);
  assert.deepEqual(lineTokens("", "character"), ["<eos>"]);
  const corpus = buildLanguageModelCorpus("toy", { train: source("ab ba\n"), valid: source("ab\n"), test: source("b\n") }, { level: "character" });
  assert.deepEqual(corpus.vocabulary.tokens, ["a", "b", "_", "<eos>"]);
  assert.deepEqual([...corpus.train], [0, 1, 2, 1, 0, 3]);
});

test("loadLanguageModelCorpus reads ptb/wikitext-2 layouts from a data directory", () => {
  const dir = temporaryDirectory();
  writeFixture(dir, "ptb/ptb.train.txt", " the cat <unk> \n the dog \n");
  writeFixture(dir, "ptb/ptb.valid.txt", " the cat \n");
  writeFixture(dir, "ptb/ptb.test.txt", " dog \n");
  const ptb = loadLanguageModelCorpus("ptb", { dataDir: dir, verify: false });
  assert.equal(ptb.train.length, 7);
  assert.equal(ptb.vocabulary.size, 5);
  const chars = loadLanguageModelCorpus("ptb-char", { dataDir: dir, verify: false });
  assert.equal(chars.level, "character");
  assert.equal(chars.test.length, 4); // d o g <eos>
  assert.throws(() => loadLanguageModelCorpus("wikitext-2", { dataDir: dir, verify: false }), /Dataset "wikitext-2" is missing.*npm run data -- fetch wikitext-2/);
  writeFixture(dir, "wikitext-2/train.txt", " = T = \n \n a b \n");
  writeFixture(dir, "wikitext-2/valid.txt", " a \n");
  writeFixture(dir, "wikitext-2/test.txt", "");
  assert.throws(() => loadLanguageModelCorpus("wikitext-2", { dataDir: dir, verify: false }), /test\.txt: empty file/);
  writeFixture(dir, "wikitext-2/test.txt", Buffer.from([0x61, 0x0a, 0xc3, 0x28, 0x0a]));
  assert.throws(() => loadLanguageModelCorpus("wikitext-2", { dataDir: dir, verify: false }), /test\.txt:2: invalid UTF-8/);
});

test("batchify lays stream b out as row b of [batch, steps] and trims the tail", () => {
  const ids = Int32Array.from({ length: 26 }, (_, i) => i);
  const s = batchify(ids, 4);
  assert.equal(s.steps, 6);
  assert.equal(s.trimmed, 2);
  assert.deepEqual([...s.data.subarray(6, 12)], [6, 7, 8, 9, 10, 11]); // row 1
  assert.throws(() => batchify(ids, 0), /batchSize must be a positive integer/);
  assert.throws(() => batchify(Int32Array.of(1, 2, 3), 2), /too few/);
});

test("bpttWindow: targets are inputs shifted by one, capped at the end", () => {
  const s = batchify(Int32Array.from({ length: 20 }, (_, i) => i), 2); // rows 0..9, 10..19
  const w = bpttWindow(s, 7, 5);
  assert.equal(w.length, 2);
  assert.deepEqual([...w.inputs], [7, 8, 17, 18]);
  assert.deepEqual([...w.targets], [8, 9, 18, 19]);
});

test("fixedWindows cover every target exactly once", () => {
  const s = batchify(Int32Array.from({ length: 103 }, (_, i) => i), 3);
  const windows = [...fixedWindows(s, 7)];
  const covered = windows.reduce((n, w) => n + w.length * w.batchSize, 0);
  assert.equal(covered, streamTargetCount(s));
  assert.deepEqual(windows.map((w) => w.start), [0, 7, 14, 21, 28]);
  assert.equal(s.steps, 34);
  assert.equal(windows.at(-1)!.length, 34 - 1 - 28);
});

test("evaluationWindows: batchify + fixed windows, all targets scored once", () => {
  const { stream, windows } = evaluationWindows(Int32Array.from({ length: 95 }, (_, i) => i), 10, 4);
  const list = [...windows];
  assert.equal(stream.steps, 9);
  assert.equal(list.reduce((n, w) => n + w.length * w.batchSize, 0), 80);
  assert.deepEqual([...list[0].inputs.subarray(0, 4)], [0, 1, 2, 3]);
});

test("variableWindows: AWD lengths from the Rng, min 5, learning-rate scale, deterministic", () => {
  const s = batchify(Int32Array.from({ length: 200000 }, (_, i) => i % 1000), 4);
  const draw = (seed: number) => [...variableWindows(s, 70, new Rng(seed))];
  const a = draw(1);
  const b = draw(1);
  assert.deepEqual(a.map((w) => w.drawnLength), b.map((w) => w.drawnLength));
  assert.notDeepEqual(a.map((w) => w.drawnLength), draw(2).map((w) => w.drawnLength));
  const lengths = a.map((w) => w.drawnLength);
  assert.ok(Math.min(...lengths) >= 5);
  const half = lengths.filter((l) => l < 52).length / lengths.length; // mean 35 draws
  assert.ok(half > 0.02 && half < 0.09, `fraction of bptt/2 windows ${half}`);
  const full = lengths.filter((l) => l >= 52);
  const mean = full.reduce((x, y) => x + y, 0) / full.length;
  assert.ok(Math.abs(mean - 69.5) < 0.5, `mean full length ${mean} (trunc of N(70,5) has mean ~69.5)`);
  for (const w of a) assert.equal(w.learningRateScale, w.drawnLength / 70);
  for (let i = 1; i < a.length; i++) assert.equal(a[i].start, a[i - 1].start + a[i - 1].drawnLength);
  const tiny = batchify(Int32Array.from({ length: 40 }, (_, i) => i), 2);
  const ws = [...variableWindows(tiny, 3, new Rng(0))];
  assert.ok(ws.every((w) => w.length >= 1 && w.start + w.length <= tiny.steps - 1));
});

test("Vocabulary: frequency order with ties by first occurrence, caps, min frequency, JSON round trip", () => {
  const v = Vocabulary.build([["b", "a", "c", "a", "d", "c"]], { specials: ["<pad>", "<unk>"], order: "frequency", unknownToken: "<unk>", maxSize: 4 });
  assert.deepEqual(v.tokens, ["<pad>", "<unk>", "a", "c"]);
  assert.equal(v.droppedTypes, 2);
  assert.equal(v.id("zzz"), 1);
  const m = Vocabulary.build([["x", "y", "x"]], { minFrequency: 2 });
  assert.deepEqual(m.tokens, ["x"]);
  assert.throws(() => m.encode(["y"], "f.txt:3"), /f\.txt:3: token "y" is not in the vocabulary/);
  assert.deepEqual(Vocabulary.fromJSON(JSON.parse(JSON.stringify(v))).tokens, v.tokens);
});

function measure<T>(load: () => T): { value: T; milliseconds: number; heapMegabytes: number; rssMegabytes: number } {
  const before = process.memoryUsage();
  const start = performance.now();
  const value = load();
  const milliseconds = performance.now() - start;
  const after = process.memoryUsage();
  return { value, milliseconds, heapMegabytes: (after.heapUsed - before.heapUsed) / 1e6, rssMegabytes: (after.rss - before.rss) / 1e6 };
}

test("real data: PTB token counts 929,589 / 73,760 / 82,430 and vocabulary 10,000", (t) => {
  const real = realDataDirectory("ptb");
  if ("skip" in real) return t.skip(real.skip);
  const m = measure(() => loadLanguageModelCorpus("ptb", { dataDir: real.dir }));
  const c = m.value;
  assert.deepEqual([c.train.length, c.valid.length, c.test.length], [929589, 73760, 82430]);
  assert.equal(c.vocabulary.size, 10000);
  assert.deepEqual(c.outOfVocabulary, { valid: 0, test: 0 });
  // Golden: `python3 test/reference/awd_data.py ptb.{train,valid,test}.txt` (AWD-LSTM data.py ids).
  assert.deepEqual(
    [idsSha256(c.train), idsSha256(c.valid), idsSha256(c.test)],
    [
      "b9488a18b214862469a298e9054553287d157d2e196e3ed3345ab343bfc59549",
      "4262c34e1a26e4e43cfff2b9876716f9c4b3d7533f74ed3b4181da1f0fd6c34e",
      "33ecddd6be0160ba47c1af93d5442f0a1924106cb5b96e756796ebaf69e9c63c",
    ],
  );
  t.diagnostic(`PTB load ${m.milliseconds.toFixed(0)} ms, heap +${m.heapMegabytes.toFixed(1)} MB, rss +${m.rssMegabytes.toFixed(1)} MB`);
  const chars = loadLanguageModelCorpus("ptb-char", { dataDir: real.dir });
  assert.equal(chars.vocabulary.size, 49);
  assert.equal(chars.train.length, 4837402);
});

test("real data: WikiText-2 token counts 2,088,628 / 217,646 / 245,569 and vocabulary 33,278", (t) => {
  const real = realDataDirectory("wikitext-2");
  if ("skip" in real) return t.skip(real.skip);
  const m = measure(() => loadLanguageModelCorpus("wikitext-2", { dataDir: real.dir }));
  const c = m.value;
  assert.deepEqual([c.train.length, c.valid.length, c.test.length], [2088628, 217646, 245569]);
  assert.equal(c.vocabulary.size, 33278);
  assert.deepEqual(
    [idsSha256(c.train), idsSha256(c.valid), idsSha256(c.test)],
    [
      "f0f1a9d18a658ea927c8bee3188f3830109c9d1f4d61d6f22ddea5ac136c156e",
      "b6dc736e28ad52825723503918513ea99e72d19747f4c56ce8c50f3b0b0c9d65",
      "776f31f4be794ed94bca7389b81a3f11b742a876ec973fcd6590632ddb1f77a3",
    ],
  );
  t.diagnostic(`WikiText-2 load ${m.milliseconds.toFixed(0)} ms, heap +${m.heapMegabytes.toFixed(1)} MB, rss +${m.rssMegabytes.toFixed(1)} MB`);
});
