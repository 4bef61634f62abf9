/**
 * sg/ptb helpers on hand-made result JSON (src/sg/figures.ts) and the per-step schedule curves the experiment
 * records (src/sg/ptb.ts scheduleCurves). No training: the smoke test runs the experiment itself.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExperimentResult, RunRecord } from "../src";
import { resolveExperimentConfig } from "../src";
import { scheduleCurves, type SgPtbConfig } from "../src/sg/ptb";
import { sgClaims, sgCycles, sgPerplexityFigure, sgScheduleFigure, sgSummaryRows, sgSynthesizerLossFigure, sgTokensPerStep } from "../src/sg/figures";
import type { ScheduleOptions } from "@rnnlab/train";

const config = resolveExperimentConfig("sg/ptb", "cpu").config as unknown as SgPtbConfig;
const sgdr: ScheduleOptions = { kind: "sgdr", learningRate: 0.002, minLearningRate: 0, period: 0.5, periodMultiplier: 2, repeatFirstCycle: true };

function run(arm: string, steps: number, ppl: number[], testPerplexity: number): RunRecord {
  const every = steps / ppl.length;
  const step = ppl.map((_, i) => (i + 1) * every);
  const a = config.arms[arm as keyof SgPtbConfig["arms"]];
  return {
    seed: 0,
    runHash: arm,
    final: { steps, validPerplexity: ppl[ppl.length - 1], testPerplexity, trainSeconds: steps / 10 },
    curves: {
      validPerplexity: { step, value: ppl },
      validElapsedSeconds: { step, value: step.map((s) => s / 10) },
      ...(a.gradients === "none" ? {} : { synthesizerLoss: { step, value: ppl.map((p) => p / 1e4) } }),
      ...scheduleCurves(a.schedule === "sgdr" ? sgdr : { kind: "constant", learningRate: 0.002 }, a, steps, config.model.epochs, config.model.bptt),
    },
    extra: { vocabularySize: 10000 },
    durationSeconds: 1,
    finishedAt: "2026-01-01T00:00:00Z",
  };
}

function arm(r: RunRecord) {
  return { runs: { "0": r }, summary: { testPerplexity: { mean: r.final.testPerplexity, std: 0, n: 1 } } };
}

const result: ExperimentResult = {
  schemaVersion: 1,
  id: "sg/ptb",
  paper: "sg",
  title: "sg/ptb",
  preset: "cpu",
  overrides: [],
  seeds: [0],
  config,
  configHash: "x",
  arms: {
    bptt: arm(run("bptt", 1000, [900, 400, 300, 320], 330)),
    dni: arm(run("dni", 1000, [900, 380, 280, 290], 300)),
    dniRestarts: arm(run("dniRestarts", 1000, [900, 390, 270, 260], 270)),
    alternating: arm(run("alternating", 1000, [900, 395, 275, 265], 275)),
    bpttLong: arm(run("bpttLong", 250, [800, 350, 250, 240], 245)),
  },
  primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
  reported: { source: "s", metric: "m", ourMetric: "testPerplexity", lowerIsBetter: true, values: { bptt: null, dni: null, dniRestarts: null, alternating: null, bpttLong: null } },
  environment: { gitCommit: null, gitDirty: null, backend: "wasm", tfjsVersion: "4.22.0", nodeVersion: "v22", cpuModel: "x", cpuCount: 2, platform: "linux" },
  startedAt: "2026-01-01T00:00:00Z",
  durationSeconds: 1,
};

test("cpu preset: SGDR cycles 0.5, 0.5, 1, 2 epochs, alternating starts real and flips at each restart", () => {
  assert.deepEqual(sgCycles(result), [
    { start: 0, end: 0.5, mode: "real" },
    { start: 0.5, end: 1, mode: "synthetic" },
    { start: 1, end: 2, mode: "real" },
    { start: 2, end: 4, mode: "synthetic" },
  ]);
});

test("schedule curves: alternating is synthetic exactly in the odd cycles, DNI always, BPTT never; lr restarts at the peak", () => {
  const alt = scheduleCurves(sgdr, config.arms.alternating, 1000, 4, 8);
  const mode = alt.syntheticGradientMode.value;
  // 250 steps per epoch: cycle 0 = steps 1..125, cycle 1 = 126..250, cycle 2 = 251..500, cycle 3 = 501..1000.
  assert.equal(mode[124], 0);
  assert.equal(mode[125], 1);
  assert.equal(mode[249], 1);
  assert.equal(mode[250], 0);
  assert.equal(mode[500], 1);
  assert.equal(mode[999], 1);
  assert.equal(alt.learningRate.value[125], 0.002);
  assert.ok(alt.learningRate.value[124] < 1e-4);
  assert.ok(scheduleCurves(sgdr, config.arms.dniRestarts, 1000, 4, 8).syntheticGradientMode.value.every((v) => v === 1));
  assert.ok(scheduleCurves({ kind: "constant", learningRate: 1 }, config.arms.bptt, 1000, 4, 8).syntheticGradientMode.value.every((v) => v === 0));
  assert.equal(scheduleCurves(sgdr, config.arms.bpttLong, 250, 4, 8).tokensPerSequence.value[0], 32);
});

test("perplexity figures: tokens put BPTT(4T) on the same axis; restarts drawn as 3 lines, 2 shaded SG cycles", () => {
  assert.equal(sgTokensPerStep(result, "bptt") * 4, sgTokensPerStep(result, "bpttLong"));
  const f = sgPerplexityFigure(result, "tokens");
  const traces = f.data as { name?: string; x: number[] }[];
  const long = traces.find((t) => t.name === "BPTT(4T) reference")!;
  const short = traces.find((t) => t.name === "BPTT(T)")!;
  assert.equal(long.x[long.x.length - 1], short.x[short.x.length - 1]);
  assert.ok(traces.some((t) => t.name?.startsWith("uniform guess")));
  const shapes = (f.layout as { shapes: { type: string; x0: number }[] }).shapes;
  assert.equal(shapes.filter((s) => s.type === "line").length, 3);
  assert.equal(shapes.filter((s) => s.type === "rect").length, 2);
  // The first restart at half an epoch = 125 steps × 256 tokens = 32k tokens.
  assert.equal(shapes.find((s) => s.type === "line")!.x0, 32);
  const seconds = sgPerplexityFigure(result, "seconds");
  assert.equal((seconds.layout as { shapes: { type: string; x0: number }[] }).shapes.find((s) => s.type === "line")!.x0, 12.5);
  assert.equal((sgSynthesizerLossFigure(result).data as { name?: string }[]).filter((t) => t.name).length, 3);
  assert.ok(sgScheduleFigure(result).data.length >= 4);
});

test("summary rows and claims come from the JSON: best = min of the curve, paper numbers null", () => {
  const rows = sgSummaryRows(result);
  const dni = rows.find((r) => r.arm === "DNI(T)")!;
  assert.equal(dni.bestValidPerplexity, 280);
  assert.equal(dni.finalValidPerplexity, 290);
  assert.equal(dni.testPerplexity, 300);
  assert.equal(dni.paperTestPerplexity, null);
  assert.equal(rows.find((r) => r.arm === "BPTT(4T) reference")!.window, 32);
  const c = sgClaims(result);
  assert.equal(c.dniMinusBptt, -30);
  assert.equal(c.dniBeatsBptt, true);
  assert.equal(c.alternatingMinusDniRestarts, 5);
  assert.equal(c.alternatingAtLeastAsGood, false);
});
