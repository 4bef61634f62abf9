import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "@rnnlab/core";
import {
  buildReport,
  checkStaleness,
  collectResults,
  notebookProgress,
  consoleProgress,
  loadResult,
  resultTableRows,
  planExperiment,
  readResult,
  registerExperiment,
  resultPath,
  runExperiment,
  UsageError,
  validateResult,
  writeReport,
  type ExperimentProgress,
} from "../src";

// A test-only experiment: counts its trainings and derives its metric from config + arm + seed.
const counting = { calls: [] as string[] };
const countingBase = {
  train: { steps: 5, scale: 1 },
  arms: { a: { offset: 0 }, b: { offset: 10 } },
};
const definition = registerExperiment<typeof countingBase>({
  id: "test/counting",
  title: "counting",
  claim: "none",
  base: countingBase,
  presets: { smoke: {}, cpu: { train: { steps: 7 } }, paper: {} },
  defaultSeeds: { smoke: [0, 1], cpu: [0], paper: [0] },
  data: { kind: "synthetic", task: "none" },
  reported: { source: "test", metric: "m", ourMetric: "value", lowerIsBetter: true, values: { a: 1, b: null } },
  primaryMetric: { name: "value", lowerIsBetter: true },
  plotCurves: ["loss"],
  async runArm(ctx) {
    counting.calls.push(`${ctx.arm}/${ctx.seed}`);
    const steps = ctx.config.train.steps;
    const loss = { step: [] as number[], value: [] as number[] };
    for (let s = 1; s <= steps; s++) {
      loss.step.push(s);
      loss.value.push(1 / s);
      ctx.onProgress({ step: s, totalSteps: steps, split: "train", metrics: { loss: 1 / s } });
    }
    const offset = ctx.config.arms[ctx.arm as "a" | "b"].offset;
    return { final: { value: ctx.config.train.scale * (offset + ctx.seed) }, curves: { loss } };
  },
});

let dir: string;
before(async () => {
  await selectBackend();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-runner-"));
});

test("runs every arm x seed, summarises over seeds and writes a valid result", async () => {
  counting.calls = [];
  const events: ExperimentProgress[] = [];
  const result = await runExperiment("test/counting", { preset: "smoke", resultsDir: dir, onProgress: (e) => events.push(e) });
  assert.deepEqual(counting.calls.sort(), ["a/0", "a/1", "b/0", "b/1"]);
  assert.deepEqual(validateResult(result), []);
  const { sem, ci95, ...meanStd } = result.arms.b.summary.value;
  assert.deepEqual(meanStd, { mean: 10.5, std: Math.SQRT1_2, n: 2 });
  // Two seeds (10, 11): sem = std / sqrt(2) = 0.5, 95% interval 10.5 ± t(0.975, 1 df) * 0.5 with t = 12.7062047.
  assert.ok(Math.abs(sem! - 0.5) < 1e-12, `sem ${sem}`);
  assert.ok(Math.abs(ci95![0] - (10.5 - 12.706204736 * 0.5)) < 1e-6 && Math.abs(ci95![1] - (10.5 + 12.706204736 * 0.5)) < 1e-6, `ci95 ${ci95}`);
  assert.equal(result.arms.a.runs["0"].provenance?.sourceHash.length, 64, "each run records its source hash");
  assert.equal(result.reported.values.a, 1);
  assert.equal(result.preset, "smoke");
  assert.match(result.configHash, /^[0-9a-f]{64}$/);
  assert.equal(typeof result.environment.nodeVersion, "string");
  const onDisk = readResult(resultPath("test/counting", dir))!;
  assert.deepEqual(onDisk.arms, result.arms);
  assert.ok(events.some((e) => e.kind === "progress" && e.step === 5 && e.totalSteps === 5));
  assert.equal(events.filter((e) => e.kind === "end").length, 4);
});

test("a second run reuses every valid run without retraining", async () => {
  counting.calls = [];
  const before = fs.readFileSync(resultPath("test/counting", dir), "utf8");
  const result = await runExperiment("test/counting", { preset: "smoke", resultsDir: dir });
  assert.deepEqual(counting.calls, []);
  assert.equal(fs.readFileSync(resultPath("test/counting", dir), "utf8"), before, "the file is not rewritten");
  assert.equal(result.arms.a.summary.value.mean, 0.5);
  // New seeds train only the missing runs and keep the old ones.
  const more = await runExperiment("test/counting", { preset: "smoke", seeds: [2], resultsDir: dir });
  assert.deepEqual(counting.calls.sort(), ["a/2", "b/2"]);
  assert.deepEqual(more.seeds, [0, 1, 2]);
  assert.equal(more.arms.a.summary.value.n, 3);
  // --rerun retrains what was asked for.
  counting.calls = [];
  await runExperiment("test/counting", { preset: "smoke", seeds: [0], arms: ["a"], rerun: true, resultsDir: dir });
  assert.deepEqual(counting.calls, ["a/0"]);
});

