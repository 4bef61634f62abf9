/**
 * Verdicts from data (issue 17): the rule on constructed results, the markdown renderer, the per-paper claims
 * on the committed results, and a scan of the notebooks' markdown for hand-typed result numbers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { confidenceInterval, pairedTTest } from "@rnnlab/metrics";
import { readResult, resultPath, summarise, type ExperimentResult, type RunRecord } from "../src/results";
import { compareArms, compareRatio, compareToValue, formatStatistic as fmt, verdictMarkdown, verdictTableMarkdown, type ClaimCheck } from "../src/verdict";
import { g2Verdicts } from "../src/g2lstm/figures";
import { sgVerdicts } from "../src/sg/figures";
import { sdropoutVerdicts } from "../src/sdropout/figures";
import { atnVerdicts } from "../src/atn/figures";
import { ncgruVerdicts } from "../src/ncgru/figures";

const root = path.resolve(__dirname, "../../..");

/** A result whose arms have the given per-seed values of `metric` (seed → value). */
function makeResult(arms: Record<string, Record<number, number>>, metric = "testLoss", lowerIsBetter = true): ExperimentResult {
  const built: ExperimentResult["arms"] = {};
  for (const [arm, perSeed] of Object.entries(arms)) {
    const runs: Record<string, RunRecord> = {};
    for (const [seed, value] of Object.entries(perSeed)) {
      runs[seed] = { seed: Number(seed), runHash: `h${arm}${seed}`, final: { [metric]: value }, curves: {}, durationSeconds: 1, finishedAt: "2025-01-01T00:00:00Z" };
    }
    built[arm] = { runs, summary: summarise(Object.values(runs)) };
  }
  const seeds = [...new Set(Object.values(arms).flatMap((a) => Object.keys(a).map(Number)))].sort((a, b) => a - b);
  return {
    schemaVersion: 1,
    id: "test/constructed",
    paper: "test",
    title: "constructed",
    preset: "cpu",
    overrides: [],
    seeds,
    config: {},
    configHash: "x",
    arms: built,
    primaryMetric: { name: metric, lowerIsBetter },
    reported: { source: "none", metric, ourMetric: metric, lowerIsBetter, values: {} },
    environment: { gitCommit: null, gitDirty: null, backend: "cpu", tfjsVersion: "0", nodeVersion: "0", cpuModel: "x", cpuCount: 1, platform: "x" },
    startedAt: "2025-01-01T00:00:00Z",
    durationSeconds: 1,
  };
}

const seeds3 = (a: number, b: number, c: number) => ({ 0: a, 1: b, 2: c });

