/**
 * Helpers that keep paper notebooks thin: the preset a notebook runs at, and showing a result's
 * figures and table. A notebook passes tslab's `display` (and `newDisplay()` for progress).
 */
import * as path from "node:path";
import { renderFigure, showFigure, tableFromRows, tableHtml, writeTableCsv, type FigureSpec, type NotebookDisplay, type RenderedFigure } from "@rnnlab/plots";
import type { EnvironmentInfo } from "@rnnlab/core";
import { figuresDir, presetResultsDir, type ExperimentResult } from "./results";
import { collectResults, resultFigures, resultTableRows } from "./report";
import { planExperiment, type RunOptions } from "./plan";
import { parsePreset, runExperiment } from "./runner";
import type { PresetName } from "./types";

/**
 * The preset a notebook runs at: RNNLAB_PRESET, default "cpu". `npm run reproduce` uses "cpu" and so
 * reuses the committed cpu results (nothing retrains when their config hash matches); the test suite
 * sets "smoke", which trains in seconds into a temporary RNNLAB_RESULTS_DIR.
 */
export function notebookPreset(): PresetName {
  return parsePreset(process.env.RNNLAB_PRESET ?? "cpu");
}

/** When a notebook trains (RNNLAB_NOTEBOOK_TRAIN): see notebookResult. */
export type NotebookTrainPolicy = "missing" | "always" | "never";

export function notebookTrainPolicy(): NotebookTrainPolicy {
  const v = process.env.RNNLAB_NOTEBOOK_TRAIN ?? "missing";
  if (v === "missing" || v === "always" || v === "never") return v;
  throw new Error(`RNNLAB_NOTEBOOK_TRAIN="${v}": expected missing (the default), always or never.`);
}

/**
 * The result a paper notebook shows for experiment `id`. Re-executing a notebook must not start hours of
 * training because one run of a committed result is stale or an arm is still missing, so by default
 * (RNNLAB_NOTEBOOK_TRAIN=missing) a result file that exists at this preset is shown as it is, with a note
 * naming the runs that are not current and the command that brings them up to date; the experiment is
 * trained only when there is no result file at all (a smoke run into a fresh results folder).
 * RNNLAB_NOTEBOOK_TRAIN=always trains what is missing or stale (reusing the rest, as `rnnlab run`);
 * `never` only loads and fails when there is no result.
 */
export async function notebookResult(
  id: string,
  options: RunOptions & { display?: NotebookDisplay; policy?: NotebookTrainPolicy } = {},
): Promise<ExperimentResult> {
  const { display, policy = notebookTrainPolicy(), ...runOptions } = options;
  const preset = parsePreset(runOptions.preset);
  const plan = planExperiment(id, { ...runOptions, preset });
  const command = `npx rnnlab run ${id} --preset ${preset}`;
  if (policy === "always" || (policy === "missing" && !plan.existing)) return runExperiment(id, { ...runOptions, preset });
  if (!plan.existing) {
    throw new Error(`${id}: no ${preset}-preset result in ${plan.resultFile} (RNNLAB_NOTEBOOK_TRAIN=never). Train it with \`${command}\`.`);
  }
  // Judged from the result file alone (not local run folders), so the note is the same on every clone.
  const recorded = (r: (typeof plan.runs)[number]) => plan.existing?.arms[r.arm]?.runs[String(r.seed)];
  const notCurrent = plan.runs.filter((r) => recorded(r)?.runHash !== r.runHash);
  if (notCurrent.length && display) {
    const byStatus = new Map<string, string[]>();
    for (const r of notCurrent) {
      const key = recorded(r) ? "stale (recorded with another config)" : "not in the result file";
      byStatus.set(key, [...(byStatus.get(key) ?? []), `${r.arm} seed ${r.seed}`]);
    }
    const lines = [...byStatus].map(([status, runs]) => `${status}: ${runs.join(", ")}`);
    display.markdown(
      `**${id}: ${notCurrent.length} of ${plan.runs.length} runs are not current** (${lines.join("; ")}). ` +
        `The numbers below are the committed result's; \`${command}\` trains the rest (or re-execute with RNNLAB_NOTEBOOK_TRAIN=always).`,
    );
  }
  return plan.existing;
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
