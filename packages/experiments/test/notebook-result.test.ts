/**
 * notebookResult: what a paper notebook shows. A committed result is loaded as it is (nothing trains), with
 * a note naming the runs that are not current; only a missing result file trains (policy "missing"), and
 * "never" fails with the command to run.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "@rnnlab/core";
import { notebookResult, notebookTrainPolicy, readResult, resultPath } from "../src";

before(async () => {
  await selectBackend();
});

function recorder() {
  const markdown: string[] = [];
  return { markdown, display: { markdown: (s: string) => markdown.push(s), html: () => {}, png: () => {} } as never };
}

test("notebookResult trains only when there is no result file, then loads it as it is and names the runs that are not current", async () => {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-nbresult-"));
  const savedRuns = process.env.RNNLAB_RUNS_DIR;
  delete process.env.RNNLAB_RUNS_DIR;
  try {
    const options = { preset: "smoke" as const, seeds: [0, 1], resultsDir: results };
    await assert.rejects(notebookResult("env/tiny", { ...options, policy: "never" }), /no smoke-preset result .*npx rnnlab run env\/tiny --preset smoke/);

    const trained = await notebookResult("env/tiny", { ...options, policy: "missing" });
    const file = resultPath("env/tiny", results);
    assert.ok(fs.existsSync(file), "the missing result was trained and written");
    assert.deepEqual(Object.keys(trained.arms).sort(), ["momentum", "sgd"]);

    // All current: loaded, no note.
    const quiet = recorder();
    const loaded = await notebookResult("env/tiny", { ...options, display: quiet.display });
    assert.deepEqual(loaded.arms.sgd.runs["0"].final, trained.arms.sgd.runs["0"].final);
    assert.deepEqual(quiet.markdown, []);

    // One run dropped from the file and another recorded under an old hash: still only loaded (the file is
    // not rewritten), and the note names both and the command.
    const edited = readResult(file)!;
    delete (edited.arms.momentum.runs as Record<string, unknown>)["1"];
    edited.arms.sgd.runs["0"].runHash = "0".repeat(64);
    fs.writeFileSync(file, JSON.stringify(edited));
    const before = fs.readFileSync(file, "utf8");
    const noted = recorder();
    const shown = await notebookResult("env/tiny", { ...options, display: noted.display, policy: "missing" });
    assert.equal(fs.readFileSync(file, "utf8"), before, "nothing trained or rewritten");
    assert.equal(shown.arms.sgd.runs["0"].runHash, "0".repeat(64));
    assert.equal(noted.markdown.length, 1);
    assert.match(noted.markdown[0], /env\/tiny: 2 of 4 runs are not current/);
    assert.match(noted.markdown[0], /stale \(recorded with another config\): sgd seed 0/);
    assert.match(noted.markdown[0], /not in the result file: momentum seed 1/);
    assert.match(noted.markdown[0], /npx rnnlab run env\/tiny --preset smoke/);

    // "always" trains what is not current and rewrites the file.
    const updated = await notebookResult("env/tiny", { ...options, policy: "always" });
    assert.notEqual(updated.arms.sgd.runs["0"].runHash, "0".repeat(64));
    assert.ok(updated.arms.momentum.runs["1"]);
  } finally {
    if (savedRuns !== undefined) process.env.RNNLAB_RUNS_DIR = savedRuns;
    fs.rmSync(results, { recursive: true, force: true });
  }
});

test("RNNLAB_NOTEBOOK_TRAIN accepts missing, always, never and names them on a bad value", () => {
  const saved = process.env.RNNLAB_NOTEBOOK_TRAIN;
  try {
    delete process.env.RNNLAB_NOTEBOOK_TRAIN;
    assert.equal(notebookTrainPolicy(), "missing");
    process.env.RNNLAB_NOTEBOOK_TRAIN = "always";
    assert.equal(notebookTrainPolicy(), "always");
    process.env.RNNLAB_NOTEBOOK_TRAIN = "sometimes";
    assert.throws(() => notebookTrainPolicy(), /RNNLAB_NOTEBOOK_TRAIN="sometimes": expected missing \(the default\), always or never/);
  } finally {
    if (saved === undefined) delete process.env.RNNLAB_NOTEBOOK_TRAIN;
    else process.env.RNNLAB_NOTEBOOK_TRAIN = saved;
  }
});
