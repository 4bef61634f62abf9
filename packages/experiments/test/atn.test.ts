/**
 * ATN notebook helpers (src/atn/figures.ts) on hand-made result JSON, and the window sweep's arm
 * settings (src/atn/synthetic.ts). No training: the smoke test runs the experiments themselves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExperimentResult, RunRecord } from "../src";
import { atnBaseline, atnCurveFigure, atnSummaryRows, atnWindowFigure, atnWindowPoints } from "../src/atn/figures";
import { armSettings } from "../src/atn/synthetic";

function run(seed: number, testLoss: number, stepBelowBaseline: number, curve: number[]): RunRecord {
  return {
    seed,
    runHash: `h${seed}`,
    final: { testLoss, baseline: 1 / 6, stepBelowBaseline },
    curves: { testLoss: { step: curve.map((_, i) => (i + 1) * 25), value: curve } },
    durationSeconds: 1,
    finishedAt: "2026-01-01T00:00:00Z",
  };
}

function arm(runs: RunRecord[]) {
  const xs = runs.map((r) => r.final.testLoss);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { runs: Object.fromEntries(runs.map((r) => [String(r.seed), r])), summary: { testLoss: { mean, std, n: xs.length } } };
}

function result(id: string, config: object, arms: ExperimentResult["arms"]): ExperimentResult {
  return {
    schemaVersion: 1,
    id,
    paper: "atn",
    title: id,
    preset: "cpu",
    overrides: [],
    seeds: [0, 1],
    config,
    configHash: "x",
    arms,
    primaryMetric: { name: "testLoss", lowerIsBetter: true },
    reported: { source: "s", metric: "m", ourMetric: "testLoss", lowerIsBetter: true, values: {} },
    environment: { gitCommit: null, gitDirty: null, backend: "wasm", tfjsVersion: "4.22.0", nodeVersion: "v22", cpuModel: "x", cpuCount: 2, platform: "linux" },
    startedAt: "2026-01-01T00:00:00Z",
    durationSeconds: 1,
  };
}

const adding = result(
  "atn/adding",
  { arms: { lstm: { normalization: "none", window: 1 }, layerNorm: { normalization: "layer", window: 1 }, atn: { normalization: "assortedTime", window: 8 } } },
  {
    lstm: arm([run(0, 0.16, -1, [0.2, 0.17]), run(1, 0.15, 50, [0.2, 0.16])]),
    layerNorm: arm([run(0, 0.05, 25, [0.1, 0.05]), run(1, 0.07, 25, [0.12, 0.07])]),
    atn: arm([run(0, 0.01, 25, [0.05, 0.01]), run(1, 0.03, 50, [0.2, 0.03])]),
  },
);
const sweep = result("atn/window", { arms: {}, windows: [15] }, { k15: arm([run(0, 0.02, 25, [0.1, 0.02]), run(1, 0.04, 25, [0.1, 0.04])]) });

test("window points: k = 1 from LN, k from ATN and k<k> arms, sorted; the plain LSTM has no window", () => {
  const points = atnWindowPoints([sweep, adding]);
  assert.deepEqual(points.map((p) => p.window), [1, 8, 15]);
  assert.deepEqual(points.map((p) => p.source), ["atn/adding:layerNorm", "atn/adding:atn", "atn/window:k15"]);
  assert.ok(Math.abs(points[0].mean - 0.06) < 1e-12);
  assert.equal(points[2].seeds, 2);
});

test("window points refuse the same k from two results", () => {
  assert.throws(() => atnWindowPoints([adding, adding]), /k=1 appears in more than one result/);
});

test("curve figure: one trace and band per arm with readable names, and the baseline line", () => {
  const spec = atnCurveFigure(adding, "testLoss");
  const names = spec.data.map((d) => d.name).filter((n) => n !== undefined);
  assert.deepEqual(names, ["LSTM", "LN-LSTM", "ATN-LSTM (k=8)", "trivial baseline 0.167"]);
  const baseline = spec.data.find((d) => d.name === "trivial baseline 0.167") as { y: number[] };
  assert.deepEqual(baseline.y, [1 / 6, 1 / 6]);
  assert.throws(() => atnCurveFigure(adding, "validBitsPerCharacter"), /no arm recorded the curve "validBitsPerCharacter"/);
});

test("window figure plots the mean final loss against k", () => {
  const spec = atnWindowFigure([adding, sweep]);
  const line = spec.data.find((d) => d.name === "ATN-LSTM") as { x: number[]; y: number[] };
  assert.deepEqual(line.x, [1, 8, 15]);
  assert.ok(Math.abs(line.y[1] - 0.02) < 1e-12);
});

test("summary rows: loss over baseline, seeds below it, mean first step among seeds that got there", () => {
  assert.equal(atnBaseline(adding), 1 / 6);
  const rows = atnSummaryRows(adding);
  const lstm = rows.find((r) => r.arm === "LSTM")!;
  assert.equal(lstm["seeds below baseline"], 2);
  assert.equal(lstm["first step below baseline (mean of seeds that got there)"], 50);
  const atn = rows.find((r) => r.arm === "ATN-LSTM (k=8)")!;
  assert.ok(Math.abs((atn["loss / baseline"] as number) - 0.02 * 6) < 1e-12);
  assert.equal(atn["first step below baseline (mean of seeds that got there)"], 37.5);
});

test("window sweep arms are k<window> from config.windows; anything else is an error naming the arm", () => {
  assert.deepEqual(armSettings({ arms: {}, windows: [1, 15] }, "k15"), { normalization: "assortedTime", window: 15, inputInit: "orthogonal", recurrentInit: "identity" });
  assert.throws(() => armSettings({ arms: {}, windows: [1, 15] }, "k7"), /arm "k7" is not one of windows=\[1,15\]/);
  const atnArm = { normalization: "assortedTime", window: 3, inputInit: "orthogonal", recurrentInit: "identity" };
  assert.deepEqual(armSettings({ arms: { atn: atnArm } }, "atn"), atnArm);
  assert.throws(() => armSettings({ arms: {} }, "lstm"), /arm "lstm" is not in arms/);
});
