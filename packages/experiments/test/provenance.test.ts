/**
 * Provenance (issue 17): the source hash, dirty detection that ignores results/, the refusal to write into
 * the committed results from a dirty tree (and --allow-dirty recorded per run), the report's CODE CHANGED
 * flag, old files without provenance, summaries with 95% intervals, and RNNLAB_RUNS_DIR with resume.
 * The git cases run in a temporary git repository passed as the repository root.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gitHead, repoRoot, selectBackend } from "@rnnlab/core";
import {
  assertCleanSourceFor,
  buildReport,
  checkCodeChange,
  collectResults,
  computeSourceHash,
  currentProvenance,
  currentSourceHash,
  dirtySourcePaths,
  experimentRunsDir,
  readResult,
  registerExperiment,
  resultPath,
  resumeExperiment,
  resumeTarget,
  runDirFor,
  runExperiment,
  summarise,
  UsageError,
  validateResult,
  type ExperimentResult,
  type RunRecord,
} from "../src";

const hasGit = spawnSync("git", ["--version"]).status === 0;

registerExperiment<{ train: { steps: number }; arms: { a: { offset: number }; b: { offset: number } } }>({
  id: "test/provenance",
  title: "provenance",
  claim: "none",
  base: { train: { steps: 3 }, arms: { a: { offset: 0 }, b: { offset: 10 } } },
  presets: { smoke: {}, cpu: {}, paper: {} },
  defaultSeeds: { smoke: [0, 1], cpu: [0], paper: [0] },
  data: { kind: "synthetic", task: "none" },
  reported: { source: "test", metric: "m", ourMetric: "value", lowerIsBetter: true, values: { a: 1, b: null } },
  primaryMetric: { name: "value", lowerIsBetter: true },
  plotCurves: [],
  async runArm(ctx) {
    const offset = ctx.config.arms[ctx.arm as "a" | "b"].offset;
    return { final: { value: offset + ctx.seed }, curves: {} };
  },
});

before(async () => {
  await selectBackend();
});

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rnnlab-${prefix}-`));
}

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

/** A small tree shaped like the repository: two packages' sources, package files, results, notebooks, docs. */
function fakeRepo(): string {
  const root = tmp("fake-repo");
  write(root, "package.json", '{"name":"x"}\n');
  write(root, "package-lock.json", "{}\n");
  write(root, "packages/a/package.json", '{"name":"a"}\n');
  write(root, "packages/a/src/index.ts", "export const a = 1;\n");
  write(root, "packages/a/src/sub/deep.ts", "export const d = 2;\n");
  write(root, "packages/native-blas/package.json", '{"name":"nb"}\n');
  write(root, "packages/native-blas/src/blas.c", "int x;\n");
  write(root, "packages/native-blas/binding.gyp", "{}\n");
  write(root, "results/a/x.json", "{}\n");
  write(root, "notebooks/a.ipynb", "{}\n");
  write(root, "docs/a.md", "# a\n");
  return root;
}

function gitRepo(): string {
  const root = fakeRepo();
  const git = (...args: string[]) => execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  git("init", "-q");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "initial");
  return root;
}

test("the source hash is deterministic, changes with a source edit, and ignores results, notebooks and docs", () => {
  const root = fakeRepo();
  const h = computeSourceHash(root);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(computeSourceHash(root), h, "same tree, same hash");
  // A copy elsewhere (another clone) hashes the same: paths are relative.
  const copy = tmp("fake-copy");
  fs.cpSync(root, copy, { recursive: true });
  assert.equal(computeSourceHash(copy), h);
  write(root, "results/a/x.json", '{"changed":true}\n');
  write(root, "notebooks/a.ipynb", '{"changed":true}\n');
  write(root, "docs/a.md", "# changed\n");
  assert.equal(computeSourceHash(root), h, "results/, notebooks/ and docs/ are not source");
  write(root, "packages/a/src/sub/deep.ts", "export const d = 3;\n");
  const edited = computeSourceHash(root);
  assert.notEqual(edited, h, "a source edit changes the hash");
  write(root, "packages/native-blas/binding.gyp", '{"x":1}\n');
  assert.notEqual(computeSourceHash(root), edited, "the addon's binding files are source");
  write(root, "packages/a/src/sub/deep.ts", "export const d = 2;\n");
  write(root, "packages/native-blas/binding.gyp", "{}\n");
  assert.equal(computeSourceHash(root), h, "back to the same content, back to the same hash");
  write(root, "packages/a/src/new.ts", "");
  assert.notEqual(computeSourceHash(root), h, "a new (even empty) source file changes the hash");
  // currentSourceHash caches per root for the process.
  const cached = currentSourceHash(copy);
  write(copy, "packages/a/src/index.ts", "export const a = 2;\n");
  assert.equal(currentSourceHash(copy), cached);
});

