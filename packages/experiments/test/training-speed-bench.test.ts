/**
 * The training-speed bench's row builder and table generator (packages/experiments/bench) on a tiny
 * config: real trainers, a few steps, no PyTorch. The full bench is never run in tests.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { selectBackend, tf } from "@rnnlab/core";
import {
  buildRow, computeTargets, measureTraining, TRAINING_SPEED_SCHEMA_VERSION, type AddingSize, type LmSize, type Measurement, type TorchMeasurement, type TrainingSpeedResult,
} from "../bench/training-speed-rows";
import { replaceGeneratedBlock, TABLE_BEGIN, TABLE_END, trainingSpeedMarkdown } from "../bench/training-speed-table";

const TINY_LM: LmSize = { kind: "lm", vocabularySize: 40, embeddingSize: 8, hiddenSize: 8, layers: 2, batchSize: 4, bptt: 5 };
const TINY_ADDING: AddingSize = { kind: "adding", hiddenSize: 8, length: 12, batchSize: 4 };

before(async () => {
  await selectBackend();
});

test("measureTraining times trainLanguageModel's steps from its progress events and profiles one more", async () => {
  const tensors = tf.memory().numTensors;
  const m = await measureTraining("lstm", "tiny", TINY_LM, { steps: 3, warmupSteps: 1 });
  assert.equal(m.stepMsAll.length, 3);
  assert.equal(m.tokensPerStep, 20);
  assert.ok(m.stepMsMedian > 0 && Number.isFinite(m.tokensPerSecond));
  assert.ok(Math.abs(m.tokensPerSecond - 20 / (m.stepMsMedian / 1000)) < 1e-6 * m.tokensPerSecond);
  const p = m.profile!;
  assert.ok(p.matMulMs > 0, "the decoder and input projections are BatchMatMul/_FusedMatMul kernels");
  assert.ok(p.kernelMs > 0 && p.kernelMs <= p.stepMs + 1, `the profiled kernels (${p.kernelMs} ms) fit in the profiled step (${p.stepMs} ms): the evaluation after it is cut off`);
  assert.ok(!tf.engine().state.profiling, "the profile is closed");
  assert.equal(tf.memory().numTensors, tensors, "no tensors leaked");
});

test("NC-GRU's orthogonal update is timed inside the step, and the adding task runs through trainSyntheticTask", async () => {
  const lm = await measureTraining("ncgru", "tiny", { ...TINY_LM, layers: 1 }, { steps: 2, warmupSteps: 0, profile: false, orthogonalTiming: true });
  const o = lm.orthogonal!;
  assert.ok(o.updateMsMedian > 0 && o.updateFraction > 0 && o.updateFraction < 1, JSON.stringify(o));
  assert.ok(o.errorFraction >= 0 && o.errorFraction < 1);
  assert.equal(lm.profile, undefined);
  const adding = await measureTraining("gru", "tiny-adding", TINY_ADDING, { steps: 2 });
  assert.equal(adding.tokensPerStep, 48);
  assert.equal(adding.stepMsAll.length, 2);
  assert.ok(adding.profile && adding.profile.kernelMs > 0);
});

function fake(cell: Measurement["cell"], size: string, tokensPerSecond: number, matMulMs = 50): Measurement {
  const stepMs = 700 / (tokensPerSecond / 1000);
  return {
    cell, size, tokensPerStep: 700, stepMsAll: [stepMs], stepMsMedian: stepMs, tokensPerSecond, loadAverage: 0.5,
    profile: { stepMs: 100, matMulMs, recurrenceMs: 10, gatherScatterMs: 1, otherMs: 20, kernelMs: matMulMs + 31, topKernels: [] },
  };
}
const torch = (key: string, tokensPerSecond: number, threads: number): TorchMeasurement => ({ key, stepMsAll: [1], stepMsMedian: 700 / tokensPerSecond, tokensPerSecond, threads, torchVersion: "1.13.0a0" });

test("rows carry the ratios, the targets are computed booleans, and the README table is generated between markers", () => {
  const rows = [
    buildRow(fake("lstm", "small", 4000), torch("lstm/small", 3600, 1), torch("lstm/small", 4500, 2)),
    buildRow(fake("lstm", "medium", 800), torch("lstm/medium", 850, 1)),
    buildRow(fake("gru", "small", 3000), torch("gru/small", 3000, 1)),
  ];
  assert.equal(rows[0].ratioVsPytorch1Thread, 1.111);
  assert.equal(rows[0].ratioVsPytorch2Thread, 0.889);
  assert.equal(rows[0].gemmFraction, 0.5);
  assert.equal(rows[0].recurrenceKernelFraction, 0.1);
  assert.equal(rows[1].pytorch2ThreadTokensPerSecond, null);
  const wasmRows = [buildRow(fake("lstm", "small", 1000)), buildRow(fake("lstm", "medium", 200))];
  const lanes = { experiment: "atn/adding", preset: "cpu", arms: ["lstm", "layerNorm"], seeds: [0, 1], overrides: [], runs: 4, oneLaneSeconds: 90, twoLaneSeconds: 50, throughputRatio: 1.8 };
  const ncgru = { config: { ...TINY_LM }, stepMsMedian: 300, tokensPerSecond: 10000, orthogonal: { updateMsMedian: 20, updateFraction: 0.066, errorMsMedian: 5, errorFraction: 0.016 } };
  const targets = computeTargets(rows, wasmRows, lanes, ncgru);
  assert.equal(targets.lstmVsPytorch1Thread.met, false, "medium is 0.94x");
  assert.deepEqual(targets.lstmVsWasm.values, { "lstm/small": 4, "lstm/medium": 4 });
  assert.equal(targets.lstmVsWasm.met, true);
  assert.equal(targets.otherCellsVsPytorch1Thread.met, true);
  assert.equal(targets.lanes.met, true);
  assert.equal(targets.ncgruOrthogonalUpdate.met, true);
  const partial = computeTargets(rows.slice(0, 1), [], undefined, undefined);
  assert.equal(partial.lanes.met, null, "not measured is null, not false");
  assert.deepEqual(partial.lstmVsPytorch1Thread.values, { "lstm/small": 1.111, "lstm/medium": null });
  assert.equal(partial.lstmVsPytorch1Thread.met, null, "the LSTM targets need both LM sizes");

  const result: TrainingSpeedResult = {
    schemaVersion: TRAINING_SPEED_SCHEMA_VERSION, benchmark: "training-speed", description: "", date: "2026-12-02T12:00:00.000Z", durationSeconds: 600, quick: false,
    machine: { cpuModel: "test cpu", cores: 2, memoryGiB: 8, platform: "linux", loadAverageAtStart: 0.2 }, backend: "wasm+blas", matmul: "blas", blas: "OpenBLAS 0.3.21, 1 thread",
    tfjsVersion: "4.22.0", nodeVersion: "v20", pytorchVersion: "1.13.0a0", gitCommit: "0123456789abcdef", sizes: {}, steps: {}, rows, wasmRows, lanes, ncgruPaperWidth: ncgru, targets, errors: [],
  };
  const table = trainingSpeedMarkdown(result);
  assert.match(table, /\| LSTM \| LM small \(H=200\) \| 4,000 \| 1,000 \| 4\.00x \| 3,600 \| 4,500 \| 1\.11x \| 0\.89x \| 175\.0 \| 50 % \| 10 % \|/);
  assert.match(table, /\| GRU \| LM small \(H=200\) \| 3,000 \| – \| – \| 3,000 \| – \| 1\.00x \| – \|/);
  assert.match(table, /\*\*1\.80x\*\* the throughput/);
  assert.match(table, /under 10% of the step \| updateFraction 0\.07 \| \*\*met\*\* \|/);
  const readme = `# bench\n\nintro\n\n${TABLE_BEGIN}\nold numbers\n${TABLE_END}\n\nafter\n`;
  const updated = replaceGeneratedBlock(readme, table);
  assert.ok(updated.startsWith("# bench\n\nintro\n\n") && updated.endsWith(`${TABLE_END}\n\nafter\n`));
  assert.ok(!updated.includes("old numbers") && updated.includes(table));
  assert.equal(replaceGeneratedBlock(updated, table), updated, "regenerating changes nothing");
  assert.ok(replaceGeneratedBlock("# bench\n", table).includes(`${TABLE_BEGIN}\n${table}\n${TABLE_END}`), "markers are appended when absent");
});
