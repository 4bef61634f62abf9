/** Span F1 against hand-computed counts and conlleval.pl's chunk rules on tricky sequences. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { extractSpans, spanF1, SpanF1Accumulator } from "../src/index";

const spans = (tags: string[], scheme: "IOB1" | "IOB2" | "BIOES" = "IOB2") =>
  extractSpans(tags, scheme).map((span) => `${span.type}:${span.start}-${span.end}`);

test("IOB2 spans", () => {
  assert.deepEqual(spans(["B-PER", "I-PER", "O", "B-LOC"]), ["PER:0-1", "LOC:3-3"]);
  assert.deepEqual(spans(["B-PER", "B-PER", "I-PER"]), ["PER:0-0", "PER:1-2"]);
  assert.deepEqual(spans(["B-X", "I-X"]), ["X:0-1"]); // a chunk open at the end is closed
  assert.deepEqual(spans(["O", "O"]), []);
  assert.deepEqual(spans([]), []);
});

test("conlleval rules: I- after O starts a chunk; a type change ends and starts one", () => {
  assert.deepEqual(spans(["O", "I-PER", "I-PER"]), ["PER:1-2"]);
  assert.deepEqual(spans(["I-PER"]), ["PER:0-0"]);
  assert.deepEqual(spans(["B-PER", "I-LOC"]), ["PER:0-0", "LOC:1-1"]);
  assert.deepEqual(spans(["I-PER", "I-LOC", "I-LOC"]), ["PER:0-0", "LOC:1-2"]);
  assert.deepEqual(spans(["B-PER", "O", "I-PER"]), ["PER:0-0", "PER:2-2"]);
});

test("IOB1 spans: B- only separates adjacent chunks of one type", () => {
  assert.deepEqual(spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1"), ["PER:0-1", "PER:2-2", "LOC:4-4"]);
  assert.deepEqual(spans(["I-ORG", "I-ORG", "I-LOC"], "IOB1"), ["ORG:0-1", "LOC:2-2"]);
});

test("BIOES spans, including malformed sequences", () => {
  assert.deepEqual(spans(["S-PER", "B-LOC", "E-LOC", "B-LOC", "I-LOC", "E-LOC", "S-ORG"], "BIOES"), [
    "PER:0-0",
    "LOC:1-2",
    "LOC:3-5",
    "ORG:6-6",
  ]);
  assert.deepEqual(spans(["E-PER", "B-PER", "E-PER"], "BIOES"), ["PER:0-0", "PER:1-2"]);
  assert.deepEqual(spans(["B-PER", "S-PER"], "BIOES"), ["PER:0-0", "PER:1-1"]);
  assert.deepEqual(spans(["S-PER", "I-PER", "E-PER"], "BIOES"), ["PER:0-0", "PER:1-2"]);
  assert.deepEqual(spans(["E-PER", "E-PER"], "BIOES"), ["PER:0-0", "PER:1-1"]);
  assert.deepEqual(spans(["B-PER", "E-LOC"], "BIOES"), ["PER:0-0", "LOC:1-1"]);
});

test("scheme validation names the tag and the scheme", () => {
  assert.throws(() => extractSpans(["S-PER"], "IOB2"), /tag "S-PER" is not valid in scheme IOB2/);
  assert.throws(() => extractSpans(["B"], "IOB2"), /extractSpans\(tags\)\[0\]/);
  assert.throws(() => spanF1([["O"]], [["O", "O"]]), /must align/);
});

test("per-type and micro P/R/F1, token accuracy: hand-computed", () => {
  const gold = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["B-ORG", "O", "B-PER"],
  ];
  const predicted = [
    ["B-PER", "O", "B-MISC", "B-LOC"],
    ["B-ORG", "O", "B-ORG"],
  ];
  const result = spanF1(gold, predicted);
  // gold: PER 0-1, LOC 3, ORG 0, PER 2 (4); guessed: PER 0-0, MISC 2, LOC 3, ORG 0, ORG 2 (5); correct: LOC, ORG 0.
  assert.deepEqual([result.overall.correct, result.overall.guessed, result.overall.gold], [2, 5, 4]);
  assert.ok(Math.abs(result.overall.precision - 40) < 1e-12);
  assert.ok(Math.abs(result.overall.recall - 50) < 1e-12);
  assert.ok(Math.abs(result.overall.f1 - (2 * 40 * 50) / 90) < 1e-12);
  assert.deepEqual(Object.keys(result.perType), ["LOC", "MISC", "ORG", "PER"]);
  assert.equal(result.perType.LOC.f1, 100);
  assert.deepEqual([result.perType.MISC.precision, result.perType.MISC.recall, result.perType.MISC.f1], [0, 0, 0]);
  assert.equal(result.perType.ORG.precision, 50);
  assert.equal(result.perType.ORG.recall, 100);
  assert.ok(Math.abs(result.perType.ORG.f1 - 200 / 3) < 1e-12);
  assert.equal(result.perType.PER.f1, 0);
  assert.ok(Math.abs(result.tokenAccuracy - (100 * 4) / 7) < 1e-12);
});

test("conlleval leniency: an I- start matches a B- start; sentences never share a chunk", () => {
  assert.equal(spanF1([["O", "B-PER", "I-PER"]], [["O", "I-PER", "I-PER"]]).overall.f1, 100);
  // Across a sentence boundary "I-PER | I-PER" is two chunks, not one.
  const accumulator = new SpanF1Accumulator("IOB1");
  accumulator.add(["I-PER"], ["I-PER"]).add(["I-PER"], ["I-PER"]);
  assert.deepEqual([accumulator.value().overall.correct, accumulator.value().overall.gold], [2, 2]);
  // Same tokens, one wrong boundary: predicted one chunk where gold has two.
  const merged = spanF1([["B-PER", "B-PER"]], [["B-PER", "I-PER"]]);
  assert.deepEqual([merged.overall.correct, merged.overall.guessed, merged.overall.gold], [0, 1, 2]);
});

/**
 * An independent re-statement of conlleval.pl's streaming counter (its `inCorrect` state machine, with the
 * original startOfChunk/endOfChunk rules for B/I/O tags and a boundary line read as "O"). The span-set
 * implementation must give the same counts on random, often malformed IOB sequences.
 */