test("dirty detection: source edits and new source files count; results/, notebooks/ and docs/ do not", { skip: !hasGit && "git not installed" }, () => {
  const root = gitRepo();
  assert.deepEqual(dirtySourcePaths(root), []);
  write(root, "results/a/x.json", '{"changed":true}\n');
  write(root, "results/a/new.json", "{}\n");
  write(root, "notebooks/a.ipynb", '{"changed":true}\n');
  write(root, "docs/a.md", "# changed\n");
  assert.deepEqual(dirtySourcePaths(root), []);
  const p = currentProvenance(root);
  assert.equal(p.gitDirty, false);
  assert.equal(p.gitCommit, gitHead(root));
  assert.match(p.gitCommit!, /^[0-9a-f]{40}$/);
  write(root, "packages/a/src/index.ts", "export const a = 2;\n");
  write(root, "packages/a/src/added.ts", "export {};\n");
  write(root, "package-lock.json", '{"v":2}\n');
  assert.deepEqual(dirtySourcePaths(root), ["package-lock.json", "packages/a/src/added.ts", "packages/a/src/index.ts"]);
  assert.equal(currentProvenance(root).gitDirty, true);
});

test("writing into the committed results from a dirty tree is refused unless allowDirty; other roots and no-git trees are not", { skip: !hasGit && "git not installed" }, () => {
  const root = gitRepo();
  const committed = path.join(root, "results");
  assert.doesNotThrow(() => assertCleanSourceFor(committed, { root }), "a clean tree may write");
  write(root, "results/a/x.json", '{"changed":true}\n');
  assert.doesNotThrow(() => assertCleanSourceFor(committed, { root }), "changes under results/ do not make the tree dirty");
  for (let i = 0; i < 7; i++) write(root, `packages/a/src/f${i}.ts`, "");
  assert.throws(
    () => assertCleanSourceFor(committed, { root }),
    (e: Error) =>
      e instanceof UsageError &&
      e.message.includes("packages/a/src/f0.ts") &&
      /and 2 more/.test(e.message) &&
      /Commit/.test(e.message) &&
      /--allow-dirty/.test(e.message) &&
      /--results-dir/.test(e.message),
  );
  assert.doesNotThrow(() => assertCleanSourceFor(committed, { root, allowDirty: true }));
  assert.doesNotThrow(() => assertCleanSourceFor(path.join(root, "results", "smoke"), { root }), "results/<preset> is not the committed root");
  assert.doesNotThrow(() => assertCleanSourceFor(tmp("elsewhere"), { root }));
  // Without git (a plain directory): gitCommit null, never dirty-blocking.
  const plain = fakeRepo();
  const p = currentProvenance(plain);
  assert.equal(p.gitCommit, null);
  assert.equal(p.gitDirty, null);
  assert.doesNotThrow(() => assertCleanSourceFor(path.join(plain, "results"), { root: plain }));
});

test("every run records its provenance; --allow-dirty is recorded in each run written", async () => {
  const dir = tmp("prov-runs");
  const result = await runExperiment("test/provenance", { preset: "smoke", resultsDir: dir });
  const head = gitHead(repoRoot());
  for (const arm of ["a", "b"]) {
    for (const seed of ["0", "1"]) {
      const p = result.arms[arm].runs[seed].provenance!;
      assert.equal(p.sourceHash, currentSourceHash());
      assert.equal(p.gitCommit, head);
      assert.equal(typeof p.gitDirty, head === null ? "object" : "boolean");
      assert.equal(p.allowDirty, undefined);
    }
  }
  assert.deepEqual(validateResult(result), []);
  const allowed = await runExperiment("test/provenance", { preset: "smoke", resultsDir: dir, seeds: [2], allowDirty: true });
  assert.equal(allowed.arms.a.runs["2"].provenance!.allowDirty, true);
  assert.equal(allowed.arms.b.runs["2"].provenance!.allowDirty, true);
  assert.equal(allowed.arms.a.runs["0"].provenance!.allowDirty, undefined, "reused runs keep their own provenance");
});

