/**
 * Every notebook executes headless through real Jupyter (nbclient + the committed tslab kernelspec),
 * at the smoke preset, writing into a temporary results directory so committed results stay untouched.
 * A failing cell (exception or type error) fails the test with the cell's error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const root = path.resolve(__dirname, "..");
const notebooks = fs.readdirSync(path.join(root, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();

interface Output { output_type: string; data?: Record<string, unknown>; name?: string; text?: string | string[]; ename?: string }
interface Notebook { cells: { cell_type: string; outputs?: Output[] }[] }

function execute(nb: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-nb-"));
  const results = path.join(tmp, "results");
  const r = spawnSync("bash", [path.join(root, "scripts/execute-notebook.sh"), path.join("notebooks", nb), "--output-dir", tmp], {
    cwd: root,
    env: { ...process.env, RNNLAB_RESULTS_DIR: results, RNNLAB_PRESET: process.env.RNNLAB_PRESET ?? "smoke" },
    encoding: "utf8",
    timeout: 20 * 60 * 1000,
  });
  return { ...r, tmp, results, outFile: path.join(tmp, nb) };
}

test("notebooks/ holds the environment notebook", () => {
  assert.ok(notebooks.includes("00-environment.ipynb"), `found: ${notebooks.join(", ")}`);
});

for (const nb of notebooks) {
  test(`notebook ${nb} executes through Jupyter with the tslab kernel`, () => {
    const r = execute(nb);
    try {
      checkExecuted(nb, r);
    } finally {
      fs.rmSync(r.tmp, { recursive: true, force: true }); // also when a check fails: no rnnlab-nb-* left in the temp dir
    }
  });
}

function checkExecuted(nb: string, r: ReturnType<typeof execute>): void {
  assert.equal(r.status, 0, `execution failed for ${nb}:\n${r.stderr.slice(-4000)}`);
  const out: Notebook = JSON.parse(fs.readFileSync(r.outFile, "utf8"));
  const outputs = out.cells.flatMap((c) => c.outputs ?? []);
  const errors = outputs.filter((o) => o.output_type === "error");
  assert.deepEqual(errors.map((e) => e.ename), [], "no cell raised");
  // tslab reports failures on the stderr stream; a clean notebook writes nothing there.
  const stderr = outputs.filter((o) => o.output_type === "stream" && o.name === "stderr").map((o) => [o.text].flat().join(""));
  assert.deepEqual(stderr, [], "no cell wrote to stderr");
  if (nb === "00-environment.ipynb") {
    const mimes = outputs.flatMap((o) => Object.keys(o.data ?? {}));
    assert.ok(mimes.includes("image/png"), "the figure is shown inline as PNG");
    assert.ok(mimes.includes("text/html"), "the progress display and table are HTML");
    const figures = path.join(r.results, "environment", "figures");
    for (const f of ["tiny-mlp-loss.png", "tiny-mlp-loss.svg", "tiny-mlp-loss.html"]) {
      assert.ok(fs.existsSync(path.join(figures, f)), `${f} written under RNNLAB_RESULTS_DIR`);
    }
    const csv = fs.readFileSync(path.join(r.results, "environment", "tiny-mlp.csv"), "utf8");
    const mse = Number(csv.split("\n").find((l) => l.startsWith("final validation MSE"))!.split(",")[1]);
    const base = Number(csv.split("\n").find((l) => l.startsWith("baseline MSE"))!.split(",")[1]);
    assert.ok(mse < base / 5, `the tiny model learned (val MSE ${mse} vs baseline ${base})`);
  }
}