test("a changed arm setting retrains only that arm; the report flags results whose config changed", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-stale-"));
  await runExperiment("test/counting", { preset: "smoke", resultsDir: sub });
  counting.calls = [];
  const plan = planExperiment("test/counting", { preset: "smoke", resultsDir: sub, overrides: ["arms.b.offset=20"] });
  assert.deepEqual(plan.runs.map((r) => `${r.arm}/${r.seed}:${r.status}`), ["a/0:reused", "a/1:reused", "b/0:stale", "b/1:stale"]);
  const result = await runExperiment("test/counting", { preset: "smoke", resultsDir: sub, overrides: ["arms.b.offset=20"] });
  assert.deepEqual(counting.calls.sort(), ["b/0", "b/1"]);
  assert.equal(result.arms.b.summary.value.mean, 20.5);
  assert.equal(checkStaleness(result).stale, false);

  // The code's config changes under an existing result: STALE in the report, and a rerun retrains all.
  const saved = countingBase.train.scale;
  countingBase.train.scale = 2;
  try {
    const stale = checkStaleness(readResult(resultPath("test/counting", sub))!);
    assert.equal(stale.stale, true);
    assert.match(stale.reason!, /config hash/);
    const { results } = collectResults(sub);
    const md = buildReport(results);
    assert.match(md, /### test\/counting — \*\*STALE\*\*/);
    assert.ok(planExperiment("test/counting", { preset: "smoke", resultsDir: sub, overrides: ["arms.b.offset=20"] }).runs.every((r) => r.status === "stale"));
  } finally {
    countingBase.train.scale = saved;
  }
  const fresh = buildReport(collectResults(sub).results);
  assert.doesNotMatch(fresh, /— \*\*STALE\*\*/);
  assert.match(fresh, /\| a \| 0\.5000 ± 0\.7071 \(n=2\) \| 1 \|/);
});

test("a result of another preset is not overwritten by accident", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-preset-"));
  await runExperiment("test/counting", { preset: "cpu", resultsDir: sub });
  await assert.rejects(runExperiment("test/counting", { preset: "smoke", resultsDir: sub }), (e: Error) => e instanceof UsageError && /"cpu"-preset result/.test(e.message) && /--rerun/.test(e.message));
  assert.equal(readResult(resultPath("test/counting", sub))!.preset, "cpu");
  const replaced = await runExperiment("test/counting", { preset: "smoke", resultsDir: sub, rerun: true });
  assert.equal(replaced.preset, "smoke");
  assert.deepEqual(Object.keys(replaced.arms.a.runs), ["0", "1"]);
});

test("unknown arms, ids and presets are usage errors", () => {
  assert.throws(() => planExperiment("test/counting", { preset: "smoke", arms: ["c"], resultsDir: dir }), (e: Error) => e instanceof UsageError && /arm "c"/.test(e.message) && /a, b/.test(e.message));
  assert.throws(() => planExperiment("test/countin", { resultsDir: dir }), (e: Error) => e instanceof UsageError && /test\/counting/.test(e.message));
  assert.throws(() => planExperiment("test/counting", { preset: "large" as never, resultsDir: dir }), (e: Error) => e instanceof UsageError && /smoke, cpu, paper/.test(e.message));
  void definition;
});

test("writeReport writes README.md from the result files", async () => {
  const { path: file } = await writeReport({ resultsDir: dir, figures: false });
  const md = fs.readFileSync(file, "utf8");
  assert.match(md, /## test/);
  assert.match(md, /Preset \*\*smoke\*\*/);
  assert.match(md, /\| b \| .* \| n\/a \|/);
});

test("notebookProgress draws a bar, metrics and a sparkline, throttled", async () => {
  const drawn: string[] = [];
  const listener = notebookProgress({ html: (s) => drawn.push(s) }, { maxPerSecond: 4 });
  const base = { experimentId: "x/y", arm: "a", seed: 0, runIndex: 0, runCount: 1, split: "train" };
  listener({ ...base, kind: "start", step: 0, totalSteps: 1000, metrics: {} });
  for (let s = 1; s <= 999; s++) listener({ ...base, kind: "progress", step: s, totalSteps: 1000, metrics: { loss: 5 - s / 500 } });
  assert.ok(drawn.length >= 1 && drawn.length <= 3, `drew ${drawn.length} times for 999 events in well under a second`);
  await new Promise((r) => setTimeout(r, 300));
  listener({ ...base, kind: "progress", step: 1000, totalSteps: 1000, metrics: { loss: 3 } });
  const last = drawn.at(-1)!;
  assert.match(last, /<progress value="1000" max="1000"/);
  assert.match(last, /loss=3/);
  assert.match(last, /<polyline/);
  listener({ ...base, kind: "end", step: 0, totalSteps: 0, metrics: { testLoss: 0.5 } });
  assert.match(drawn.at(-1)!, /x\/y a seed 0 \(1\/1\): testLoss=0\.5000/);
});

test("the report skips JSON files that are not experiment results, and lists broken results", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-report-"));
  await runExperiment("test/counting", { preset: "smoke", resultsDir: sub });
  fs.mkdirSync(path.join(sub, "bench"));
  fs.writeFileSync(path.join(sub, "bench", "lstm-lm.json"), JSON.stringify({ tokensPerSecond: 1000 }));
  fs.writeFileSync(path.join(sub, "test", "broken.json"), JSON.stringify({ schemaVersion: 1, id: "test/broken", arms: {} }));
  const { results, errors } = collectResults(sub);
  assert.deepEqual(results.map((r) => r.id), ["test/counting"]);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /broken\.json: not a valid rnnlab result/);
  const md = buildReport(results, { errors });
  assert.match(md, /## Unreadable result files/);
  assert.doesNotMatch(md, /lstm-lm/);
});