test("summaries carry the standard error and the 95% t interval; old files get them on reading", async () => {
  const run = (seed: number, value: number): RunRecord => ({ seed, runHash: "h", final: { value }, curves: {}, durationSeconds: 0, finishedAt: "" });
  const s = summarise([run(0, 1), run(1, 2), run(2, 6)]).value;
  assert.equal(s.mean, 3);
  assert.equal(s.n, 3);
  assert.ok(Math.abs(s.std - Math.sqrt(7)) < 1e-12);
  assert.ok(Math.abs(s.sem! - Math.sqrt(7 / 3)) < 1e-12);
  // t(0.975, 2 df) = 4.302652729911275
  const half = 4.302652729911275 * Math.sqrt(7 / 3);
  assert.ok(Math.abs(s.ci95![0] - (3 - half)) < 1e-6 && Math.abs(s.ci95![1] - (3 + half)) < 1e-6, JSON.stringify(s.ci95));
  const one = summarise([run(0, 5)]).value;
  assert.equal(one.ci95, null);
  assert.equal(one.sem, null);

  // A file written before provenance and intervals: it reads, and its summaries gain sem and ci95.
  const dir = tmp("prov-old");
  const fresh = await runExperiment("test/provenance", { preset: "smoke", resultsDir: dir });
  const old = JSON.parse(JSON.stringify(fresh)) as ExperimentResult;
  for (const a of Object.values(old.arms)) {
    for (const r of Object.values(a.runs)) delete r.provenance;
    for (const m of Object.values(a.summary)) {
      delete m.sem;
      delete m.ci95;
    }
  }
  assert.deepEqual(validateResult(old), []);
  fs.writeFileSync(resultPath("test/provenance", dir), JSON.stringify(old));
  const read = readResult(resultPath("test/provenance", dir))!;
  assert.deepEqual(read.arms.b.summary.value, fresh.arms.b.summary.value);
  assert.ok(read.arms.b.summary.value.ci95, "n = 2: an interval");
  // Malformed provenance is a validation problem.
  const bad = JSON.parse(JSON.stringify(fresh));
  bad.arms.a.runs["0"].provenance = { gitCommit: 3, gitDirty: null, sourceHash: "x" };
  assert.match(validateResult(bad).join("; "), /provenance gitCommit\/gitDirty malformed/);
});