test("a clear win with 3 paired seeds is supported; the numbers are the paired t statistics", () => {
  const r = makeResult({ new: seeds3(0.10, 0.12, 0.11), old: seeds3(0.30, 0.33, 0.31) });
  const c = compareArms(r, { claim: "new beats old", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(c.verdict, "supported");
  const expected = pairedTTest([0.30, 0.33, 0.31], [0.10, 0.12, 0.11]);
  assert.ok(Math.abs(c.statistic!.mean - expected.difference.mean) < 1e-12);
  assert.ok(Math.abs(c.statistic!.upper - expected.difference.upper) < 1e-12);
  assert.ok(c.statistic!.upper < 0, "the whole interval is below 0");
  assert.ok(Math.abs(c.p! - expected.p) < 1e-12);
  assert.deepEqual(c.sharedSeeds, [0, 1, 2]);
  assert.deepEqual(c.arms.map((a) => a.values.length), [3, 3]);
});

test("a clear loss is contradicted, also for a higher-is-better metric", () => {
  const lower = compareArms(makeResult({ new: seeds3(0.5, 0.52, 0.51), old: seeds3(0.3, 0.31, 0.33) }), { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(lower.verdict, "contradicted");
  const higher = makeResult({ new: seeds3(10, 11, 10.5), old: seeds3(20, 21, 20.2) }, "testBleu", false);
  assert.equal(compareArms(higher, { claim: "c", metric: "testBleu", lowerIsBetter: false, arm: "new", baselineArm: "old" }).verdict, "contradicted");
  assert.equal(compareArms(higher, { claim: "c", metric: "testBleu", lowerIsBetter: false, arm: "old", baselineArm: "new" }).verdict, "supported");
});

test("overlapping arms are inconclusive; so are 2 seeds even with a large gap", () => {
  const overlap = compareArms(makeResult({ new: seeds3(0.2, 0.4, 0.3), old: seeds3(0.35, 0.25, 0.32) }), { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(overlap.verdict, "inconclusive at this scale");
  assert.ok(overlap.statistic!.lower < 0 && overlap.statistic!.upper > 0);
  const two = compareArms(makeResult({ new: { 0: 0.1, 1: 0.1001 }, old: { 0: 0.9, 1: 0.9002 } }), { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(two.verdict, "inconclusive at this scale");
  assert.match(two.reason, /2 shared seeds.*at least 3/);
  const one = compareArms(makeResult({ new: { 0: 0.1 }, old: { 0: 0.9 } }), { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(one.verdict, "inconclusive at this scale");
});

test("unpaired seeds: only the shared seeds are paired; arms without a shared seed are inconclusive", () => {
  const r = makeResult({ new: { 0: 0.05, 1: 0.1, 2: 0.12, 3: 0.11 }, old: { 1: 0.3, 2: 0.33, 3: 0.31, 4: 0.9 } });
  const c = compareArms(r, { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.deepEqual(c.sharedSeeds, [1, 2, 3]);
  assert.ok(Math.abs(c.statistic!.mean - pairedTTest([0.3, 0.33, 0.31], [0.1, 0.12, 0.11]).difference.mean) < 1e-12);
  assert.equal(c.verdict, "supported");
  assert.deepEqual(c.arms.map((a) => a.values.length), [4, 4], "each arm's own mean uses all its seeds");
  const disjoint = compareArms(makeResult({ new: seeds3(0.1, 0.1, 0.1), old: { 3: 0.9, 4: 0.9, 5: 0.9 } }), { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" });
  assert.equal(disjoint.verdict, "inconclusive at this scale");
  assert.match(disjoint.reason, /share no seed/);
});

test("a run that did not learn (no arm below the trivial baseline by its interval) is inconclusive", () => {
  const r = makeResult({ new: seeds3(0.69, 0.692, 0.691), old: seeds3(0.70, 0.702, 0.701) });
  const options = { claim: "c", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old" } as const;
  assert.equal(compareArms(r, options).verdict, "supported", "without a reference the paired difference alone decides");
  const c = compareArms(r, { ...options, trivial: { value: 0.6931, label: "memoryless baseline" } });
  assert.equal(c.verdict, "inconclusive at this scale");
  assert.match(c.reason, /did not learn/);
  const learned = compareArms(r, { ...options, trivial: { value: 0.8, label: "memoryless baseline" } });
  assert.equal(learned.verdict, "supported");
  assert.deepEqual(learned.trivial!.learned, ["new", "old"]);
});

test("a 'no worse' claim uses the stated tolerated loss as the threshold", () => {
  const r = makeResult({ new: seeds3(101, 101.2, 100.9), old: seeds3(100, 100.1, 100) }, "testPerplexity");
  const options = { claim: "c", metric: "testPerplexity", lowerIsBetter: true, arm: "new", baselineArm: "old", direction: "noWorse" } as const;
  assert.equal(compareArms(r, { ...options, margin: 2 }).verdict, "supported", "a loss of about 1 is within a tolerated 2");
  assert.equal(compareArms(r, { ...options, margin: 0.1 }).verdict, "contradicted", "a loss of about 1 exceeds a tolerated 0.1");
  assert.throws(() => compareArms(r, { ...options, margin: -1 }), /margin/);
});

test("ratios: the mean per-seed speedup and its interval decide 'faster'", () => {
  const r = makeResult({ fast: seeds3(0.5, 0.52, 0.49), slow: seeds3(1.0, 1.01, 1.0) }, "secondsPerStep");
  const c = compareRatio(r, { claim: "fast is faster", metric: "secondsPerStep", arm: "fast", baselineArm: "slow" });
  const ratios = [1.0 / 0.5, 1.01 / 0.52, 1.0 / 0.49];
  assert.ok(Math.abs(c.statistic!.mean - confidenceInterval(ratios).mean) < 1e-12);
  assert.equal(c.verdict, "supported");
  assert.equal(compareRatio(r, { claim: "c", metric: "secondsPerStep", arm: "slow", baselineArm: "fast" }).verdict, "contradicted");
  assert.equal(compareRatio(r, { claim: "c", metric: "secondsPerStep", arm: "fast", baselineArm: "slow", threshold: 3 }).verdict, "contradicted", "2× is not 3×");
  const single = compareRatio(makeResult({ fast: { 0: 0.5 }, slow: { 0: 1 } }, "secondsPerStep"), { claim: "c", metric: "secondsPerStep", arm: "fast", baselineArm: "slow" });
  assert.equal(single.verdict, "inconclusive at this scale");
  assert.equal(single.statistic!.mean, 2);
});

test("one-arm claims against a stated value", () => {
  const r = makeResult({ a: seeds3(0.01, 0.012, 0.011) }, "err");
  assert.equal(compareToValue(r, { claim: "c", metric: "err", arm: "a", value: 0.05, lowerIsBetter: true }).verdict, "supported");
  assert.equal(compareToValue(r, { claim: "c", metric: "err", arm: "a", value: 0.001, lowerIsBetter: true }).verdict, "contradicted");
  assert.equal(compareToValue(r, { claim: "c", metric: "err", arm: "missing", value: 0.05, lowerIsBetter: true }).verdict, "inconclusive at this scale");
});

test("a missing arm is skipped with a note, not an error", () => {
  const r = makeResult({ new: seeds3(0.1, 0.1, 0.1) });
  const c = compareArms(r, { claim: "new beats gone", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "gone" });
  assert.equal(c.verdict, "inconclusive at this scale");
  assert.deepEqual(c.missing, ["gone"]);
  const table = verdictTableMarkdown([c]);
  assert.match(table, /Skipped: "new beats gone" \(arm "gone" not in the result/);
});

test("the markdown renderer shows the numbers computed from the input and the verdict in bold", () => {
  const r = makeResult({ new: seeds3(0.1, 0.12, 0.11), old: seeds3(0.3, 0.33, 0.31) });
  const c = compareArms(r, { claim: "new beats old", metric: "testLoss", lowerIsBetter: true, arm: "new", baselineArm: "old", labels: { new: "New arm" } });
  const md = verdictMarkdown(c);
  const newCi = confidenceInterval([0.1, 0.12, 0.11]);
  const oldCi = confidenceInterval([0.3, 0.33, 0.31]);
  const diff = pairedTTest([0.3, 0.33, 0.31], [0.1, 0.12, 0.11]);
  assert.match(md, /\*\*Claim:\*\* new beats old/);
  assert.ok(md.includes(`| New arm | 3 | ${fmt(newCi.mean)} | [${fmt(newCi.lower)}, ${fmt(newCi.upper)}] |`), md);
  assert.ok(md.includes(`| old | 3 | ${fmt(oldCi.mean)} | [${fmt(oldCi.lower)}, ${fmt(oldCi.upper)}] |`), md);
  assert.ok(md.includes(`**${fmt(diff.difference.mean)}**, 95% CI [${fmt(diff.difference.lower)}, ${fmt(diff.difference.upper)}]`), md);
  assert.ok(md.includes(`p = ${diff.p.toFixed(diff.p < 0.01 ? 4 : 3)}`), md);
  assert.match(md, /\*\*Verdict: supported\*\*/);
  assert.match(md, /how-verdicts-are-decided/);
  const table = verdictTableMarkdown([c]);
  assert.ok(table.includes(`${fmt(diff.difference.mean)} [${fmt(diff.difference.lower)}, ${fmt(diff.difference.upper)}]`), table);
  assert.match(table, /\*\*supported\*\*/);
  assert.equal(fmt(-0.5), "−0.5");
  assert.equal(fmt(1234.5678), "1235");
  assert.equal(fmt(Number.NaN), "—");
});

test("the rule is written once, in docs/papers/README.md, where the rendered link points", () => {
  const docs = fs.readFileSync(path.join(root, "docs/papers/README.md"), "utf8");
  assert.match(docs, /^## How verdicts are decided$/m);
  for (const word of ["supported", "contradicted", "inconclusive at this scale", "at least 3 shared seeds"]) assert.ok(docs.includes(word), word);
});

// Per-paper claims on the committed results (whatever their seeds and arms): every check has a verdict, and a
// comparison resting on fewer than 3 shared seeds is never decided.
const committed: [string, (r: ExperimentResult) => ClaimCheck[]][] = [
  ["g2lstm/ptb", (r) => Object.values(g2Verdicts(r)).flat()],
  ["g2lstm/translation", (r) => Object.values(g2Verdicts(r)).flat()],
  ["sg/ptb", sgVerdicts],
  ["sdropout/ptb", (r) => Object.values(sdropoutVerdicts(r)).flat()],
  ["sdropout/rate-sweep", (r) => Object.values(sdropoutVerdicts(r)).flat()],
  ["sdropout/translation", (r) => Object.values(sdropoutVerdicts(r)).flat()],
  ["sdropout/ner", (r) => Object.values(sdropoutVerdicts(r)).flat()],
  ["atn/adding", (r) => atnVerdicts(r)],
  ["atn/copying", (r) => atnVerdicts(r)],
  ["atn/denoise", (r) => atnVerdicts(r)],
  ["atn/char-ptb", (r) => atnVerdicts(r)],
  ["atn/window", (r) => atnVerdicts(r, readResult(resultPath("atn/adding", path.join(root, "results"))))],
  ["ncgru/denoise", (r) => Object.values(ncgruVerdicts(r)).flat()],
  ["ncgru/parenthesis", (r) => Object.values(ncgruVerdicts(r)).flat()],
  ["ncgru/char-ptb", (r) => Object.values(ncgruVerdicts(r)).flat()],
];
for (const [id, verdicts] of committed) {
  const result = readResult(resultPath(id, path.join(root, "results")));
  test(`verdicts of the committed ${id}`, { skip: result ? false : "no committed result" }, () => {
    const checks = verdicts(result!);
    assert.ok(checks.length > 0);
    for (const c of checks) {
      assert.ok(["supported", "contradicted", "inconclusive at this scale"].includes(c.verdict));
      if (c.sharedSeeds.length < 3) assert.equal(c.verdict, "inconclusive at this scale", `${c.claim}: ${c.sharedSeeds.length} seed(s)`);
    }
    if (result!.seeds.length < 3) assert.ok(checks.every((c) => c.verdict === "inconclusive at this scale"), "a result with fewer than 3 seeds decides nothing");
    const md = verdictTableMarkdown(checks);
    assert.ok(!/NaN|undefined/.test(md), md);
  });
}

/*
 * Notebook markdown must not type result numbers: they are rendered from the result files. The scan strips
 * math ($…$), code spans and links, removes the explicit allow-list of settings and quoted paper numbers, and
 * then fails on ratios ("1.58×"), percentages ("12%"), mean ± std, and decimals next to a metric name.
 */
const RESULT_NUMBER_PATTERNS: [string, RegExp][] = [
  ["a ratio", /(?<![\w.])\d+(?:\.\d+)?[x×](?![\w(])/g],
  ["a percentage", /\d+(?:\.\d+)?\s?%/g],
  ["mean ± std", /\d+(?:\.\d+)?\s*±\s*\d/g],
  ["a metric value", /\b(?:perplexity|ppl|BLEU|F1|MSE|BPC|bits(?: per |\/)char(?:acter)?|cross-entropy|CE|accuracy|s\/step|speedup|loss)\s*(?:of|is|=|:)?\s*\d+\.\d+/gi],
  ["a value with its unit", /\d+\.\d+\s*(?:perplexity|ppl|BLEU|F1|BPC|bits\/char|nats|s\/step|s per step|minutes|min\b)/gi],
  ["a decimal next to an arm", /\b(?:baseline|G2(?:-LSTM)?|sharpened|LSTM|GRU|NC-GRU(?:\([^)]*\))?|ATN(?:-LSTM)?|LN(?:-LSTM)?|DNI(?:\(\w+\))?|BPTT(?:\(\w+\))?|per-element|structured|alternating)\s*[:(]?\s*\d+\.\d+/g],
];
/** Settings and the papers' own quoted numbers; each entry says why it may stay in prose. */
const ALLOWED: [RegExp, string][] = [
  [/95\s?% (?:confidence )?(?:interval|CI)/g, "the interval's level (part of the verdict rule)"],
  [/(?:≈\s*)?\d+(?:\.\d+)?\s?%\s*of (?:one |an )?epoch/g, "a training budget (setting), as a share of an epoch"],
  [/ρ ≈ 40 % of the hidden size/g, "the NC-GRU D setting"],
  [/1\.23\s?[×x]?\s?[–-]\s?1\.64\s?[×x]/g, "the structured-dropout paper's reported speedup range"],
  [/≈ 1\.385 BPC/g, "the NC-GRU authors' README value"],
];

function markdownCells(nb: string): string[] {
  const cells = (JSON.parse(fs.readFileSync(path.join(root, "notebooks", nb), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
  return cells.filter((c) => c.cell_type === "markdown").map((c) => [c.source].flat().join(""));
}

export function handTypedResultNumbers(markdown: string): string[] {
  let text = markdown
    .replace(/\$\$[\s\S]*?\$\$/g, " ")
    .replace(/\$[^$\n]*\$/g, " ")
    .replace(/`[^`\n]*`/g, " ")
    .replace(/\]\([^)]*\)/g, "]")
    .replace(/\*/g, "");
  for (const [pattern] of ALLOWED) text = text.replace(pattern, " ");
  const found: string[] = [];
  for (const [what, pattern] of RESULT_NUMBER_PATTERNS) for (const m of text.matchAll(pattern)) found.push(`${what}: "${m[0]}"`);
  return found;
}

test("the hand-typed-number scan flags result numbers and leaves settings alone", () => {
  for (const bad of ["the window variant is **1.58×** faster", "0.56x slower", "saturated for 71.3% of the values", "test perplexity 648.61", "BLEU 12.96 ± 0.17", "DNI(8) **844.0**", "GRU 0.5506", "3.546 bits/char"]) {
    assert.ok(handTypedResultNumbers(bad.replace(/\*\*/g, "")).length > 0, bad);
  }
  for (const ok of ["T = 100, hidden 60, batch 50, k = 25", "RMSprop 1e-3, 20k steps", "p ∈ {0.3, 0.5, 0.65}", "$r = 0.05$ and $\\tau = 0.9$", "**400 steps (≈30% of one epoch)**", "batch 20 × bptt 35", "250 steps of 32×8", "3 × 6-way outputs", "a 95% interval", "the paper's 1.23–1.64× range", "`results/bench/lstm-lm.json`"]) {
    assert.deepEqual(handTypedResultNumbers(ok), [], ok);
  }
});

const paperNotebooks = fs.readdirSync(path.join(root, "notebooks")).filter((f) => f.endsWith(".ipynb") && !f.startsWith("00-"));
for (const nb of paperNotebooks) {
  test(`notebook ${nb}: markdown types no result numbers (they are rendered from the result files)`, () => {
    const found = markdownCells(nb).flatMap((cell, i) => handTypedResultNumbers(cell).map((f) => `markdown cell ${i}: ${f}`));
    assert.deepEqual(found, [], `render these from the result files (packages/experiments/src/verdict.ts) or, for a setting, add it to ALLOWED with the reason`);
  });
}
