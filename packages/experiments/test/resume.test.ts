/**
 * Exact resume through each trainer adapter: a run is interrupted after a mid-run checkpoint (simulated by
 * restoring that checkpoint and removing the finished outcome), resumed by runExperiment, and must end with
 * the same final metrics as the uninterrupted run.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "@rnnlab/core";
import { planExperiment, resultPath, runDirFor, runExperiment } from "../src";

before(async () => {
  await selectBackend();
});

const cases: { id: string; arm: string; overrides: string[] }[] = [
  { id: "g2lstm/ptb", arm: "g2", overrides: ["model.checkpointEverySteps=2"] },
  { id: "atn/adding", arm: "atn", overrides: ["train.checkpointEverySteps=2"] },
  { id: "g2lstm/translation", arm: "g2", overrides: ["train.checkpointEverySteps=2", "train.epochs=2"] },
  { id: "sdropout/ner", arm: "structured", overrides: ["train.checkpointEverySteps=2", "train.epochs=2"] },
];

for (const { id, arm, overrides } of cases) {
  test(`${id}: a run resumed from a mid-run checkpoint ends with the uninterrupted run's numbers`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-resume-"));
    const runDir = runDirFor(id, arm, 0, dir);
    const saved = path.join(dir, "mid-run-checkpoint");
    let copiedAt = -1;
    const options = { preset: "smoke" as const, arms: [arm], seeds: [0], overrides, resultsDir: dir };
    const reference = await runExperiment(id, {
      ...options,
      onProgress: (e) => {
        // The first checkpoint after step 2 is a mid-run one: keep a copy, as a killed process would leave it.
        const file = path.join(runDir, "checkpoint.rnnlab");
        if (copiedAt < 0 && e.kind === "progress" && e.step >= 3 && fs.existsSync(file)) {
          fs.copyFileSync(file, saved);
          copiedAt = e.step;
        }
      },
    });
    assert.ok(copiedAt > 0, "a mid-run checkpoint was written");
    // Simulate the kill: the mid-run checkpoint is on disk, the run never finished.
    fs.copyFileSync(saved, path.join(runDir, "checkpoint.rnnlab"));
    fs.rmSync(path.join(runDir, "outcome.json"));
    fs.rmSync(resultPath(id, dir));
    assert.equal(planExperiment(id, options).runs[0].status, "partial");
    const resumed = await runExperiment(id, options);
    const before = reference.arms[arm].runs["0"];
    const after = resumed.arms[arm].runs["0"];
    assert.ok((after.resumedFromStep ?? 0) > 0, `resumed from step ${after.resumedFromStep}`);
    const timing = /seconds|Seconds/;
    for (const [k, v] of Object.entries(before.final)) {
      if (timing.test(k)) continue;
      assert.equal(after.final[k], v, `${id} ${k}`);
    }
  });
}