test("the report flags runs whose source changed since, and runs without provenance as unknown", async () => {
  const dir = tmp("prov-report");
  await runExperiment("test/provenance", { preset: "smoke", resultsDir: dir });
  const clean = buildReport(collectResults(dir).results);
  assert.doesNotMatch(clean, /— \*\*CODE CHANGED\*\*|> \*\*CODE CHANGED\*\*/);
  assert.doesNotMatch(clean, /Code unknown/);
  assert.match(clean, /\| a \| 0\.5000 ± 0\.7071 \(n=2\) \| 1 \| \[-5\.85\d, 6\.85\d\] \|/, "the primary metric's 95% interval");

  const file = resultPath("test/provenance", dir);
  const edited = JSON.parse(fs.readFileSync(file, "utf8")) as ExperimentResult;
  edited.arms.b.runs["1"].provenance!.sourceHash = "0".repeat(64);
  fs.writeFileSync(file, JSON.stringify(edited));
  const results = collectResults(dir).results;
  const change = checkCodeChange(results[0]);
  assert.deepEqual(change.changed, ["b seed 1"]);
  assert.deepEqual(change.unknown, []);
  const md = buildReport(results);
  assert.match(md, /### test\/provenance — \*\*CODE CHANGED\*\*/);
  assert.match(md, /> \*\*CODE CHANGED\*\* since b seed 1 ran/);
  assert.doesNotMatch(md, /— \*\*STALE\*\*/, "a code change is not a config change");

  for (const a of Object.values(edited.arms)) for (const r of Object.values(a.runs)) delete r.provenance;
  fs.writeFileSync(file, JSON.stringify(edited));
  const unknown = buildReport(collectResults(dir).results);
  assert.match(unknown, /> \*\*Code unknown\*\* for all 4 runs/);
  assert.doesNotMatch(unknown, /— \*\*CODE CHANGED\*\*/);
});

test("the report lists the source files changed since a run's commit", { skip: !hasGit && "git not installed" }, async () => {
  const root = gitRepo();
  const commit = gitHead(root)!;
  const dir = tmp("prov-diff");
  const result = await runExperiment("test/provenance", { preset: "smoke", resultsDir: dir });
  for (const a of Object.values(result.arms)) {
    for (const r of Object.values(a.runs)) r.provenance = { gitCommit: commit, gitDirty: false, sourceHash: computeSourceHash(root) };
  }
  const currentHash = () => computeSourceHash(root);
  assert.deepEqual(checkCodeChange(result, { root, currentHash: currentHash() }).changed, []);
  write(root, "packages/a/src/index.ts", "export const a = 42;\n");
  write(root, "notebooks/a.ipynb", '{"changed":true}\n');
  const change = checkCodeChange(result, { root, currentHash: currentHash() });
  assert.equal(change.changed.length, 4);
  assert.deepEqual(change.since, [{ commit, paths: ["packages/a/src/index.ts"], dirtyAtRun: false }]);
  const md = buildReport([result], { root, currentSourceHash: currentHash() });
  assert.match(md, new RegExp(`Source files changed since commit \`${commit.slice(0, 12)}\`: \`packages/a/src/index\\.ts\``));
  // A commit this clone does not have: no file list, but still flagged.
  for (const a of Object.values(result.arms)) for (const r of Object.values(a.runs)) r.provenance!.gitCommit = "f".repeat(40);
  assert.match(buildReport([result], { root, currentSourceHash: currentHash() }), /commit is not in this clone/);
});

test("RNNLAB_RUNS_DIR puts run directories outside the results root, and resume works from there", async () => {
  const saved = { runs: process.env.RNNLAB_RUNS_DIR, results: process.env.RNNLAB_RESULTS_DIR };
  const runs = tmp("runs-dir");
  const results = tmp("runs-results");
  try {
    process.env.RNNLAB_RUNS_DIR = runs;
    delete process.env.RNNLAB_RESULTS_DIR;
    // The committed root's runs go to $RNNLAB_RUNS_DIR/<paper>/<experiment>/; other roots get their own folder.
    assert.equal(experimentRunsDir("g2lstm/ptb"), path.join(runs, "g2lstm", "ptb"));
    assert.equal(experimentRunsDir("g2lstm/ptb", path.join(repoRoot(), "results", "smoke")), path.join(runs, "@smoke", "g2lstm", "ptb"));
    const expDir = experimentRunsDir("env/tiny", results);
    assert.ok(expDir.startsWith(runs + path.sep) && expDir !== path.join(runs, "env", "tiny"), expDir);

    const options = { preset: "smoke" as const, arms: ["momentum"], seeds: [0], resultsDir: results };
    const runDir = runDirFor("env/tiny", "momentum", 0, results);
    const midRun = path.join(results, "mid-run-checkpoint.json");
    let copiedAt = -1;
    const reference = await runExperiment("env/tiny", {
      ...options,
      onProgress: (e) => {
        const file = path.join(runDir, "checkpoint.json");
        if (copiedAt < 0 && e.kind === "progress" && e.step >= 15 && fs.existsSync(file)) {
          fs.copyFileSync(file, midRun);
          copiedAt = e.step;
        }
      },
    });
    assert.ok(copiedAt > 0, "a mid-run checkpoint was written under RNNLAB_RUNS_DIR");
    for (const f of ["run.json", "outcome.json"]) assert.ok(fs.existsSync(path.join(runDir, f)), f);
    assert.ok(fs.existsSync(path.join(expDir, "experiment.json")));
    assert.ok(!fs.existsSync(path.join(results, "env", "runs")), "nothing under <results>/<paper>/runs/");
    assert.ok(fs.existsSync(resultPath("env/tiny", results)), "the result file stays in the results root");

    // Kill simulated: the mid-run checkpoint, no outcome, no result. Resume from the run dir, with the
    // variable unset (the directory itself says where the runs are) and from the experiment folder.
    fs.copyFileSync(midRun, path.join(runDir, "checkpoint.json"));
    fs.rmSync(path.join(runDir, "outcome.json"));
    fs.rmSync(resultPath("env/tiny", results));
    delete process.env.RNNLAB_RUNS_DIR;
    const target = resumeTarget(runDir);
    assert.equal(target.resultsDir, results);
    assert.equal(target.runsDir, expDir);
    assert.equal(resumeTarget(expDir).runsDir, expDir);
    const resumed = await resumeExperiment(runDir);
    const after = resumed.arms.momentum.runs["0"];
    assert.ok((after.resumedFromStep ?? 0) > 0, `resumed from step ${after.resumedFromStep}`);
    assert.deepEqual(readResult(resultPath("env/tiny", results))!.arms.momentum.runs["0"].final, after.final);
    const before = reference.arms.momentum.runs["0"].final;
    for (const [k, v] of Object.entries(before)) if (!/seconds|Seconds/.test(k)) assert.equal(after.final[k], v, k);
  } finally {
    if (saved.runs === undefined) delete process.env.RNNLAB_RUNS_DIR;
    else process.env.RNNLAB_RUNS_DIR = saved.runs;
    if (saved.results === undefined) delete process.env.RNNLAB_RESULTS_DIR;
    else process.env.RNNLAB_RESULTS_DIR = saved.results;
  }
});
