import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "@rnnlab/core";
import { buildReport, checkStaleness, collectResults, missingArms, planExperiment, readResult, registerExperiment, resultPath, runExperiment } from "../src";

// A test-only experiment whose config the tests change under a recorded result (arms added, settings changed).
const base: { train: { steps: number; scale: number }; arms: Record<string, { offset: number }> } = {
  train: { steps: 3, scale: 1 },
  arms: { a: { offset: 0 }, b: { offset: 10 } },
};
registerExperiment<typeof base>({
  id: "test/staleness",
  title: "staleness",
  claim: "none",
  base,
  presets: { smoke: {}, cpu: {}, paper: {} },
  defaultSeeds: { smoke: [0, 1], cpu: [0], paper: [0] },
  data: { kind: "synthetic", task: "none" },
  reported: { source: "test", metric: "m", ourMetric: "value", lowerIsBetter: true, values: {} },
  primaryMetric: { name: "value", lowerIsBetter: true },
  plotCurves: [],
  async runArm(ctx) {
    const offset = ctx.config.arms[ctx.arm].offset;
    return { final: { value: ctx.config.train.scale * (offset + ctx.seed) }, curves: {} };
  },
});

/** Run `change` on the experiment's base config, call `check` with the recorded result, then restore the base. */
function withChange(change: () => void, check: () => void): void {
  const saved = structuredClone(base);
  change();
  try {
    check();
  } finally {
    base.train = saved.train;
    base.arms = saved.arms;
  }
}

let dir: string;
before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-report-stale-"));
  await runExperiment("test/staleness", { preset: "smoke", resultsDir: dir });
});

const recorded = () => readResult(resultPath("test/staleness", dir))!;

test("adding an arm to an experiment does not make its recorded runs stale: the new arm is incomplete", () => {
  assert.equal(checkStaleness(recorded()).stale, false);
  withChange(
    () => (base.arms.c = { offset: 20 }),
    () => {
      const result = recorded();
      assert.notEqual(planExperiment("test/staleness", { preset: "smoke", resultsDir: dir }).configHash, result.configHash, "the config hash changes");
      const staleness = checkStaleness(result);
      assert.equal(staleness.stale, false, staleness.reason);
      assert.deepEqual(staleness.staleRuns, []);
      assert.deepEqual(missingArms(result), ["c"]);
      const md = buildReport(collectResults(dir).results);
      assert.doesNotMatch(md, /\*\*STALE\*\*:/);
      assert.match(md, /\*\*Incomplete\*\*: no runs yet for c/);
      // The runner agrees: every recorded run is reused, only the new arm's runs are missing.
      const plan = planExperiment("test/staleness", { preset: "smoke", resultsDir: dir });
      assert.deepEqual(plan.runs.map((r) => `${r.arm}/${r.seed}:${r.status}`), ["a/0:reused", "a/1:reused", "b/0:reused", "b/1:reused", "c/0:missing", "c/1:missing"]);
    },
  );
});

test("changing a shared key makes every recorded run stale", () => {
  withChange(
    () => (base.train.scale = 2),
    () => {
      const staleness = checkStaleness(recorded());
      assert.equal(staleness.stale, true);
      assert.deepEqual(staleness.staleRuns, ["a seed 0", "a seed 1", "b seed 0", "b seed 1"]);
      assert.match(staleness.reason!, /the run hash of all 4 runs differs from the current config's/);
      assert.match(buildReport(collectResults(dir).results), /### test\/staleness — \*\*STALE\*\*/);
    },
  );
});

test("changing one arm's setting makes only that arm's runs stale, and the message names them", () => {
  withChange(
    () => (base.arms.b = { offset: 30 }),
    () => {
      const staleness = checkStaleness(recorded());
      assert.equal(staleness.stale, true);
      assert.deepEqual(staleness.staleRuns, ["b seed 0", "b seed 1"]);
      assert.match(staleness.reason!, /the run hash of b seeds 0, 1 differs/);
      assert.doesNotMatch(staleness.reason!, /\ba seed/);
    },
  );
});

test("runs of an arm the experiment no longer defines are stale", () => {
  withChange(
    () => (base.arms = { b: { offset: 10 } }),
    () => {
      const staleness = checkStaleness(recorded());
      assert.equal(staleness.stale, true);
      assert.deepEqual(staleness.staleRuns, ["a seed 0", "a seed 1"]);
      assert.match(staleness.reason!, /the current config no longer defines arm a \(a seeds 0, 1; its arms: b\)/);
    },
  );
});
