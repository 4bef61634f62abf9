/**
 * Rerunning what a clean clone runs changes nothing: `npx rnnlab report` regenerates exactly the committed
 * results/README.md and writes no figure, and re-executing a paper notebook at the cpu preset on the
 * committed results reproduces the notebook (outputs, execution counts, metadata) and every file under its
 * results folder. Together with the figure keys (packages/plots/src/render.ts) this is what keeps
 * `npm ci && npm run reproduce && npx rnnlab report` from leaving `git status` dirty.
 *
 * The notebook check needs Jupyter and reads the real results/ folder (nothing is written there when the
 * outputs are current); it is skipped when a result the notebook shows has no committed file (it would train).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { planExperiment } from "@rnnlab/experiments";

const root = path.resolve(__dirname, "..");
const results = path.join(root, "results");
const python = process.env.RNNLAB_PYTHON ?? "/usr/bin/python3";
const haveJupyter = spawnSync(python, ["-c", "import nbclient, jupyter_client"]).status === 0;

/** path (relative) -> sha256 of every file under `dir`, except git-ignored run folders. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== "runs" && e.name !== "smoke") walk(full);
      } else out[path.relative(dir, full)] = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

function changed(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((f) => before[f] !== after[f]).sort();
}

test("rnnlab report on the committed results rewrites no file (README.md identical, no figures drawn)", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-report-"));
  try {
    const copy = path.join(tmp, "results");
    fs.cpSync(results, copy, { recursive: true, filter: (src) => !/[\\/](runs|smoke)$/.test(src) });
    const before = snapshot(copy);
    const r = spawnSync(process.execPath, [path.join(root, "packages/experiments/bin/rnnlab.js"), "report", "--results-dir", copy], { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(changed(before, snapshot(copy)), [], "files the report changed or added");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

/** The experiment ids a notebook shows (its `notebookResult("<id>"` calls). */
function notebookExperiments(nb: string): string[] {
  const cells = (JSON.parse(fs.readFileSync(path.join(root, "notebooks", nb), "utf8")) as { cells: { cell_type: string; source: string | string[] }[] }).cells;
  const code = cells.filter((c) => c.cell_type === "code").map((c) => [c.source].flat().join("")).join("\n");
  return [...code.matchAll(/(?:notebookResult|runExperiment)\("([^"]+)"/g)].map((m) => m[1]);
}

// The first of these with a committed cpu result for every experiment it shows: notebookResult then loads
// them (stale or incomplete ones with a note) and nothing trains.
const candidates = ["nc-gru.ipynb", "atn.ipynb", "structured-dropout.ipynb"];
const notebook = candidates.find((nb) => notebookExperiments(nb).every((id) => planExperiment(id, { preset: "cpu" }).existing !== undefined));

test(`re-executing ${notebook ?? "a paper notebook"} on the committed results reproduces the notebook and its results folder`, {
  skip: !haveJupyter ? "no Jupyter (npm run setup)" : !notebook ? `every one of ${candidates.join(", ")} lacks a committed cpu result` : false,
  timeout: 300_000,
}, () => {
  const nb = notebook!;
  const paper = notebookExperiments(nb)[0].split("/")[0];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-rerun-"));
  try {
    const before = snapshot(path.join(results, paper));
    const env: Record<string, string | undefined> = { ...process.env, RNNLAB_PRESET: "cpu" };
    delete env.RNNLAB_RESULTS_DIR;
    const r = spawnSync("bash", [path.join(root, "scripts/execute-notebook.sh"), `notebooks/${nb}`, "--output-dir", tmp], { cwd: root, env, encoding: "utf8", timeout: 280_000 });
    assert.equal(r.status, 0, r.stderr.slice(-4000));
    assert.deepEqual(changed(before, snapshot(path.join(results, paper))), [], `files under results/${paper} the notebook changed`);
    const committed = JSON.parse(fs.readFileSync(path.join(root, "notebooks", nb), "utf8"));
    const rerun = JSON.parse(fs.readFileSync(path.join(tmp, nb), "utf8"));
    assert.deepEqual(rerun, committed, "the re-executed notebook equals the committed one (run `npm run reproduce` after changing figure code)");
    const prompts = rerun.cells.filter((c: { cell_type: string }) => c.cell_type === "code").map((c: { execution_count: number }) => c.execution_count);
    assert.deepEqual(prompts, prompts.map((_: number, i: number) => i + 1), "execution counts are kept");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
