/**
 * NC-GRU experiments: parameter counts equal the real cells' parameter sizes (an orthogonal matrix
 * counted by its skew A), and the figure/number builders read what a smoke run wrote.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng, selectBackend, tf } from "@rnnlab/core";
import { createGru, createLstm, createNcGru, createScoRnn } from "@rnnlab/cells";
import { armParameterCount, gradientNormFigure, largestOrthogonalityErrors, largestOrthogonalityErrorsMarkdown, ncgruLossFigure, orthogonalityFigure, resolveExperimentConfig, runExperiment, runHashFor, type ExperimentResult } from "../src";
import { ncgruVerdicts } from "../src/ncgru/figures";

let denoise: ExperimentResult;
before(async () => {
  await selectBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-ncgru-"));
  denoise = await runExperiment("ncgru/denoise", { preset: "smoke", resultsDir: dir });
});

function sizeOf(params: object): number {
  return Object.values(params).reduce((s: number, t) => s + (t as tf.Tensor).size, 0);
}

test("armParameterCount equals the cells' parameter sizes plus the head, orthogonal matrices counted as H(H−1)/2", () => {
  const I = 5, H = 7, O = 3;
  const head = H * O + O;
  const skewSavings = H * H - (H * (H - 1)) / 2;
  const rng = new Rng(1);
  assert.equal(armParameterCount({ cell: "gru", hiddenSize: H }, I, O), sizeOf(createGru({ inputSize: I, hiddenSize: H }).init(rng)) + head);
  assert.equal(armParameterCount({ cell: "lstm", hiddenSize: H }, I, O), sizeOf(createLstm({ inputSize: I, hiddenSize: H }).init(rng)) + head);
  assert.equal(armParameterCount({ cell: "nc-gru", hiddenSize: H }, I, O), sizeOf(createNcGru({ inputSize: I, hiddenSize: H }).init(rng)) - skewSavings + head);
  assert.equal(
    armParameterCount({ cell: "nc-gru", hiddenSize: H, orthogonalReset: true }, I, O),
    sizeOf(createNcGru({ inputSize: I, hiddenSize: H, orthogonalReset: true }).init(rng)) - 2 * skewSavings + head,
  );
  assert.equal(armParameterCount({ cell: "scornn", hiddenSize: H }, I, O), sizeOf(createScoRnn({ inputSize: I, hiddenSize: H }).init(rng)) - skewSavings + head);
  assert.throws(() => armParameterCount({ cell: "rnn", hiddenSize: H }, I, O), /cell="rnn"/);
});

test("the cpu presets' sizes are parameter-matched: denoise within 5 % of GRU; parenthesis (the authors' sizes) within 20 % of gruMatched, GRU 100 excepted", () => {
  type Arms = { config: { arms: Record<string, { cell: string; hiddenSize: number; orthogonalReset: boolean }> } };
  for (const [id, I, O, reference, tolerance] of [["ncgru/denoise", 11, 10, "gru", 0.05], ["ncgru/parenthesis", 7, 18, "gruMatched", 0.2]] as const) {
    const { config } = resolveExperimentConfig(id, "cpu") as unknown as Arms;
    const base = armParameterCount(config.arms[reference], I, O);
    for (const [arm, a] of Object.entries(config.arms)) {
      if (id === "ncgru/parenthesis" && arm === "gru") {
        assert.ok(armParameterCount(a, I, O) / base > 3, "the authors' GRU 100 is the large one");
        continue;
      }
      const ratio = armParameterCount(a, I, O) / base;
      assert.ok(Math.abs(ratio - 1) < tolerance, `${id} ${arm}: ${ratio}`);
    }
  }
});

test("smoke result: parameters and the largest orthogonality error are recorded; the figures build from the JSON", () => {
  assert.deepEqual(Object.keys(denoise.arms), ["gru", "ncgru", "ncgruReset", "lstm", "scornn"]);
  const largest = largestOrthogonalityErrors(denoise);
  assert.deepEqual(Object.keys(largest).sort(), ["ncgru", "ncgruReset", "scornn"]);
  for (const [arm, v] of Object.entries(largest)) {
    const run = denoise.arms[arm].runs["0"];
    assert.equal(v, run.final.maxOrthogonalityError);
    assert.ok(v >= Math.max(...run.curves.orthogonalityError.value) && v < 1e-3, `${arm}: ${v}`);
  }
  assert.ok(denoise.arms.gru.runs["0"].final.parameters > 0);
  const loss = ncgruLossFigure(denoise);
  const names = (loss.data as { name?: string }[]).map((d) => d.name).filter(Boolean);
  assert.deepEqual(names, ["GRU", "NC-GRU(U_c)", "NC-GRU(U_c, U_r)", "LSTM", "scoRNN", "trivial baseline"]);
  const baselineTrace = (loss.data as { name?: string; y: number[] }[]).find((d) => d.name === "trivial baseline")!;
  assert.equal(baselineTrace.y[0], denoise.arms.gru.summary.baseline.mean);
  const orth = orthogonalityFigure(denoise);
  assert.equal((orth.data as unknown[]).length, 3, "one trace per orthogonal arm (NC-GRU's two, scoRNN)");
  assert.equal((orth.layout as { yaxis: { type: string } }).yaxis.type, "log");
  assert.equal((gradientNormFigure(denoise).data as unknown[]).length, 5);
  assert.throws(() => orthogonalityFigure(denoise, 99), /seed 99/);
  const line = largestOrthogonalityErrorsMarkdown(denoise);
  assert.ok(line.includes(`NC-GRU(U_c) ${largest.ncgru.toExponential(2)}`) && line.includes(`NC-GRU(U_c, U_r) ${largest.ncgruReset.toExponential(2)}`), line);
  assert.ok(line.includes(`scoRNN ${largest.scornn.toExponential(2)}`), line);
  // scoRNN is a reference of the NC-GRU accuracy claims and has its own orthogonality check.
  const verdicts = ncgruVerdicts(denoise);
  assert.ok(verdicts.accuracy.some((v) => v.claim.includes("than scoRNN")), "NC-GRU vs scoRNN claims");
  assert.ok(verdicts.orthogonality.some((v) => v.claim.startsWith("scoRNN")), "scoRNN orthogonality check");
});

test("adding the scornn arm leaves every other arm's run hash unchanged (denoise's committed runs stay reusable)", () => {
  for (const id of ["ncgru/denoise", "ncgru/parenthesis"]) {
    for (const preset of ["smoke", "cpu", "paper"] as const) {
      const { config } = resolveExperimentConfig(id, preset) as unknown as { config: { arms: Record<string, unknown> } };
      const { scornn, ...otherArms } = config.arms;
      assert.ok(scornn, `${id} ${preset} has a scornn arm`);
      const without = { ...config, arms: otherArms };
      for (const arm of Object.keys(otherArms))
        for (const seed of [0, 1, 2]) assert.equal(runHashFor(id, config, arm, seed), runHashFor(id, without, arm, seed), `${id} ${preset} ${arm} seed ${seed}`);
    }
  }
  // The committed denoise result ran before scornn existed: where its shared settings equal today's cpu preset,
  // its runs' hashes equal the ones planned today (so they are reused, not rerun).
  const committed = JSON.parse(fs.readFileSync(path.join(__dirname, "../../../results/ncgru/denoise.json"), "utf8")) as ExperimentResult;
  const { config } = resolveExperimentConfig("ncgru/denoise", "cpu") as unknown as { config: { arms: object } };
  const shared = (c: object) => JSON.stringify({ ...c, arms: undefined });
  if (committed.preset === "cpu" && shared(committed.config as object) === shared(config)) {
    for (const [arm, a] of Object.entries(committed.arms))
      for (const [seed, run] of Object.entries(a.runs)) assert.equal(runHashFor("ncgru/denoise", config, arm, Number(seed)), run.runHash, `committed ${arm} seed ${seed}`);
  }
});

test("ncgru/parenthesis: the smoke preset runs every arm, scornn included, with its parameter count and orthogonality error", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-ncgru-par-"));
  const r = await runExperiment("ncgru/parenthesis", { preset: "smoke", resultsDir: dir });
  assert.deepEqual(Object.keys(r.arms), ["gru", "ncgru", "ncgruReset", "lstm", "gruMatched", "scornn"]);
  for (const [arm, a] of Object.entries(r.arms)) assert.ok(Number.isFinite(a.runs["0"].final.testLoss), `${arm}: test loss`);
  const scornn = r.arms.scornn.runs["0"].final;
  assert.equal(scornn.parameters, armParameterCount({ cell: "scornn", hiddenSize: 15 }, 7, 18));
  assert.ok(r.arms.scornn.runs["0"].curves.orthogonalityError?.value.length > 0, "scoRNN's U is owned by the orthogonal updater (its error is recorded)");
  assert.ok(scornn.maxOrthogonalityError > 0 && scornn.maxOrthogonalityError < 1e-3, `scoRNN's largest ‖UᵀU − I‖ ${scornn.maxOrthogonalityError}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("ncgru/parenthesis cpu: scornn is parameter-matched to the NC-GRU arms, ρ ≈ 40 % of its width", () => {
  const { config } = resolveExperimentConfig("ncgru/parenthesis", "cpu") as unknown as { config: { arms: Record<string, { cell: string; hiddenSize: number; negativeOnes: number; orthogonalReset: boolean }> } };
  const count = (arm: string) => armParameterCount(config.arms[arm], 7, 18);
  const ncgruMean = (count("ncgru") + count("ncgruReset")) / 2;
  assert.ok(Math.abs(count("scornn") / ncgruMean - 1) < 0.05, `scornn ${count("scornn")} vs NC-GRU mean ${ncgruMean}`);
  const { hiddenSize, negativeOnes } = config.arms.scornn;
  assert.ok(Math.abs(negativeOnes / hiddenSize - 0.4) < 0.02, `ρ ${negativeOnes} of ${hiddenSize}`);
});

test("ncgru/neumann: one NC-GRU arm per Neumann order, each reaching the trainer with its own order; smoke records the curves", async () => {
  const { config } = resolveExperimentConfig("ncgru/neumann", "cpu") as unknown as { config: { arms: Record<string, { neumannOrder: number; cell: string }>; train: { steps: number } } };
  assert.deepEqual(Object.entries(config.arms).map(([k, a]) => [k, a.cell, a.neumannOrder]), [["order1", "nc-gru", 1], ["order2", "nc-gru", 2], ["order3", "nc-gru", 3]]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-ncgru-neumann-"));
  const r = await runExperiment("ncgru/neumann", { preset: "smoke", resultsDir: dir });
  for (const arm of ["order1", "order2", "order3"]) {
    const run = r.arms[arm].runs["0"];
    assert.ok(run.curves.orthogonalityError.value.length > 0 && run.final.maxOrthogonalityError < 1e-3, `${arm}: ${run.final.maxOrthogonalityError}`);
  }
  // The three orders run the same data and init, so any difference is the Neumann series: order 1 drifts more than order 3.
  const largest = largestOrthogonalityErrors(r);
  assert.ok(largest.order1 > largest.order3, `order 1 ${largest.order1} vs order 3 ${largest.order3}`);
  assert.equal(orthogonalityFigure(r).data.length, 3);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a GRU or LSTM arm refuses NC-GRU's arm settings instead of ignoring them, naming the fix", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-ncgru-refuse-"));
  try {
    for (const [arm, override] of [["gru", "arms.gru.negativeOnes=3"], ["lstm", "arms.lstm.orthogonalReset=true"], ["gruMatched", "arms.gruMatched.negativeOnes=2"]] as const) {
      await assert.rejects(
        runExperiment("ncgru/parenthesis", { preset: "smoke", resultsDir: dir, arms: [arm], overrides: [override] }),
        (e: Error) => e.message.includes(`arms.${arm}:`) && /set negativeOnes to 0 and orthogonalReset to false/.test(e.message),
        override,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
