/**
 * Structured-dropout figure/table builders: speedups are per-element s/step ÷ the arm's s/step, the
 * time axis is step × s/step, and the rate-sweep figure pairs arms by rate.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { sdropoutQualityVsTimeFigure, sdropoutSpeedRows, sdropoutSpeedupVsRateFigure, sdropoutSummaryRows, sdropoutTimeBreakdownRows, type ExperimentResult } from "../src";
import { withTimeToTarget } from "../src/sdropout/ptb";
import { languageModelStepsPerEpoch, timeToTarget } from "../src/sdropout/time-to-target";

function arm(secondsPerStep: number, metric: number, curve: number[]) {
  return {
    runs: { "0": { seed: 0, runHash: "x", final: { secondsPerStep, testPerplexity: metric }, curves: { validPerplexity: { step: [10, 20], value: curve } } } },
    summary: { secondsPerStep: { mean: secondsPerStep, std: 0, n: 1 }, testPerplexity: { mean: metric, std: 0, n: 1 }, steps: { mean: 20, std: 0, n: 1 } },
  };
}

function fake(arms: Record<string, ReturnType<typeof arm>>): ExperimentResult {
  return {
    schemaVersion: 1,
    id: "sdropout/ptb",
    paper: "sdropout",
    title: "t",
    preset: "smoke",
    overrides: [],
    seeds: [0],
    config: {},
    configHash: "h",
    arms,
    primaryMetric: { name: "testPerplexity", lowerIsBetter: true },
    reported: { source: "s", metric: "test perplexity", ourMetric: "testPerplexity", lowerIsBetter: true, values: {}, note: "" },
    environment: { gitCommit: null, gitDirty: null, backend: "wasm", tfjsVersion: "4.22.0", nodeVersion: "v20", cpuModel: "CPU", cpuCount: 2, platform: "linux" },
    startedAt: "",
    durationSeconds: 1,
  } as unknown as ExperimentResult;
}

test("speed rows: speedup is the per-element arm's s/step over the arm's own", () => {
  const rows = sdropoutSpeedRows(fake({ elementwise: arm(2, 100, [300, 200]), structured: arm(1, 110, [320, 210]), none: arm(4, 120, [1, 1]) }));
  const byArm = Object.fromEntries(rows.map((r) => [r.arm, r]));
  assert.equal(byArm.structured["speedup vs elementwise"], 2);
  assert.equal(byArm.none["speedup vs elementwise"], 0.5);
  assert.equal(byArm.elementwise["speedup vs elementwise"], 1);
  assert.equal(byArm.structured.testPerplexity, 110);
  assert.match(String(byArm.structured["paper speedup"]), /1\.23–1\.64/);
  assert.equal(byArm.elementwise["paper speedup"], null);
});

test("quality vs time: x is step × s/step per arm, backend named in the title", () => {
  const spec = sdropoutQualityVsTimeFigure(fake({ elementwise: arm(2, 100, [300, 200]), structured: arm(0.5, 110, [320, 210]) }), "validPerplexity");
  const traces = spec.data as { name: string; x: number[] }[];
  assert.deepEqual(traces.find((t) => t.name === "elementwise")?.x, [20, 40]);
  assert.deepEqual(traces.find((t) => t.name === "structured")?.x, [5, 10]);
  assert.match(JSON.stringify(spec.layout), /wasm backend/);
  assert.throws(() => sdropoutQualityVsTimeFigure(fake({ elementwise: arm(2, 100, [1, 2]) }), "validF1"), /validF1/);
  // Without a measured s/step (too few steps for the timer) it falls back to trainSeconds / steps.
  const untimed = arm(2, 100, [300, 200]);
  const summary = untimed.summary as Record<string, { mean: number; std: number; n: number }>;
  delete summary.secondsPerStep;
  summary.trainSeconds = { mean: 60, std: 0, n: 1 };
  const fallback = sdropoutQualityVsTimeFigure(fake({ elementwise: untimed }), "validPerplexity");
  assert.deepEqual((fallback.data as { x: number[] }[])[0].x, [30, 60]);
});

test("speedup vs rate pairs elementwise-p<r> with structured-p<r> and structured-window-p<r>, sorted by rate", () => {
  const spec = sdropoutSpeedupVsRateFigure(
    fake({
      "elementwise-p50": arm(3, 1, [1, 1]),
      "structured-p50": arm(2, 1, [1, 1]),
      "structured-window-p50": arm(1.5, 1, [1, 1]),
      "elementwise-p30": arm(1, 1, [1, 1]),
      "structured-p30": arm(2, 1, [1, 1]),
    }),
  );
  const traces = spec.data as { name: string; x: number[]; y: number[] }[];
  const perStep = traces.find((t) => t.name.startsWith("structured, new keep set every step"))!;
  assert.deepEqual(perStep.x, [0.3, 0.5]);
  assert.deepEqual(perStep.y, [0.5, 1.5]);
  const window = traces.find((t) => t.name.startsWith("structured, one keep set per BPTT window"))!;
  assert.deepEqual(window.x, [0.5]);
  assert.deepEqual(window.y, [2]);
  assert.throws(() => sdropoutSpeedupVsRateFigure(fake({ "elementwise-p50": arm(3, 1, [1, 1]) })), /no rate with both/);
});

test("structured-window arms are compared with the per-element arm at the same rate; the summary gives speedup and metric difference", () => {
  const result = fake({ elementwise: arm(2, 100, [1, 1]), structured: arm(4, 103, [1, 1]), "structured-window": arm(1.25, 98, [1, 1]), none: arm(1, 90, [1, 1]) });
  const rows = Object.fromEntries(sdropoutSpeedRows(result).map((r) => [r.arm, r]));
  assert.equal(rows["structured-window"]["speedup vs elementwise"], 1.6);
  const summary = sdropoutSummaryRows([result]);
  assert.deepEqual(summary.map((r) => r.arm), ["structured", "structured-window"]);
  assert.equal(summary[0].speedup, 0.5);
  assert.equal(summary[0]["difference (structured − per-element)"], 3);
  assert.equal(summary[1].speedup, 1.6);
  assert.equal(summary[1]["difference (structured − per-element)"], -2);
});

test("time breakdown rows average the profiled kernel groups over seeds and give the matMul share", () => {
  const result = fake({ elementwise: arm(2, 100, [1, 1]), structured: arm(1, 100, [1, 1]) });
  const profile = (matMulMs: number) => ({ steps: 3, matMulMs, gatherScatterMs: 10, otherMs: 30, kernelMs: matMulMs + 40, topKernels: [{ name: "BatchMatMul", ms: matMulMs, calls: 9 }] });
  (result.arms.elementwise.runs["0"] as { extra?: unknown }).extra = { timeBreakdown: profile(160) };
  (result.arms.structured.runs["0"] as { extra?: unknown }).extra = { timeBreakdown: profile(60) };
  result.arms.structured.runs["1"] = { ...result.arms.structured.runs["0"], seed: 1, extra: { timeBreakdown: profile(80) } };
  const rows = Object.fromEntries(sdropoutTimeBreakdownRows(result).map((r) => [r.arm, r]));
  assert.equal(rows.elementwise["matMul ms"], 160);
  assert.equal(rows.elementwise["matMul share"], 0.8);
  assert.equal(rows.structured["matMul ms"], 70);
  assert.equal(rows.structured["kernel ms per pass"], 110);
  assert.match(String(rows.structured["top kernels (ms)"]), /BatchMatMul 60/);
  assert.throws(() => sdropoutTimeBreakdownRows(fake({ elementwise: arm(2, 100, [1, 1]) })), /no run recorded extra.timeBreakdown/);
});

test("time to target: the first validation evaluation at or below the target, in steps, epochs and training seconds", () => {
  // PTB words: 929,589 training tokens at batch 20 are 46,479 rows; windows of 20 over 46,478 targets: 2,324 steps.
  assert.equal(languageModelStepsPerEpoch(929_589, 20, 20), 2324);
  assert.equal(languageModelStepsPerEpoch(929_589, 20, 20, 600), 600);
  assert.equal(languageModelStepsPerEpoch(929_589, 20, 35), 1328);
  const curve = { step: [100, 200, 300, 300, 400], value: [400, 180, 151, 149.5, 120] };
  // 149.5 at step 300 (the epoch-end evaluation after a mid-epoch one at the same step) is the first at or below 150.
  assert.deepEqual(timeToTarget(curve, 150, 0.5, 400), { step: 300, epoch: 0.75, seconds: 150 });
  // "At or below": a value equal to the target counts.
  assert.deepEqual(timeToTarget(curve, 180, 2, 100), { step: 200, epoch: 2, seconds: 400 });
  // A later rise does not matter; a target never reached gives undefined.
  assert.equal(timeToTarget({ step: [1, 2], value: [300, 200] }, 150, 1, 10), undefined);
  assert.equal(timeToTarget({ step: [], value: [] }, 150, 1, 10), undefined);
  assert.throws(() => timeToTarget(curve, 0, 1, 10), /target=0/);
  assert.throws(() => timeToTarget(curve, 150, NaN, 10), /secondsPerStep=NaN/);
  assert.throws(() => timeToTarget({ step: [2, 1], value: [300, 100] }, 150, 1, 10), /not in order/);
  assert.throws(() => timeToTarget({ step: [1], value: [] }, 150, 1, 10), /1 steps but 0 values/);
});

test("withTimeToTarget adds seconds per epoch and the time to the target validation perplexity to an LM outcome", () => {
  const outcome = () => ({
    final: { secondsPerStep: 0.25, validPerplexity: 140 } as Record<string, number>,
    curves: {
      validPerplexity: { step: [50, 100, 150], value: [300, 160, 140] },
      validElapsedSeconds: { step: [100, 150], value: [30, 45] },
    },
    extra: { trainTokens: 20 * 101 }, // 101 rows: 100 targets, 10 windows of bptt 10
  });
  const model = { batchSize: 20, bptt: 10, maxStepsPerEpoch: 0 };
  const hit = withTimeToTarget(outcome(), model, 150).final;
  assert.equal(hit.targetValidPerplexity, 150);
  assert.equal(hit.secondsPerEpoch, 2.5);
  assert.equal(hit.reachedTargetValidPerplexity, 1);
  assert.equal(hit.stepsToTargetValidPerplexity, 150);
  assert.equal(hit.epochsToTargetValidPerplexity, 15);
  assert.equal(hit.secondsToTargetValidPerplexity, 37.5);
  assert.equal(hit.wallSecondsToTargetValidPerplexity, 45);
  const early = withTimeToTarget(outcome(), model, 200).final;
  assert.equal(early.stepsToTargetValidPerplexity, 100);
  assert.equal(early.wallSecondsToTargetValidPerplexity, 30);
  // Reached at an evaluation from before a resume (not in validElapsedSeconds): no wall-clock value.
  assert.equal(withTimeToTarget(outcome(), model, 400).final.wallSecondsToTargetValidPerplexity, undefined);
  const missed = withTimeToTarget(outcome(), model, 100).final;
  assert.equal(missed.reachedTargetValidPerplexity, 0);
  assert.equal(missed.secondsToTargetValidPerplexity, undefined);
  // A run too short for the step timer reports the target but no time.
  const untimed = outcome();
  delete untimed.final.secondsPerStep;
  const u = withTimeToTarget(untimed, model, 150).final;
  assert.equal(u.targetValidPerplexity, 150);
  assert.equal(u.reachedTargetValidPerplexity, undefined);
  assert.throws(() => withTimeToTarget({ ...outcome(), extra: {} }, model, 150), /extra.trainTokens/);
});
