/**
 * Fault injection for run directories, invocations, result files and locks (issue 18): each test
 * reproduces a sequence that lost data or went silently wrong, with a tiny test-only experiment.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { selectBackend } from "@rnnlab/core";
import { ConfigError, planExperiment, readInvocation, readResult, validateResult, registerExperiment, resultPath, runDirFor, runExperiment } from "../src";
import { experimentRunsDir } from "../src/results";
import { processStartTime } from "../src/lock";
import { LanguageModel } from "@rnnlab/train";
import { lockExperiment } from "../src/runner";
import { main } from "../src/cli";

// A test-only trainer with a range check (as the real trainers have), a checkpoint per step, exact resume
// and a crash switch that stands in for kill -9 after a given step.
const control = { crashAfterStep: Infinity, trained: [] as string[] };
const rangedBase = {
  train: { steps: 6, batchSize: 4, learningRate: 0.5, label: "x" },
  arms: { a: { offset: 0 } },
};
registerExperiment<typeof rangedBase>({
  id: "test/ranged",
  title: "ranged",
  claim: "none",
  base: rangedBase,
  presets: { smoke: {}, cpu: {}, paper: {} },
  defaultSeeds: { smoke: [0], cpu: [0], paper: [0] },
  data: { kind: "synthetic", task: "none" },
  reported: { source: "test", metric: "m", ourMetric: "value", lowerIsBetter: true, values: {} },
  primaryMetric: { name: "value", lowerIsBetter: true },
  plotCurves: [],
  async runArm(ctx) {
    const t = ctx.config.train;
    if (!(Number.isInteger(t.batchSize) && t.batchSize >= 1)) throw new Error(`config.batchSize=${t.batchSize} must be an integer >= 1`);
    const checkpoint = path.join(ctx.runDir, "checkpoint.json");
    let step = 0;
    let value = 0;
    let resumedFromStep = 0;
    if (ctx.resume && fs.existsSync(checkpoint)) {
      ({ step, value } = JSON.parse(fs.readFileSync(checkpoint, "utf8")));
      resumedFromStep = step;
    }
    while (step < t.steps) {
      step++;
      value += t.learningRate * t.batchSize;
      fs.writeFileSync(checkpoint, JSON.stringify({ step, value }));
      control.trained.push(`${ctx.arm}/${step}`);
      if (step >= control.crashAfterStep) throw new Error("simulated crash");
    }
    return { final: { value }, curves: {}, resumedFromStep };
  },
});

before(async () => {
  await selectBackend();
});

const tmp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `rnnlab-faults-${name}-`));

test("a mistyped --set does not delete a partly trained run nor replace its stored overrides (issue 18.2)", async () => {
  const dir = tmp("mistyped");
  const original = ["train.learningRate=0.25", "train.steps=5", "train.label=first"];
  const options = { preset: "smoke" as const, resultsDir: dir, overrides: original };
  control.crashAfterStep = 3;
  await assert.rejects(runExperiment("test/ranged", options), /simulated crash/);
  control.crashAfterStep = Infinity;
  const runDir = runDirFor("test/ranged", "a", 0, dir);
  const invocation = path.join(experimentRunsDir("test/ranged", dir), "experiment.json");
  const checkpointBefore = fs.readFileSync(path.join(runDir, "checkpoint.json"), "utf8");
  const runJsonBefore = fs.readFileSync(path.join(runDir, "run.json"), "utf8");
  const invocationBefore = fs.readFileSync(invocation, "utf8");
  assert.equal(planExperiment("test/ranged", options).runs[0].status, "partial");

  // The mistyped run: the dry run says what it would replace, the trainer rejects the range.
  const mistyped = { ...options, overrides: ["train.batchSize=0"] };
  assert.match(planExperiment("test/ranged", mistyped).runs[0].replaces ?? "", /unfinished run of another config.*train\.learningRate=0\.25/);
  await assert.rejects(runExperiment("test/ranged", mistyped), (e: Error) => e instanceof ConfigError && /--set train\.batchSize: 0 must be an integer >= 1/.test(e.message));

  assert.equal(fs.readFileSync(path.join(runDir, "checkpoint.json"), "utf8"), checkpointBefore, "the checkpoint survives");
  assert.equal(fs.readFileSync(path.join(runDir, "run.json"), "utf8"), runJsonBefore, "run.json is the original's");
  assert.equal(fs.readFileSync(invocation, "utf8"), invocationBefore, "experiment.json keeps the original overrides");
  assert.deepEqual(fs.readdirSync(path.dirname(runDir)).filter((f) => f.includes("aside")), [], "nothing left aside");

  // Resuming continues the original run from its checkpoint.
  control.trained = [];
  const result = await runExperiment("test/ranged", options);
  assert.deepEqual(control.trained, ["a/4", "a/5"]);
  assert.equal(result.arms.a.runs["0"].resumedFromStep, 3);
  assert.equal(result.arms.a.runs["0"].final.value, 0.25 * 4 * 5);
});

test("a run of another config that is interrupted keeps the first config's run aside and gives it back (issue 18.2)", async () => {
  const dir = tmp("aside");
  const first = { preset: "smoke" as const, resultsDir: dir, overrides: ["train.learningRate=0.25"] };
  const second = { preset: "smoke" as const, resultsDir: dir, overrides: ["train.learningRate=1"] };
  control.crashAfterStep = 2;
  await assert.rejects(runExperiment("test/ranged", first), /simulated crash/);
  await assert.rejects(runExperiment("test/ranged", second), /simulated crash/);
  control.crashAfterStep = Infinity;
  // Both unfinished runs exist: the second in the run directory, the first aside.
  assert.equal(planExperiment("test/ranged", first).runs[0].status, "partial");
  control.trained = [];
  const result = await runExperiment("test/ranged", first);
  assert.equal(result.arms.a.runs["0"].resumedFromStep, 2);
  assert.equal(result.arms.a.runs["0"].final.value, 0.25 * 4 * 6);
  // The second config's unfinished run is kept in turn, and continues when that config runs again.
  assert.equal(planExperiment("test/ranged", second).runs[0].status, "partial");
  const again = await runExperiment("test/ranged", second);
  assert.equal(again.arms.a.runs["0"].resumedFromStep, 2);
  assert.equal(again.arms.a.runs["0"].final.value, 1 * 4 * 6);
});

test("--rerun replaces a corrupt result file, keeping the corrupt one aside (issue 18.6)", async () => {
  const dir = tmp("corrupt");
  const options = { preset: "smoke" as const, resultsDir: dir };
  await runExperiment("test/ranged", options);
  const file = resultPath("test/ranged", dir);
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").slice(0, 200));
  await assert.rejects(runExperiment("test/ranged", options), (e: Error) => e.message.includes(file) && /--rerun/.test(e.message));
  const result = await runExperiment("test/ranged", { ...options, rerun: true });
  assert.equal(result.arms.a.runs["0"].final.value, 0.5 * 4 * 6);
  assert.deepEqual(readResult(file)?.arms, result.arms);
  assert.ok(fs.readdirSync(path.dirname(file)).some((f) => /^ranged\.json\.corrupt-/.test(f)), "the corrupt file is kept aside");
});

const lockFileOf = (dir: string) => path.join(experimentRunsDir("test/ranged", dir), "experiment.lock");
const backdate = (file: string) => fs.utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));

test("an empty or unreadable lock file left by a crash is taken over, not read as process 0 (issue 18.7)", async () => {
  for (const content of ["", "{\"pid\": 12"]) {
    const dir = tmp("emptylock");
    const lock = lockFileOf(dir);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, content);
    backdate(lock);
    const result = await runExperiment("test/ranged", { preset: "smoke", resultsDir: dir });
    assert.equal(result.arms.a.runs["0"].final.value, 12);
    assert.ok(!fs.existsSync(lock), "released");
  }
});

test("a live holder is refused with who holds it and how to clear it; a reused pid is recognised (issue 18.7)", () => {
  const dir = tmp("livelock");
  const lock = lockFileOf(dir);
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  // The old format (a bare pid) of a live process that may be a reused pid: refused, and the message says how to clear.
  fs.writeFileSync(lock, String(process.ppid));
  assert.throws(
    () => lockExperiment("test/ranged", dir),
    (e: Error) => /already running in process \d+/.test(e.message) && e.message.includes(`delete ${lock}`) && /rnnlab resume/.test(e.message),
  );
  // The owner record's start time tells a reused pid (alive, but another process) from the owner.
  const start = processStartTime(process.ppid);
  if (start !== undefined) {
    const owner = { pid: process.ppid, start: String(Number(start) + 1), hostname: os.hostname(), startedAt: "x", command: "rnnlab run", token: "t", workers: [] };
    fs.writeFileSync(lock, JSON.stringify(owner));
    lockExperiment("test/ranged", dir).release();
    // The same record with the true start time is a live holder.
    fs.writeFileSync(lock, JSON.stringify({ ...owner, start }));
    assert.throws(() => lockExperiment("test/ranged", dir), /already running in process/);
  }
  // A dead parent whose worker still runs keeps the lock: the worker could still write checkpoints.
  fs.writeFileSync(lock, JSON.stringify({ pid: 2147483646, hostname: os.hostname(), startedAt: "x", command: "rnnlab run", token: "t", workers: [{ pid: process.pid }] }));
  assert.throws(() => lockExperiment("test/ranged", dir), (e: Error) => /worker process\(es\) \d+ are still stopping/.test(e.message));
  fs.writeFileSync(lock, JSON.stringify({ pid: 2147483646, hostname: os.hostname(), startedAt: "x", command: "rnnlab run", token: "t", workers: [] }));
  const taken = lockExperiment("test/ranged", dir);
  assert.equal(JSON.parse(fs.readFileSync(lock, "utf8")).pid, process.pid);
  taken.release();
  assert.ok(!fs.existsSync(lock));
});

test("processes racing for one stale lock: exactly one takes it (issue 18.7)", async () => {
  const dir = tmp("race");
  const lock = path.join(dir, "experiment.lock");
  const go = path.join(dir, "go");
  fs.writeFileSync(lock, JSON.stringify({ pid: 2147483646, hostname: os.hostname(), startedAt: "x", command: "rnnlab run", token: "dead", workers: [] }));
  const racer = path.join(__dirname, "fixtures", "lock-racer.ts");
  const contenders = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ["--import", "tsx", racer, lock, go, "5000"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    return { output: () => out, exited };
  });
  const deadline = Date.now() + 60_000;
  while (!contenders.every((c) => c.output().includes("ready")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(go, "");
  await Promise.all(contenders.map((c) => c.exited));
  const outcomes = contenders.map((c) => c.output().split("\n")[1]);
  assert.equal(outcomes.filter((o) => o === "won").length, 1, outcomes.join("\n"));
  for (const o of outcomes.filter((x) => x !== "won")) assert.match(o, /lost: test\/race is already running in process \d+/);
  assert.ok(!fs.existsSync(lock), "the winner released it");
});

test("kill -9 of a lanes parent stops its workers; the lock holds until they are gone (issue 18.5)", async () => {
  const dir = tmp("orphans");
  const root = path.resolve(__dirname, "..", "..", "..");
  const bin = path.join(root, "packages", "experiments", "bin", "rnnlab.js");
  // No step delay: each worker trains synchronously, its event loop never turning (like an LM epoch), for
  // minutes if left alone, writing a checkpoint every 500 steps.
  const args = ["run", "env/tiny", "--preset", "smoke", "--jobs", "2", "--set", "train.steps=200000", "--set", "train.checkpointEvery=500", "--set", "train.evalEvery=500"];
  const parent = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, RNNLAB_RESULTS_DIR: dir }, stdio: "ignore" });
  const lock = path.join(dir, "env", "runs", "tiny", "experiment.lock");
  const runsDir = path.dirname(lock);
  const checkpoints = ["sgd-seed0", "momentum-seed0"].map((r) => path.join(runsDir, r, "checkpoint.json"));
  const deadline = Date.now() + 90_000;
  while (!checkpoints.every((f) => fs.existsSync(f)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(checkpoints.every((f) => fs.existsSync(f)), "both lanes are training");
  // The parent's lane-worker children, from /proc (Linux; elsewhere from the lock record).
  const childrenOf = (ppid: number) =>
    fs.existsSync("/proc/self/stat")
      ? fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
          try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            // Lane workers only: tsx may start an esbuild service as another child when sources changed.
            const isWorker = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker.ts");
            return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === ppid && isWorker;
          } catch {
            return false;
          }
        })
      : [];
  const lockRecord = JSON.parse(fs.readFileSync(lock, "utf8")) as { workers?: { pid: number }[] };
  const listed = (lockRecord.workers ?? []).map((w) => w.pid).sort();
  const workers = fs.existsSync("/proc/self/stat") ? childrenOf(parent.pid!).sort() : listed;
  assert.equal(workers.length, 2, "two lane workers");
  parent.kill("SIGKILL");
  await new Promise((r) => parent.once("exit", r));
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stopBy = Date.now() + 5_000;
  while (workers.some(alive) && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(workers.filter(alive), [], "the workers stopped within 5 s of their parent");
  assert.deepEqual(listed, workers, "the lock listed both workers while they ran");
  const sizes = checkpoints.map((f) => fs.statSync(f).mtimeMs);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(checkpoints.map((f) => fs.statSync(f).mtimeMs), sizes, "no checkpoint is written after they stopped");
  // With every process of the dead run gone, the lock is stale and a resume may take it.
  lockExperiment("env/tiny", dir).release();
});

test("rnnlab report lists an unparseable result and exits non-zero (issue 18.6)", async () => {
  const dir = tmp("report");
  await runExperiment("test/ranged", { preset: "smoke", resultsDir: dir });
  const file = resultPath("test/ranged", dir);
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").slice(0, 300));
  const { code, stderr } = await cli(["report", "--no-figures", "--results-dir", dir]);
  assert.equal(code, 1);
  assert.match(stderr, /unreadable result file/);
  assert.ok(stderr.includes(file));
  assert.match(fs.readFileSync(path.join(dir, "README.md"), "utf8"), /Unreadable result files[\s\S]*ranged\.json/);
});

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return { code: await main(args), stderr: written.join("") };
  } finally {
    process.stderr.write = write;
    process.stdout.write = stdoutWrite;
  }
}

test("smaller faults: a range error exits 2 naming the --set key; resume names a corrupt experiment.json; string metrics are refused (issue 18.8)", async () => {
  const dir = tmp("small");
  const ranged = await cli(["run", "test/ranged", "--preset", "smoke", "--results-dir", dir, "--set", "train.batchSize=0"]);
  assert.equal(ranged.code, 2, ranged.stderr);
  assert.match(ranged.stderr, /--set train\.batchSize: 0 must be an integer >= 1/);

  await runExperiment("test/ranged", { preset: "smoke", resultsDir: dir });
  const invocation = path.join(experimentRunsDir("test/ranged", dir), "experiment.json");
  fs.writeFileSync(invocation, "{\"experimentId\": \"test/ran");
  assert.throws(() => readInvocation(path.dirname(invocation)), (e: Error) => e.message.includes(invocation) && /not valid JSON/.test(e.message));

  const file = resultPath("test/ranged", dir);
  const result = JSON.parse(fs.readFileSync(file, "utf8"));
  result.arms.a.runs["0"].final.value = "12";
  assert.match(validateResult(result).join("; "), /final "value" is "12", not a number/);
  fs.writeFileSync(file, JSON.stringify(result));
  assert.throws(() => readResult(file), /not a valid rnnlab result.*--rerun/);
});

test("a negative maxStepsPerEpoch and an unused hiddenSize of a 1-layer tied LM are errors naming the key (issue 18.8)", async () => {
  const dir = tmp("lm-keys");
  const capped = await cli(["run", "g2lstm/ptb", "--preset", "smoke", "--arms", "baseline", "--results-dir", dir, "--set", "model.maxStepsPerEpoch=-1"]);
  assert.equal(capped.code, 2, capped.stderr);
  assert.match(capped.stderr, /model\.maxStepsPerEpoch/);
  assert.match(capped.stderr, /must be a whole number >= 0/);
  assert.throws(
    () => new LanguageModel({ vocabularySize: 10, embeddingSize: 8, hiddenSize: 16, layers: 1, cell: { kind: "lstm" }, tieWeights: true }),
    /config\.hiddenSize=16 is unused: with tieWeights the last \(here the only\) layer has embeddingSize=8 units/,
  );
});
