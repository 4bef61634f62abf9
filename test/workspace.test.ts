/**
 * The small things a newcomer meets first: the set-up waits for the apt lock instead of failing, the
 * README's smoke run does not collide with committed results, `npm run data` alone shows its commands.
 * (The notebook server itself is tested in a real browser by browser.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { planExperiment, presetResultsDir } from "@rnnlab/experiments";

const root = path.resolve(__dirname, "..");

/** Run apt_wait (scripts/lib.sh) with a fake apt-get that reports a held lock `busy` times, then succeeds. */
function aptWait(busy: number, env: Record<string, string> = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-apt-"));
  try {
    const fake = path.join(tmp, "apt-get");
    fs.writeFileSync(
      fake,
      `#!/usr/bin/env bash
n=$(cat "${tmp}/count" 2>/dev/null || echo 0); echo $((n + 1)) > "${tmp}/count"
if [ "$n" -lt ${busy} ]; then echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (unattended-upgr)" >&2; exit 100; fi
echo "installed $*"
`,
      { mode: 0o755 },
    );
    const r = spawnSync("bash", ["-c", `source scripts/lib.sh && apt_wait install -y chromium`], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, PATH: `${tmp}:${process.env.PATH}`, RNNLAB_APT_LOG: path.join(tmp, "apt.log"), RNNLAB_APT_LOCK_POLL: "0.1", ...env },
      timeout: 30_000,
    });
    return { status: r.status, stderr: r.stderr, calls: Number(fs.readFileSync(path.join(tmp, "count"), "utf8")), log: fs.readFileSync(path.join(tmp, "apt.log"), "utf8") };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

test("set-up waits for a held apt lock, says so once, and then installs", () => {
  const r = aptWait(3);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.calls, 4);
  assert.equal(r.stderr.match(/waiting for it/g)?.length, 1, r.stderr);
  assert.match(r.log, /installed -o DPkg::Lock::Timeout=5 install -y chromium/);
});

test("set-up gives up on the apt lock after RNNLAB_APT_LOCK_TIMEOUT with a message naming the fix", () => {
  const r = aptWait(1000, { RNNLAB_APT_LOCK_TIMEOUT: "0" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /gave up after 0 s waiting for the apt\/dpkg lock[\s\S]*npm run setup[\s\S]*RNNLAB_APT_LOCK_TIMEOUT/);
});

test("smoke and paper runs default to results/<preset>/, never onto the committed cpu results", () => {
  const saved = process.env.RNNLAB_RESULTS_DIR;
  delete process.env.RNNLAB_RESULTS_DIR;
  try {
    assert.equal(presetResultsDir("cpu"), undefined);
    assert.equal(planExperiment("env/tiny", { preset: "cpu" }).resultFile, path.join(root, "results", "env", "tiny.json"));
    assert.equal(planExperiment("env/tiny", { preset: "smoke" }).resultFile, path.join(root, "results", "smoke", "env", "tiny.json"));
    assert.equal(planExperiment("env/tiny", { preset: "paper" }).resultFile, path.join(root, "results", "paper", "env", "tiny.json"));
    // An explicit root (flag or variable) is used as given.
    process.env.RNNLAB_RESULTS_DIR = os.tmpdir();
    assert.equal(planExperiment("env/tiny", { preset: "smoke" }).resultFile, path.join(os.tmpdir(), "env", "tiny.json"));
  } finally {
    if (saved === undefined) delete process.env.RNNLAB_RESULTS_DIR;
    else process.env.RNNLAB_RESULTS_DIR = saved;
  }
  assert.match(fs.readFileSync(path.join(root, "results", ".gitignore"), "utf8"), /^\/smoke\/$/m);
});

test("npm run data without a command lists the commands and exits 0", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "packages/data/src/cli.ts"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /fetch[\s\S]*verify[\s\S]*list/);
});

test("the kernel's sockets wait for their bind instead of rejecting with EBUSY (tools/tslab/kernel-preload.cjs)", { skip: !fs.existsSync(path.join(root, "tools/tslab/node_modules/zeromq")) && "tslab not installed (npm run setup)" }, () => {
  // What tslab does at start-up: receive and send on sockets whose bind() has not finished yet.
  const script = `
    const zmq = require(${JSON.stringify(path.join(root, "tools/tslab/node_modules/zeromq"))});
    process.on("unhandledRejection", (r) => { console.log("UnhandledPromiseRejection: " + r.message); process.exit(3); });
    const router = new zmq.Router(), publisher = new zmq.Publisher();
    const bound = Promise.all([router.bind("tcp://127.0.0.1:0"), publisher.bind("tcp://127.0.0.1:0")]);
    router.receive().catch(() => {});
    publisher.send("status").then(() => console.log("sent"));
    bound.then(() => setTimeout(() => { router.close(); publisher.close(); }, 200));`;
  const run = (preload: boolean) =>
    spawnSync(process.execPath, [...(preload ? ["--require", path.join(root, "tools/tslab/kernel-preload.cjs")] : []), "-e", script], { encoding: "utf8", timeout: 30_000 });
  const without = run(false);
  assert.match(without.stdout + without.stderr, /blocked by a bind/i, "the problem exists without the preload");
  const fixed = run(true);
  assert.equal(fixed.status, 0, fixed.stdout + fixed.stderr);
  assert.match(fixed.stdout, /^sent$/m);
});
