/**
 * Helpers that keep paper notebooks thin: the preset a notebook runs at, and showing a result's
 * figures and table. A notebook passes tslab's `display` (and `newDisplay()` for progress).
 */
import * as path from "node:path";
import { renderFigure, showFigure, tableFromRows, tableHtml, writeTableCsv, type FigureSpec, type NotebookDisplay, type RenderedFigure } from "@rnnlab/plots";
import type { EnvironmentInfo } from "@rnnlab/core";
import { figuresDir, presetResultsDir, type ExperimentResult } from "./results";
import { collectResults, resultFigures, resultTableRows } from "./report";
import { parsePreset } from "./runner";
import type { PresetName } from "./types";

/**
 * The preset a notebook runs at: RNNLAB_PRESET, default "cpu". `npm run reproduce` uses "cpu" and so
 * reuses the committed cpu results (nothing retrains when their config hash matches); the test suite
 * sets "smoke", which trains in seconds into a temporary RNNLAB_RESULTS_DIR.
 */
export function notebookPreset(): PresetName {
  return parsePreset(process.env.RNNLAB_PRESET ?? "cpu");
}

/** Render one figure of a result into results/<paper>/figures/ and show it (PNG inline + links). */
export async function showResultFigure(
  display: NotebookDisplay,
  result: ExperimentResult,
  name: string,
  spec: FigureSpec,
  options: { width?: number; height?: number; resultsDir?: string } = {},
): Promise<RenderedFigure> {
  const outDir = figuresDir(result.id, options.resultsDir ?? presetResultsDir(result.preset));
  const rendered = await renderFigure(spec, { outDir, name, width: options.width, height: options.height });
  showFigure(display, rendered);
  return rendered;
}

/** Render and show the standard figures of a result (curves per arm, gate histograms when recorded). */
export async function showResultFigures(display: NotebookDisplay, result: ExperimentResult, resultsDir?: string): Promise<RenderedFigure[]> {
  const shown: RenderedFigure[] = [];
  for (const { name, spec } of resultFigures(result)) shown.push(await showResultFigure(display, result, name, spec, { resultsDir }));
  return shown;
}

/** Show the result's summary table (ours next to the paper's numbers) and write it as CSV beside the JSON. */
export function showResultTable(display: NotebookDisplay, result: ExperimentResult, resultsDir?: string): string {
  const table = tableFromRows(resultTableRows(result) as Record<string, string | number | null>[]);
  display.html(tableHtml(table, { digits: 4, caption: `${result.id} (${result.preset} preset)` }));
  const file = path.join(path.dirname(figuresDir(result.id, resultsDir ?? presetResultsDir(result.preset))), `${result.id.split("/")[1]}.csv`);
  return writeTableCsv(table, file);
}

function markdownTable(header: string[], rows: string[][]): string {
  const cell = (v: string) => v.replace(/\|/g, "\\|");
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

/**
 * The live part of the environment check, as a markdown table: what this kernel chose and can do. Only
 * facts that stay the same from run to run on one machine (no git commit, kernel release, memory or
 * timings), so that re-executing the environment notebook leaves it unchanged.
 */
export function environmentCheckMarkdown(info: EnvironmentInfo): string {
  return markdownTable(["", ""], [
    ["TF.js backend", `**${info.backend}** (${info.backendPackage})`],
    ["skipped backends", info.skippedBackends.map((s) => `${s.candidate}: ${s.reason}`).join("<br>") || "none"],
    ["wasm kernel fixes", info.kernelFixes.join(", ") || "none"],
    ["matrix products", info.blas ? `native BLAS: ${info.blas}` : info.matmul],
    ["TF.js", info.tfjs],
    ["Node.js", info.node],
    ["CPU", `${info.cpu} × ${info.cores}`],
  ]);
}

/**
 * Where the committed results were computed: one row per distinct recorded environment (backend, TF.js,
 * Node.js, CPU), with the results that share it, read from the result files.
 */
export function recordedEnvironmentsMarkdown(resultsDir?: string): string {
  const groups = new Map<string, { row: string[]; ids: string[] }>();
  for (const r of collectResults(resultsDir).results) {
    const e = r.environment;
    const row = [e.backend, e.tfjsVersion, e.nodeVersion, `${e.cpuModel} × ${e.cpuCount}`];
    const key = JSON.stringify(row);
    if (!groups.has(key)) groups.set(key, { row, ids: [] });
    groups.get(key)!.ids.push(`${r.id} (${r.preset})`);
  }
  if (groups.size === 0) return "No result files yet.";
  return markdownTable(
    ["backend", "TF.js", "Node.js", "CPU", "results"],
    [...groups.values()].map((g) => [...g.row, g.ids.join(", ")]),
  );
}
