/**
 * End-to-end tests of the `rnnlab` CLI (packages/experiments/src/cli.ts), run as child processes
 * against a temporary RNNLAB_RESULTS_DIR. Run from the repo root: node --import tsx --test test/cli.test.ts
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");
const bin = path.join(root, "packages", "experiments", "bin", "rnnlab.js");
let resultsDir: string;

function rnnlab(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, RNNLAB_RESULTS_DIR: resultsDir, ...env },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readJson(file: string) {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

before(() => {
  resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-cli-"));
});

test("rnnlab list shows the registered experiments", () => {
  const r = rnnlab(["list"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /env\/tiny/);
  assert.match(r.stdout, /arms: sgd, momentum/);
  const keys = rnnlab(["list", "--keys", "env/tiny"]);
  assert.equal(keys.code, 0);
  assert.match(keys.stdout, /^train\.learningRate$/m);
});

test("rnnlab run --preset smoke writes a result; a second run reuses it", () => {
  const r = rnnlab(["run", "env/tiny", "--preset", "smoke"]);
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(resultsDir, "env", "tiny.json");
  const result = readJson(file);
  assert.equal(result.schemaVersion, 1);
  assert.equal(result.preset, "smoke");
  assert.deepEqual(Object.keys(result.arms), ["sgd", "momentum"]);
  assert.ok(result.arms.sgd.runs["0"].final.testLoss > 0);
  assert.match(r.stdout, /wrote .*tiny\.json/);
  assert.match(r.stderr, /finished in/); // plain progress lines when stderr is not a TTY
  const again = rnnlab(["run", "env/tiny", "--preset", "smoke"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /sgd seed 0: reused/);
  assert.doesNotMatch(again.stderr, /started/);
});

test("rnnlab resume continues a killed run and matches an uninterrupted run exactly", async () => {
  const interrupted = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-kill-"));
  const args = ["run", "env/tiny", "--preset", "smoke", "--arms", "momentum", "--set", "train.stepDelayMs=40"];
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, RNNLAB_RESULTS_DIR: interrupted }, stdio: "ignore" });
  const runDir = path.join(interrupted, "env", "runs", "tiny", "momentum-seed0");
  const checkpoint = path.join(runDir, "checkpoint.json");
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(checkpoint) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(fs.existsSync(checkpoint), "a checkpoint appeared");
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  assert.ok(!fs.existsSync(path.join(interrupted, "env", "tiny.json")), "the run was killed before finishing");

  const resumed = rnnlab(["resume", runDir], { RNNLAB_RESULTS_DIR: "/nonexistent-on-purpose" });
  assert.equal(resumed.code, 0, resumed.stderr);
  const result = readJson(path.join(interrupted, "env", "tiny.json"));
  const run = result.arms.momentum.runs["0"];
  assert.ok(run.resumedFromStep > 0 && run.resumedFromStep < 40, `resumed from step ${run.resumedFromStep}`);

  const straight = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-straight-"));
  const r = rnnlab(args, { RNNLAB_RESULTS_DIR: straight });
  assert.equal(r.code, 0, r.stderr);
  const reference = readJson(path.join(straight, "env", "tiny.json")).arms.momentum.runs["0"];
  assert.deepEqual(run.final, reference.final);
  assert.deepEqual(run.curves, reference.curves);
  assert.equal(result.configHash, readJson(path.join(straight, "env", "tiny.json")).configHash);
});

test("rnnlab run --jobs 2 trains in child processes and gives the same numbers", () => {
  const parallel = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-jobs-"));
  const r = rnnlab(["run", "env/tiny", "--preset", "smoke", "--jobs", "2"], { RNNLAB_RESULTS_DIR: parallel });
  assert.equal(r.code, 0, r.stderr);
  const sequential = readJson(path.join(resultsDir, "env", "tiny.json"));
  const fromChildren = readJson(path.join(parallel, "env", "tiny.json"));
  for (const arm of ["sgd", "momentum"]) assert.deepEqual(fromChildren.arms[arm].runs["0"].final, sequential.arms[arm].runs["0"].final);
});

test("an experiment whose dataset is missing fails with exit 1 and the data package's fix", () => {
  const r = rnnlab(["run", "g2lstm/ptb", "--preset", "cpu", "--arms", "baseline"], { RNNLAB_DATA_DIR: path.join(resultsDir, "no-data-here") });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Dataset "ptb" is missing/);
  assert.match(r.stderr, /npm run data -- fetch ptb/);
});

test("rnnlab report regenerates README.md", () => {
  const r = rnnlab(["report", "--no-figures"]);
  assert.equal(r.code, 0, r.stderr);
  const md = fs.readFileSync(path.join(resultsDir, "README.md"), "utf8");
  assert.match(md, /### env\/tiny/);
  assert.match(md, /\| momentum \| 0\.\d+ \(n=1\) \| n\/a \|/);
});

test("rnnlab report renders figures when Chromium is available", { skip: !["/usr/bin/chromium", process.env.RNNLAB_CHROMIUM].some((p) => p && fs.existsSync(p)) }, () => {
  const r = rnnlab(["report"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.statSync(path.join(resultsDir, "env", "figures", "tiny-train-loss.png")).size > 1000);
  assert.match(fs.readFileSync(path.join(resultsDir, "README.md"), "utf8"), /!\[tiny-train-loss\]\(env\/figures\/tiny-train-loss\.png\)/);
});

test("bad arguments exit with 2 and a helpful message", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["run", "env/tiny", "--bogus"], /unknown option '--bogus'/],
    [["run", "env/tinyy", "--preset", "smoke"], /Unknown experiment "env\/tinyy".*Did you mean: env\/tiny/],
    [["run", "env/tiny", "--preset", "huge"], /use one of: smoke, cpu, paper/],
    [["run", "env/tiny", "--preset", "smoke", "--set", "train.lr=1"], /unknown config key "train.lr".*train\.learningRate/],
    [["run", "env/tiny", "--preset", "smoke", "--set", "train.steps=many"], /train.steps=many: expected a number/],
    [["run", "env/tiny", "--seeds", "a,b"], /expected comma-separated non-negative integers/],
    [["resume", "/no/such/dir"], /no such directory/],
    [[], /Usage: rnnlab/],
  ];
  for (const [args, message] of cases) {
    const r = rnnlab(args);
    assert.equal(r.code, 2, `rnnlab ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message, `rnnlab ${args.join(" ")}`);
  }
  const help = rnnlab(["run", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--preset <name>/);
});

test("the help documents RNNLAB_RUNS_DIR and --allow-dirty", () => {
  const top = rnnlab(["--help"]);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /RNNLAB_RUNS_DIR/);
  assert.match(top.stdout, /--allow-dirty/);
  for (const command of ["run", "resume"]) {
    const r = rnnlab([command, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--allow-dirty/);
  }
});
