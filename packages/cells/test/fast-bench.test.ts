/**
 * `npm run bench -- --quick` end to end into a temporary results directory: the JSON has every field
 * and they are finite. No timing assertions (the machine is shared).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "../../..");

test("bench --quick writes lstm-lm.quick.json with finite numbers", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-bench-"));
  try {
    const r = spawnSync(process.execPath, ["--import", "tsx", "packages/cells/bench/run.ts", "--quick", "--sizes", "small", "--no-torch"], {
      cwd: root,
      env: { ...process.env, RNNLAB_RESULTS_DIR: dir },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /round 1\/2 rnnlab: \d+ ms\/step/, "a progress line per measurement on stderr");
    const result = JSON.parse(fs.readFileSync(path.join(dir, "bench", "lstm-lm.quick.json"), "utf8"));
    for (const k of ["backend", "tfjsVersion", "nodeVersion", "date"]) assert.equal(typeof result[k], "string", k);
    assert.equal(typeof result.machine.cpuModel, "string");
    assert.ok(result.machine.cores >= 1);
    const small = result.sizes.small;
    for (const k of [
      "stepMs",
      "tokensPerSecond",
      "layersLstmTokensPerSecond",
      "speedupVsLayersLstm",
      "matmulBoundFraction",
      "structuredDropoutSpeedup",
      "structuredDropoutPerStepSpeedup",
      "cpuStepMs",
    ]) {
      assert.equal(typeof small[k], "number", `${k} = ${small[k]}`);
      assert.ok(Number.isFinite(small[k]) && small[k] > 0, `${k} = ${small[k]}`);
    }
    assert.equal(small.tensorsLeakedPerRound, 0);
    assert.ok(Array.isArray(small.matmulGflops) && small.matmulGflops.every((g: { gflops: number }) => Number.isFinite(g.gflops) && g.gflops > 0));
    assert.equal(small.pytorchTokensPerSecond, undefined, "--no-torch skips PyTorch");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("bench rejects unknown options with the list of valid ones", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "packages/cells/bench/run.ts", "--sizes", "huge"], { cwd: root, encoding: "utf8", timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--sizes: unknown size "huge"; use small and\/or medium/);
});