test("a second concurrent run of the same experiment is refused; a stale lock is taken over", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-lock-"));
  const lock = path.join(sub, "test", "runs", "counting", "experiment.lock");
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  fs.writeFileSync(lock, String(process.ppid)); // a live process that is not us
  await assert.rejects(runExperiment("test/counting", { preset: "smoke", resultsDir: sub }), (e: Error) => e instanceof UsageError && /already running in process/.test(e.message));
  fs.writeFileSync(lock, "2147483646"); // no such process
  const result = await runExperiment("test/counting", { preset: "smoke", resultsDir: sub });
  assert.equal(result.arms.a.summary.value.n, 2);
  assert.ok(!fs.existsSync(lock), "the lock is released");
  // Reusing every run only reads the result: allowed while another process holds the lock.
  fs.writeFileSync(lock, String(process.ppid));
  const reused = await runExperiment("test/counting", { preset: "smoke", resultsDir: sub });
  assert.deepEqual(reused, result);
  assert.equal(fs.readFileSync(lock, "utf8"), String(process.ppid), "the other process's lock is untouched");
  // Anything to train still needs the lock.
  await assert.rejects(runExperiment("test/counting", { preset: "smoke", resultsDir: sub, seeds: [7] }), /already running in process/);
});

test("consoleProgress prints plain, throttled lines when the stream is not a terminal", () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const listener = consoleProgress({ stream, plainIntervalSeconds: 3600 });
  const base = { experimentId: "x/y", arm: "a", seed: 1, runIndex: 0, runCount: 2, split: "train" };
  listener({ ...base, kind: "reused", step: 0, totalSteps: 0, metrics: { loss: 1 } });
  listener({ ...base, kind: "start", step: 0, totalSteps: 0, metrics: {} });
  for (let s = 1; s <= 100; s++) listener({ ...base, kind: "progress", step: s, totalSteps: 100, metrics: { loss: 1 / s } });
  listener({ ...base, kind: "end", step: 0, totalSteps: 0, metrics: { testLoss: 0.25 } });
  assert.equal(lines.length, 5, lines.join(""));
  assert.match(lines[0], /x\/y a seed 1: reused \(loss=1\)/);
  assert.match(lines[1], /x\/y a seed 1 \(1\/2\): started/);
  assert.match(lines[2], /step 1\/100 .*loss=1/);
  assert.match(lines[3], /step 100\/100 loss=0\.01000/);
  assert.match(lines[4], /finished in .* s: testLoss=0\.2500/);
});

test("resultTableRows gives one row per arm with ours next to the paper's", async () => {
  const result = loadResult("test/counting", dir)!;
  const rows = resultTableRows(result);
  assert.deepEqual(rows.map((r) => r.arm), ["a", "b"]);
  assert.equal(rows[0]["paper: m"], 1);
  assert.equal(rows[1]["paper: m"], null);
  assert.equal(rows[0]["value (mean)"], result.arms.a.summary.value.mean);
  assert.equal(loadResult("test/counting", fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-empty-"))), undefined);
});

test("the report marks a result with arms still missing as incomplete", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-incomplete-"));
  await runExperiment("test/counting", { preset: "smoke", arms: ["a"], resultsDir: sub });
  const md = buildReport(collectResults(sub).results);
  assert.match(md, /\*\*Incomplete\*\*: no runs yet for b/);
});

test("a result rewritten by another process during a run is not overwritten", async () => {
  const sub = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-conflict-"));
  const file = resultPath("test/counting", sub);
  let injected = false;
  await assert.rejects(
    runExperiment("test/counting", {
      preset: "smoke",
      resultsDir: sub,
      onProgress: (e) => {
        // After the first run is written, another process replaces the file.
        if (!injected && e.kind === "start" && fs.existsSync(file)) {
          injected = true;
          const other = JSON.parse(fs.readFileSync(file, "utf8"));
          other.startedAt = "2000-01-01T00:00:00.000Z";
          fs.writeFileSync(file, JSON.stringify(other));
        }
      },
    }),
    /was rewritten by another run/,
  );
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).startedAt, "2000-01-01T00:00:00.000Z", "the other result is untouched");
  assert.ok(fs.readdirSync(path.dirname(file)).some((f) => /counting\.conflict-\d+\.json$/.test(f)), "ours is set aside");
});
