import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "@rnnlab/core";
import { buildNerVocabularies, convertTags, iob1ToIob2, iob2ToBioes, loadNerCorpus, makeNerBatches, parseNerText } from "../src/ner";
import { realDataDirectory, temporaryDirectory, writeFixture } from "./helpers";

const CONLL = `-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER
S. NNP I-NP B-PER

-DOCSTART- -X- -X- O

Atlanta NNP I-NP I-LOC
`;

test("IOB1 -> IOB2 -> BIOES on known sequences", () => {
  const iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "B-LOC"];
  const iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-LOC"];
  assert.deepEqual(iob1ToIob2(iob1), iob2);
  assert.deepEqual(iob2ToBioes(iob2), ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG", "O", "S-LOC"]);
  assert.deepEqual(convertTags(["B-X", "I-X", "I-X"], "IOB2", "BIOES"), ["B-X", "I-X", "E-X"]);
  assert.deepEqual(convertTags(iob2, "IOB2", "IOB2"), iob2);
  assert.throws(() => convertTags(iob2, "BIOES", "IOB2"), /not supported/);
});

test("CoNLL-2003 parsing: -DOCSTART- skipped and counted, sentences and IOB1 tags kept", () => {
  const parsed = parseNerText(CONLL, "eng.fixture", "conll2003");
  assert.equal(parsed.sentences.length, 3);
  assert.equal(parsed.skipped.documentStarts, 2);
  assert.equal(parsed.tokens, 9);
  assert.deepEqual(parsed.sentences[1].words, ["Peter", "Blackburn", "S."]);
  assert.deepEqual(parsed.sentences[1].tags, ["I-PER", "I-PER", "B-PER"]);
  assert.equal(parsed.sentences[1].line, 9);
});

test("malformed NER files fail with file:line and what was expected", () => {
  assert.throws(() => parseNerText("EU NNP I-ORG\n", "f.txt", "conll2003"), /f\.txt:1: expected 4 space-separated columns \(word POS chunk NER\), found 3/);
  assert.throws(() => parseNerText("a b c O\nx y z Q-PER\n", "g.txt", "conll2003"), /g\.txt:2: invalid NER tag "Q-PER"/);
  assert.throws(() => parseNerText("tok\tO\nbad line\n", "w.conll", "wnut17"), /w\.conll:2: expected 2 tab-separated columns \(token<TAB>tag\), found 1/);
  assert.throws(() => parseNerText("\n\n", "e.conll", "wnut17"), /e\.conll: no sentences found/);
});

test("WNUT-17: a lone TAB line separates sentences like an empty line", () => {
  const parsed = parseNerText("@paul\tO\nEmpire\tB-location\n\t\nState\tI-location\n\nok\tO\n", "w", "wnut17");
  assert.deepEqual(parsed.sentences.map((s) => s.words), [["@paul", "Empire"], ["State"], ["ok"]]);
});

test("loadNerCorpus converts to the configured scheme; batches pad with masks and character ids", () => {
  const dir = temporaryDirectory();
  for (const f of ["eng.train", "eng.testa", "eng.testb"]) writeFixture(dir, `conll2003/${f}`, CONLL);
  const corpus = loadNerCorpus("conll2003", { dataDir: dir, verify: false, scheme: "BIOES" });
  assert.deepEqual(corpus.train.sentences[0].tags, ["S-ORG", "O", "S-MISC", "O", "O"]);
  assert.deepEqual(corpus.train.sentences[1].tags, ["B-PER", "E-PER", "S-PER"]);
  const vocabularies = buildNerVocabularies(corpus.train.sentences);
  assert.deepEqual(vocabularies.tags.tokens, ["<pad>", "B-PER", "E-PER", "O", "S-LOC", "S-MISC", "S-ORG", "S-PER"]);
  assert.equal(vocabularies.words.tokens[0], "<pad>");
  const batches = makeNerBatches(corpus.train.sentences, vocabularies, { batchSize: 2, characters: true });
  const [b] = batches;
  assert.equal(b.length, 5);
  assert.deepEqual([...b.mask], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]);
  assert.deepEqual([...b.lengths], [5, 3]);
  assert.equal(vocabularies.words.token(b.wordIds[5]), "Peter");
  assert.equal(vocabularies.tags.token(b.tagIds[7]), "S-PER");
  assert.equal(b.tagIds[8], 0);
  assert.equal(b.maxWordLength, 9); // "Blackburn"
  const peter = [...b.characterIds!.subarray(5 * 9, 6 * 9)].map((id) => (id === 0 ? "" : vocabularies.characters.token(id))).join("");
  assert.equal(peter, "Peter");
  const shuffled = makeNerBatches(corpus.train.sentences, vocabularies, { batchSize: 1, rng: new Rng(5) });
  assert.deepEqual(shuffled.map((x) => x.indices[0]).sort(), [0, 1, 2]);
  const foreign = buildNerVocabularies([{ words: ["a"], tags: ["O"], line: 1 }]);
  assert.throws(() => makeNerBatches(corpus.train.sentences, foreign, { batchSize: 2 }), /line 3: tag "S-ORG" is not in the tag vocabulary/);
});

test("real data: CoNLL-2003 has 14,041 / 3,250 / 3,453 sentences; WNUT-17 3,394 / 1,009 / 1,287", (t) => {
  const real = realDataDirectory("conll2003");
  if ("skip" in real) return t.skip(real.skip);
  const c = loadNerCorpus("conll2003", { dataDir: real.dir });
  assert.deepEqual([c.train.sentences.length, c.valid.sentences.length, c.test.sentences.length], [14041, 3250, 3453]);
  assert.deepEqual([c.train.tokens, c.valid.tokens, c.test.tokens], [203621, 51362, 46435]);
  assert.equal(c.train.skipped.documentStarts, 946);
  assert.ok(c.train.sentences.every((s) => s.tags.every((tag, i) => !tag.startsWith("I-") || (i > 0 && s.tags[i - 1].slice(2) === tag.slice(2)))));
  const realW = realDataDirectory("wnut17");
  if ("skip" in realW) return t.skip(realW.skip);
  const w = loadNerCorpus("wnut17", { dataDir: realW.dir });
  assert.deepEqual([w.train.sentences.length, w.valid.sentences.length, w.test.sentences.length], [3394, 1009, 1287]);
  assert.deepEqual([w.train.tokens, w.valid.tokens, w.test.tokens], [62730, 15733, 23394]);
});
