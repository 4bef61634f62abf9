/**
 * Every registered experiment runs at the smoke preset and writes a valid result file (what CI relies
 * on). Runs in one process with a temporary results directory; each experiment takes seconds.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend, tf } from "@rnnlab/core";
import { listExperiments, readResult, resultPath, runExperiment, validateResult, armNames, resolveExperimentConfig } from "../src";

let dir: string;
before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-smoke-"));
});

test("the registry holds every paper's experiments", () => {
  const ids = listExperiments().map((e) => e.id);
  for (const id of [
    "g2lstm/ptb", "g2lstm/translation", "sg/ptb", "sdropout/ptb", "sdropout/translation", "sdropout/ner", "sdropout/rate-sweep",
    "atn/adding", "atn/copying", "atn/denoise", "atn/char-ptb", "atn/window", "ncgru/denoise", "ncgru/parenthesis", "ncgru/char-ptb", "env/tiny",
  ]) {
    assert.ok(ids.includes(id), `${id} is registered`);
  }
  for (const e of listExperiments()) {
    // Every preset resolves (presets are checked against the base like --set overrides).
    for (const preset of ["smoke", "cpu", "paper"] as const) resolveExperimentConfig(e.id, preset);
    // Reported numbers are keyed by arm; unknown ones are null with a note, never invented.
    const arms = armNames(e, resolveExperimentConfig(e.id, "smoke").config);
    assert.deepEqual(Object.keys(e.reported.values).sort(), [...arms].sort(), `${e.id}: reported values per arm`);
    if (Object.values(e.reported.values).some((v) => v === null)) assert.ok(e.reported.note, `${e.id}: a note explains the unknown numbers`);
  }
});

for (const definition of listExperiments()) {
  if (definition.id.startsWith("test/")) continue;
  test(`${definition.id} runs at the smoke preset and writes a valid result`, async () => {
    const tensorsBefore = tf.memory().numTensors;
    const started = Date.now();
    const result = await runExperiment(definition.id, { preset: "smoke", resultsDir: dir });
    const seconds = (Date.now() - started) / 1000;
    const onDisk = readResult(resultPath(definition.id, dir));
    assert.ok(onDisk);
    assert.deepEqual(validateResult(onDisk), []);
    assert.equal(onDisk.id, definition.id);
    assert.equal(onDisk.preset, "smoke");
    assert.deepEqual(Object.keys(onDisk.arms).sort(), armNames(definition, resolveExperimentConfig(definition.id, "smoke").config).sort());
    for (const [arm, a] of Object.entries(result.arms)) {
      const metric = a.summary[definition.reported.ourMetric];
      assert.ok(metric && Number.isFinite(metric.mean), `${definition.id} ${arm}: final ${definition.reported.ourMetric} is a finite number`);
      for (const curve of definition.plotCurves.slice(0, 1)) {
        assert.ok(Object.values(a.runs).every((r) => r.curves[curve]?.step.length > 0), `${definition.id} ${arm}: curve ${curve} recorded`);
      }
    }
    // The G2 compression table re-evaluates the trained weights from the checkpoint: uncompressed == trainer's test value.
    for (const a of Object.values(result.arms)) {
      for (const run of Object.values(a.runs)) {
        const table = (run.extra as { compression?: Record<string, number> } | undefined)?.compression;
        if (table && "uncompressed" in table && typeof run.final.testPerplexity === "number") {
          assert.ok(Math.abs(table.uncompressed - run.final.testPerplexity) < 1e-3 * run.final.testPerplexity, `${definition.id}: ${table.uncompressed} vs ${run.final.testPerplexity}`);
        }
      }
    }
    assert.ok(seconds < 60, `${definition.id} smoke took ${seconds.toFixed(1)} s`);
    // Trainers dispose what they create (a few kept tensors, e.g. cached constants, are tolerated).
    assert.ok(tf.memory().numTensors - tensorsBefore < 50, `${definition.id} leaked ${tf.memory().numTensors - tensorsBefore} tensors`);
  });
}
