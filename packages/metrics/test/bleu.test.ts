/**
 * BLEU against sacreBLEU's own published test values (mjpost/sacrebleu test/test_bleu.py and
 * test/test_sentence_bleu.py, sacreBLEU 2.x), plus hand-checked cases. sacreBLEU is not installable
 * here (not in Debian 12, no PyPI), so no extra generated fixtures.
 * sacreBLEU's `raw_corpus_bleu(h, r, v)` = tokenize "none", smoothing floor[v], effective order on.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { bleuSignature, computeBleu, corpusBleu, sentenceBleu, tokenize13a, type BleuOptions } from "../src/index";

const EPSILON = 1e-8;
const raw = (value: number | undefined): BleuOptions => ({ tokenize: "none", smoothMethod: "floor", smoothValue: value, effectiveOrder: true });

const readmeReferences = [
  ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
  ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
];
const readmeHypotheses = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];

test("corpus BLEU: sacreBLEU README example (test_corpus_bleu)", () => {
  assert.ok(Math.abs(corpusBleu(readmeHypotheses, readmeReferences).score - 48.530827) < EPSILON);
  assert.ok(Math.abs(corpusBleu(readmeHypotheses, readmeReferences, { tokenize: "13a" }).score - 48.530827) < EPSILON);
  assert.ok(Math.abs(corpusBleu(readmeHypotheses, readmeReferences, { tokenize: "none" }).score - 49.1919566) < EPSILON);
  assert.ok(Math.abs(corpusBleu(readmeHypotheses, readmeReferences, { smoothMethod: "none" }).score - 48.530827) < EPSILON);
  assert.equal(corpusBleu(["", "", ""], readmeReferences).score, 0);
});

test("corpus BLEU: max n-gram order 1..6 (test_max_ngram_order)", () => {
  const expected = ["77.65", "60.50", "53.93", "48.53", "46.14", "43.28"];
  expected.forEach((value, index) => {
    assert.equal(corpusBleu(readmeHypotheses, readmeReferences, { maxNgramOrder: index + 1 }).score.toFixed(2), value);
  });
});

test("raw corpus BLEU cases (test_raw_bleu, test_effective_order)", () => {
  assert.equal(corpusBleu(["this is a test", "another test"], [["ref1", "ref2"]], raw(0.01)).score, 0);
  assert.ok(Math.abs(corpusBleu(["this is a test"], [["this is a test"]], raw(0.01)).score / 100 - 1) < EPSILON);
  assert.ok(Math.abs(corpusBleu(["this is a fest"], [["this is a test"]], raw(0.01)).score / 100 - 0.223606797749979) < EPSILON);
  assert.ok(Math.abs(corpusBleu(["test"], [["a test"]], raw(0.01)).score / 100 - 0.3678794411714425) < EPSILON);
  assert.ok(Math.abs(corpusBleu(["a test"], [["a test"]], raw(0.01)).score / 100 - 1) < EPSILON);
  assert.ok(Math.abs(corpusBleu(["a little test"], [["a test"]], raw(0.01)).score / 100 - 0.03218297948685433) < EPSILON);
});

test("statistics and floor offset (test_statistics, test_offset)", () => {
  const hypothesis = ["am I am a character sequence"];
  const reference = [["I am a symbol string sequence a a"]];
  const result = corpusBleu(hypothesis, reference, raw(0.01));
  assert.deepEqual(result.counts, [4, 2, 1, 0]);
  assert.deepEqual(result.totals, [6, 5, 4, 3]);
  assert.equal(corpusBleu(hypothesis, reference, raw(0)).score, 0);
  assert.ok(Math.abs(corpusBleu(hypothesis, reference, raw(undefined)).score / 100 - 0.1555722182) < EPSILON);
});

test("scoring from statistics (test_scoring, test_degenerate_statistics)", () => {
  const score = computeBleu({ counts: [9, 7, 5, 3], totals: [10, 8, 6, 4], sysLen: 11, refLen: 11 }, { smoothMethod: "none" }).score;
  assert.ok(Math.abs(score / 100 - 0.8375922397) < EPSILON);
  const degenerate: Array<[number[], number[], number, number, number]> = [
    [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0.0],
    [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.0],
    [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0.0],
    [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
    [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
  ];
  for (const [counts, totals, sysLen, refLen, offset] of degenerate) {
    assert.equal(computeBleu({ counts, totals, sysLen, refLen }, { smoothMethod: "floor", smoothValue: offset }).score, 0);
  }
});

test("sentence BLEU with 13a, all smoothing methods (test_sentence_bleu, #98)", () => {
  const reference = "producţia de zahăr brut se exprimă în zahăr alb;";
  const hypothesis = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
  const cases: Array<[BleuOptions, number]> = [
    [{ smoothMethod: "exp" }, 8.493],
    [{ smoothMethod: "none" }, 0.0],
    [{ smoothMethod: "floor" }, 4.51688],
    [{ smoothMethod: "floor", smoothValue: 0.1 }, 4.51688],
    [{ smoothMethod: "floor", smoothValue: 0.5 }, 10.1],
    [{ smoothMethod: "add-k" }, 14.882],
    [{ smoothMethod: "add-k", smoothValue: 1 }, 14.882],
    [{ smoothMethod: "add-k", smoothValue: 2 }, 21.389],
    [{ smoothMethod: "exp", tokenize: "none" }, 7.347],
  ];
  for (const [options, expected] of cases) {
    const score = sentenceBleu(hypothesis, [reference], options).score;
    assert.ok(Math.abs(score - expected) < 1e-3, `${JSON.stringify(options)}: got ${score}, expected ${expected}`);
  }
  for (const smoothMethod of ["exp", "none", "floor", "add-k"] as const) {
    assert.equal(sentenceBleu("this is a cat", ["okay thanks"], { smoothMethod }).score, 0);
  }
});

test("13a tokenizer: punctuation, digits, entities, <skipped>, hyphen-newline", () => {
  assert.equal(tokenize13a("Hello, world!"), "Hello , world !");
  assert.equal(tokenize13a("It costs $3,000.50 (approx.)"), "It costs $ 3,000.50 ( approx . )");
  assert.equal(tokenize13a("1990-2000 e-mail"), "1990 - 2000 e-mail");
  assert.equal(tokenize13a("&quot;a&quot; &amp; b &lt;c&gt;"), '" a " & b < c >');
  // Entities are unescaped in sacreBLEU's order, so "&amp;quot;" becomes a literal "&quot;", not a quote.
  assert.equal(tokenize13a("&amp;quot;"), "& quot ;");
  assert.equal(tokenize13a("well-<skipped>known"), "well-known");
  assert.equal(tokenize13a("hyphen-\nated line\nbreak"), "hyphenated line break");
  assert.equal(tokenize13a("end."), "end .");
  assert.equal(tokenize13a("3.14 and 2."), "3.14 and 2 .");
  // The apostrophe (0x27) is outside 13a's symbol ranges, so contractions stay whole.
  assert.equal(tokenize13a("it's a_b/c"), "it's a _ b / c");
  assert.equal(tokenize13a("  many   spaces\t"), "many spaces");
});

test("hand-checked: perfect match, no overlap, brevity penalty, multiple references", () => {
  const perfect = corpusBleu(["the cat sat on the mat"], [["the cat sat on the mat"]]);
  assert.ok(Math.abs(perfect.score - 100) < 1e-9);
  assert.equal(perfect.bp, 1);
  assert.equal(corpusBleu(["a b c d"], [["e f g h"]]).score, 0);
  // A correct prefix of 4 of 8 reference tokens: every precision is 100, BP = exp(1 - 8/4) = e^-1.
  const short = corpusBleu(["w1 w2 w3 w4"], [["w1 w2 w3 w4 w5 w6 w7 w8"]], { tokenize: "none" });
  assert.ok(Math.abs(short.bp - Math.exp(-1)) < 1e-12);
  assert.ok(Math.abs(short.score - 100 * Math.exp(-1)) < 1e-9);
  assert.deepEqual([short.sysLen, short.refLen], [4, 8]);
  // The second reference makes the hypothesis a perfect match; the closest length is then 4.
  const multiple = corpusBleu(["w1 w2 w3 w4"], [["w1 w2 w3 w4 w5 w6 w7 w8"], ["w1 w2 w3 w4"]], { tokenize: "none" });
  assert.ok(Math.abs(multiple.score - 100) < 1e-9);
  assert.equal(multiple.refLen, 4);
  // Clipping: "the the the the" against "the cat" matches "the" once: p1 = 1/4.
  const clipped = corpusBleu(["the the the the"], [["the cat"]], { tokenize: "none", maxNgramOrder: 1 });
  assert.equal(clipped.precisions[0], 25);
});

test("signature matches sacreBLEU's format; bad options name the key", () => {
  assert.equal(corpusBleu(readmeHypotheses, readmeReferences).signature, "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:rnnlab");
  assert.equal(bleuSignature({ smoothMethod: "floor", lowercase: true }, 1, true), "#:1|c:lc|e:no|tok:13a|s:floor[0.10]|v:rnnlab");
  // sacreBLEU >= 2.2 keeps an empty reference (it counts towards nrefs); only a missing one (None) is dropped.
  assert.equal(corpusBleu(["a b"], [["a b"], [""]]).signature.split("|")[0], "nrefs:2");
  assert.equal(corpusBleu(["a b"], [["a b"], [undefined as unknown as string]]).signature.split("|")[0], "nrefs:1");
  assert.throws(() => corpusBleu(["a"], [["a"]], { smoothing: "exp" } as unknown as BleuOptions), /unknown key "smoothing"/);
  assert.throws(() => corpusBleu(["a", "b"], [["a"]]), /references\[0\]/);
  assert.throws(() => corpusBleu(["a"], [[undefined as unknown as string]]), /segment 0 has no reference/);
});

test("an empty reference string is a reference of length 0, as in sacreBLEU >= 2.2 (issue 17)", () => {
  // sacreBLEU 2.6: corpus_bleu(["a b c d"], [["a b c d e f g h"], [""]]).score == 100.0 (closest length ties to
  // the shorter reference, 0, so BP = 1); 2.0-2.1 dropped "" and gave 36.79 (BP = exp(1 - 8/4)).
  const score = corpusBleu(["a b c d"], [["a b c d e f g h"], [""]]);
  assert.ok(Math.abs(score.score - 100) < 1e-9, `BLEU ${score.score}`);
  assert.equal(score.refLen, 0);
  assert.equal(score.bp, 1);
  // Only an empty reference: every n-gram is unmatched, BLEU 0, no error.
  const lone = corpusBleu(["a"], [[""]]);
  assert.equal(lone.score, 0);
  assert.equal(lone.refLen, 0);
});
