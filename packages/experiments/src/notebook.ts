/**
 * Helpers that keep paper notebooks thin: the preset a notebook runs at, and showing a result's
 * figures and table. A notebook passes tslab's `display` (and `newDisplay()` for progress).
 */
import * as path from "node:path";
import { renderFigure, showFigure, tableFromRows, tableHtml, writeTableCsv, type FigureSpec, type NotebookDisplay, type RenderedFigure } from "@rnnlab/plots";
import { figuresDir, type ExperimentResult } from "./results";
import { resultFigures, resultTableRows } from "./report";
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
  const rendered = await renderFigure(spec, { outDir: figuresDir(result.id, options.resultsDir), name, width: options.width, height: options.height });
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
  const file = path.join(path.dirname(figuresDir(result.id, resultsDir)), `${result.id.split("/")[1]}.csv`);
  return writeTableCsv(table, file);
}