function conllevalCounts(gold: string[][], predicted: string[][]): { correct: number; guessed: number; gold: number } {
  const split = (tag: string) => (tag === "O" ? ["O", ""] : [tag.slice(0, tag.indexOf("-")), tag.slice(tag.indexOf("-") + 1)]);
  const end = (pt: string, t: string, pT: string, T: string) =>
    (pt === "B" && t === "B") || (pt === "B" && t === "O") || (pt === "I" && t === "B") || (pt === "I" && t === "O") || (pt !== "O" && pT !== T);
  const start = (pt: string, t: string, pT: string, T: string) =>
    (pt === "B" && t === "B") || (pt === "I" && t === "B") || (pt === "O" && t === "B") || (pt === "O" && t === "I") || (t !== "O" && pT !== T);
  let inCorrect = false;
  let correctChunks = 0;
  let foundGuessed = 0;
  let foundCorrect = 0;
  let [lastCorrect, lastCorrectType, lastGuessed, lastGuessedType] = ["O", "", "O", ""];
  const stream: Array<[string, string]> = [];
  gold.forEach((sentence, index) => {
    sentence.forEach((tag, position) => stream.push([tag, predicted[index][position]]));
    stream.push(["O", "O"]); // the blank line between sentences
  });
  for (const [goldTag, guessTag] of stream) {
    const [correct, correctType] = split(goldTag);
    const [guessed, guessedType] = split(guessTag);
    if (inCorrect) {
      const correctEnds = end(lastCorrect, correct, lastCorrectType, correctType);
      const guessedEnds = end(lastGuessed, guessed, lastGuessedType, guessedType);
      if (correctEnds && guessedEnds && lastGuessedType === lastCorrectType) {
        inCorrect = false;
        correctChunks += 1;
      } else if (correctEnds !== guessedEnds || guessedType !== correctType) {
        inCorrect = false;
      }
    }
    const correctStarts = start(lastCorrect, correct, lastCorrectType, correctType);
    const guessedStarts = start(lastGuessed, guessed, lastGuessedType, guessedType);
    if (correctStarts && guessedStarts && guessedType === correctType) inCorrect = true;
    if (correctStarts) foundCorrect += 1;
    if (guessedStarts) foundGuessed += 1;
    [lastCorrect, lastCorrectType, lastGuessed, lastGuessedType] = [correct, correctType, guessed, guessedType];
  }
  if (inCorrect) correctChunks += 1;
  return { correct: correctChunks, guessed: foundGuessed, gold: foundCorrect };
}

test("span-set counts equal conlleval's streaming counts on random IOB sequences", async () => {
  const { Rng } = await import("@rnnlab/core");
  const rng = new Rng(20260525);
  const tags = ["O", "O", "B-A", "I-A", "B-B", "I-B"];
  const draw = (length: number) => Array.from({ length }, () => tags[rng.int(tags.length)]);
  for (let trial = 0; trial < 300; trial++) {
    const sentences = 1 + rng.int(3);
    const gold: string[][] = [];
    const predicted: string[][] = [];
    for (let sentence = 0; sentence < sentences; sentence++) {
      const length = 1 + rng.int(8);
      const goldTags = draw(length);
      // Predictions share most tags with gold so that correct chunks occur often.
      predicted.push(goldTags.map((tag) => (rng.uniform() < 0.7 ? tag : tags[rng.int(tags.length)])));
      gold.push(goldTags);
    }
    const expected = conllevalCounts(gold, predicted);
    const { correct, guessed, gold: goldCount } = spanF1(gold, predicted, "IOB1").overall;
    assert.deepEqual({ correct, guessed, gold: goldCount }, expected, JSON.stringify({ gold, predicted }));
  }
});
