/**
 * The results report: `results/README.md`, regenerated from the result files only (never trains).
 * Per paper: our numbers (mean ± std over seeds, with preset, seeds and backend) next to the paper's,
 * links to the figures, a STALE flag where a recorded run's run hash no longer matches what the current
 * code resolves for its arm and seed (same preset and overrides), and a CODE CHANGED warning where the source
 * that wrote a run (its provenance's source hash) differs from the current tree's.
 * This module assembles: the checks are in report-staleness.ts and report-code.ts, the markdown in
 * report-markdown.ts, the figures in report-figures.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "@rnnlab/core";
import { closeRenderer } from "@rnnlab/plots";
import { readResult, resultPath, resultsRoot, type ExperimentResult } from "./results";
import { checkCodeChange, codeChangeNotes } from "./report-code";
import { existingFigures, renderResultFigures } from "./report-figures";
import { buildReport } from "./report-markdown";
import { checkStaleness } from "./report-staleness";

export { checkStaleness, missingArms, type Staleness } from "./report-staleness";
export { checkCodeChange, codeChangeNotes, type CodeChange } from "./report-code";
export { existingFigures, figureName, gateHistogramFigure, meanCurve, renderResultFigures, resultFigures } from "./report-figures";
export { buildReport, PAPER_TITLES, resultTableRows, type ReportOptions } from "./report-markdown";

/** Every result file under the results root, sorted by id. Invalid files are returned as errors. */
export function collectResults(resultsDir?: string): { results: ExperimentResult[]; errors: string[] } {
  const root = resultsRoot(resultsDir);
  const results: ExperimentResult[] = [];
  const errors: string[] = [];
  if (!fs.existsSync(root)) return { results, errors };
  for (const paper of fs.readdirSync(root).sort()) {
    const dir = path.join(root, paper);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs.readdirSync(dir).sort()) {
      if (!file.endsWith(".json")) continue;
      // Other tools write JSON under results/ too (benchmarks, notebooks): only files that claim to be
      // experiment results (schemaVersion + id + arms) are read; a broken one of those is reported.
      const full = path.join(dir, file);
      let parsed: unknown;
      try {
        parsed = JSON.parse(fs.readFileSync(full, "utf8"));
      } catch (e) {
        // Unparseable: whether it claims to be a result cannot be told, and a truncated result must not vanish from the report.
        errors.push(`${full}: not valid JSON (${(e as Error).message}). Rerun its experiment with --rerun, or delete it.`);
        continue;
      }
      const claims = typeof parsed === "object" && parsed !== null && "schemaVersion" in parsed && "id" in parsed && "arms" in parsed;
      if (!claims) continue;
      try {
        const r = readResult(full);
        if (r) results.push(r);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  }
  results.sort((a, b) => a.id.localeCompare(b.id));
  return { results, errors };
}

/**
 * Regenerate `<results>/README.md` from the result files. With `figures` (the default), a result that has
 * no figure yet (one run from the CLI, never shown in its notebook) gets its standard figures rendered;
 * figures that exist, usually drawn by the paper's notebook, are linked and never redrawn here, so that on
 * a clean checkout the report changes no file. Returns the README path and the stale result ids.
 */
export async function writeReport(
  options: { resultsDir?: string; figures?: boolean } = {},
): Promise<{ path: string; stale: string[]; codeChanged: string[]; codeUnknown: string[]; codeNotes: string[]; figureErrors: string[]; errors: string[] }> {
  const root = resultsRoot(options.resultsDir);
  const { results, errors } = collectResults(options.resultsDir);
  const figureErrors: string[] = [];
  if (options.figures ?? true) {
    const have = existingFigures(results, options.resultsDir);
    try {
      for (const result of results) if (!have[result.id]) await renderResultFigures(result, options.resultsDir);
    } catch (e) {
      figureErrors.push((e as Error).message);
    } finally {
      await closeRenderer();
    }
  }
  const file = path.join(root, "README.md");
  const text = buildReport(results, { figureLinks: existingFigures(results, options.resultsDir), errors, listChangedFiles: false });
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) writeFileAtomic(file, text);
  const diffs = new Map<string, string[] | null>();
  const code = results.map((r) => ({ id: r.id, change: checkCodeChange(r, { diffs }) }));
  return {
    path: file,
    codeNotes: code.flatMap((c) => codeChangeNotes(c.change).map((note) => `${c.id}: ${note.replace(/^> /, "")}`)),
    stale: results.filter((r) => checkStaleness(r).stale).map((r) => r.id),
    codeChanged: code.filter((c) => c.change.changed.length).map((c) => c.id),
    codeUnknown: code.filter((c) => c.change.unknown.length).map((c) => c.id),
    figureErrors,
    errors,
  };
}

/** A result file by experiment id (undefined when it was never run). For notebooks. */
export function loadResult(id: string, resultsDir?: string): ExperimentResult | undefined {
  return readResult(resultPath(id, resultsDir));
}
