/**
 * The report's figures (report.ts): mean curves over seeds, the standard figure specs of a result (pure: JSON
 * in, Plotly specs out), their rendering, and the figure files that exist for each result.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { histogramDensity } from "@rnnlab/metrics";
import { lineFigure, renderFigure, type FigureSpec, type Series } from "@rnnlab/plots";
import { getExperiment } from "./registry";
import { figuresDir, resultsRoot, type ExperimentResult } from "./results";

/** Mean (and std) over seeds of one curve, at the steps every seed recorded. */
export function meanCurve(result: ExperimentResult, arm: string, curve: string): Series | undefined {
  const runs = Object.values(result.arms[arm]?.runs ?? {}).filter((r) => r.curves[curve]?.step.length);
  if (runs.length === 0) return undefined;
  const maps = runs.map((r) => new Map(r.curves[curve].step.map((s, i) => [s, r.curves[curve].value[i]])));
  let steps = runs[0].curves[curve].step.filter((s) => maps.every((m) => m.has(s)));
  if (steps.length === 0) steps = runs[0].curves[curve].step;
  const y: number[] = [];
  const band: number[] = [];
  for (const s of steps) {
    const xs = maps.map((m) => m.get(s)).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    y.push(mean);
    band.push(xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0);
  }
  return { name: arm, x: steps, y, band: runs.length > 1 ? band : undefined };
}

/**
 * The one naming scheme for figure files, shared by notebooks and `rnnlab report`:
 * `<experiment>-<what>` in kebab case, e.g. `ptb-valid-perplexity` for experiment ptb, curve validPerplexity.
 */
export function figureName(experiment: string, what: string): string {
  const kebab = what.replace(/([a-z0-9])([A-Z])/g, "$1-$2").replace(/[^A-Za-z0-9]+/g, "-").toLowerCase();
  return `${experiment}-${kebab}`;
}

/** Figure specs of a result (pure: JSON in, Plotly specs out), named by figureName(experiment, curve). */
export function resultFigures(result: ExperimentResult): { name: string; spec: FigureSpec }[] {
  let curves: string[];
  try {
    curves = getExperiment(result.id).plotCurves;
  } catch {
    curves = [...new Set(Object.values(result.arms).flatMap((a) => Object.values(a.runs).flatMap((r) => Object.keys(r.curves))))];
  }
  const out: { name: string; spec: FigureSpec }[] = [];
  const experiment = result.id.split("/")[1];
  for (const curve of curves) {
    const series = Object.keys(result.arms)
      .map((arm) => meanCurve(result, arm, curve))
      .filter((s): s is Series => s !== undefined);
    if (series.length === 0) continue;
    const seeds = result.seeds.length;
    out.push({
      name: figureName(experiment, curve),
      spec: lineFigure({
        title: `${result.id}: ${curve} (${result.preset} preset, ${seeds} seed${seeds === 1 ? "" : "s"}${seeds > 1 ? ", mean ± std" : ""})`,
        xTitle: "step",
        yTitle: curve,
        series,
      }),
    });
  }
  const gates = gateHistogramFigure(result);
  if (gates) out.push({ name: figureName(experiment, "gates"), spec: gates });
  return out;
}

/**
 * G2-LSTM's gate figure: density of the input (i) and forget (f) gate values of the first layer
 * ("decoder.layer0" for translation), per arm, from the first seed's histograms in `extra.gateHistograms`.
 */
export function gateHistogramFigure(result: ExperimentResult): FigureSpec | undefined {
  const series: Series[] = [];
  for (const [arm, a] of Object.entries(result.arms)) {
    const run = Object.values(a.runs)[0];
    const histograms = (run?.extra as { gateHistograms?: Record<string, Record<string, { min: number; max: number; counts: number[] }>> } | undefined)?.gateHistograms;
    if (!histograms) continue;
    const layer = histograms["decoder.layer0"] ?? Object.values(histograms)[0];
    for (const gate of ["i", "f"]) {
      const h = layer?.[gate];
      if (!h || h.counts.reduce((x, y) => x + y, 0) === 0) continue;
      const d = histogramDensity(h);
      series.push({ name: `${arm} ${gate === "i" ? "input" : "forget"} gate`, x: d.centers, y: d.densities, dash: gate === "i" ? "solid" : "dot" });
    }
  }
  if (series.length === 0) return undefined;
  return lineFigure({
    title: `${result.id}: first-layer gate values on held-out data (${result.preset} preset, seed ${result.seeds[0]})`,
    xTitle: "gate value",
    yTitle: "density",
    series,
  });
}

/** Render a result's figures to `<results>/<paper>/figures/` (PNG + SVG + HTML); returns the PNG paths. */
export async function renderResultFigures(result: ExperimentResult, resultsDir?: string): Promise<string[]> {
  const outDir = figuresDir(result.id, resultsDir);
  const paths: string[] = [];
  for (const { name, spec } of resultFigures(result)) {
    const rendered = await renderFigure(spec, { outDir, name, formats: ["png", "svg", "html"] });
    if (rendered.pngPath) paths.push(rendered.pngPath);
  }
  return paths;
}

/**
 * The PNG figures of each result in its paper's figures folder, as paths relative to the results root:
 * a file belongs to the experiment whose name is the longest prefix of the file name followed by "-"
 * (figureName), whoever drew it (the paper's notebook or an earlier `rnnlab report`).
 */
export function existingFigures(results: ExperimentResult[], resultsDir?: string): Record<string, string[]> {
  const root = resultsRoot(resultsDir);
  const links: Record<string, string[]> = {};
  for (const paper of [...new Set(results.map((r) => r.paper))]) {
    const dir = figuresDir(`${paper}/x`, resultsDir);
    if (!fs.existsSync(dir)) continue;
    const experiments = results.filter((r) => r.paper === paper).map((r) => r.id.split("/")[1]).sort((a, b) => b.length - a.length);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".png")).sort()) {
      const owner = experiments.find((e) => file.startsWith(`${e}-`));
      if (!owner) continue;
      (links[`${paper}/${owner}`] ??= []).push(path.relative(root, path.join(dir, file)).split(path.sep).join("/"));
    }
  }
  return links;
}
