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
import { createGru, createLstm, createNcGru } from "@rnnlab/cells";
import { armParameterCount, gradientNormFigure, largestOrthogonalityErrors, largestOrthogonalityErrorsMarkdown, ncgruLossFigure, orthogonalityFigure, resolveExperimentConfig, runExperiment, type ExperimentResult } from "../src";

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
  assert.deepEqual(Object.keys(denoise.arms), ["gru", "ncgru", "ncgruReset", "lstm"]);
  const largest = largestOrthogonalityErrors(denoise);
  assert.deepEqual(Object.keys(largest).sort(), ["ncgru", "ncgruReset"]);
  for (const [arm, v] of Object.entries(largest)) {
    const run = denoise.arms[arm].runs["0"];
    assert.equal(v, run.final.maxOrthogonalityError);
    assert.ok(v >= Math.max(...run.curves.orthogonalityError.value) && v < 1e-3, `${arm}: ${v}`);
  }
  assert.ok(denoise.arms.gru.runs["0"].final.parameters > 0);
  const loss = ncgruLossFigure(denoise);
  const names = (loss.data as { name?: string }[]).map((d) => d.name).filter(Boolean);
  assert.deepEqual(names, ["GRU", "NC-GRU(U_c)", "NC-GRU(U_c, U_r)", "LSTM", "trivial baseline"]);
  const baselineTrace = (loss.data as { name?: string; y: number[] }[]).find((d) => d.name === "trivial baseline")!;
  assert.equal(baselineTrace.y[0], denoise.arms.gru.summary.baseline.mean);
  const orth = orthogonalityFigure(denoise);
  assert.equal((orth.data as unknown[]).length, 2, "one trace per NC-GRU arm");
  assert.equal((orth.layout as { yaxis: { type: string } }).yaxis.type, "log");
  assert.equal((gradientNormFigure(denoise).data as unknown[]).length, 4);
  assert.throws(() => orthogonalityFigure(denoise, 99), /seed 99/);
  const line = largestOrthogonalityErrorsMarkdown(denoise);
  assert.ok(line.includes(`NC-GRU(U_c) ${largest.ncgru.toExponential(2)}`) && line.includes(`NC-GRU(U_c, U_r) ${largest.ncgruReset.toExponential(2)}`), line);
});
