/**
 * The results report: `results/README.md`, regenerated from the result files only (never trains).
 * Per paper: our numbers (mean ± std over seeds, with preset, seeds and backend) next to the paper's,
 * links to the figures, a STALE flag where a result's config hash no longer matches what the
 * current code resolves for the same preset and overrides, and a CODE CHANGED warning where the source
 * that wrote a run (its provenance's source hash) differs from the current tree's.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot, writeFileAtomic } from "@rnnlab/core";
import { histogramDensity } from "@rnnlab/metrics";
import { lineFigure, renderFigure, closeRenderer, type FigureSpec, type Series } from "@rnnlab/plots";
import { armNames, getExperiment } from "./registry";
import { figuresDir, readResult, resultPath, resultsRoot, type ExperimentResult, type MetricSummary } from "./results";
import { currentSourceHash, sourceChangedSince } from "./provenance";
import { resolveExperimentConfig } from "./runner";

export const PAPER_TITLES: Record<string, string> = {
  env: "Environment check",
  g2lstm: "G2-LSTM: Towards Binary-Valued Gates for Robust LSTM Training (Li et al., ICML 2018)",
  sg: "Synthetic gradients: DNI (Jaderberg et al. 2017) and alternating synthetic/real gradients (Shang & Zhang 2019)",
  sdropout: "Structured in Space, Randomized in Time: structured dropout for RNNs (Sarma et al., NeurIPS 2021)",
  atn: "Assorted-Time Normalization for RNNs (Pospisil, Zadorozhnyy, Ye 2022)",
  ncgru: "Orthogonal GRU with the Neumann-Cayley transformation (Mucllari et al. 2022)",
};

/** Bookkeeping finals left out of the report tables (they stay in the JSON). */
const HIDDEN_METRICS = ["steps", "trainSeconds", "epochTrainSeconds", "parameterCount"];

export interface Staleness {
  stale: boolean;
  /** Why, when stale (or why it cannot be checked). */
  reason?: string;
  currentHash?: string;
}

/** Compare a result's config hash with what the current code resolves for its preset and overrides. */
export function checkStaleness(result: ExperimentResult): Staleness {
  try {
    const { configHash } = resolveExperimentConfig(result.id, result.preset, result.overrides);
    if (configHash === result.configHash) return { stale: false, currentHash: configHash };
    return {
      stale: true,
      currentHash: configHash,
      reason: `config hash ${result.configHash.slice(0, 12)} differs from the current ${configHash.slice(0, 12)} (the experiment's config changed since this run)`,
    };
  } catch (e) {
    return { stale: true, reason: `cannot resolve the current config: ${(e as Error).message}` };
  }
}

export interface CodeChange {
  /** Runs ("<arm> seed <k>") whose recorded source hash differs from the current tree's. */
  changed: string[];
  /** Runs without provenance (written before it was recorded): whether their code changed is unknown. */
  unknown: string[];
  /** Runs in the result. */
  total: number;
  /**
   * Per commit those runs name (their provenance's, or for unknown runs the result's environment): the source
   * paths that differ between it and the working tree; null where git cannot tell (no git, commit not here).
   */
  since: { commit: string; paths: string[] | null; dirtyAtRun: boolean }[];
}

/**
 * Compare each run's source hash with the current tree's (`root`, default the repository; `currentHash`,
 * default its hash as loaded by this process). `diffs` caches `git diff` per commit across results.
 */
export function checkCodeChange(
  result: ExperimentResult,
  options: { root?: string; currentHash?: string; diffs?: Map<string, string[] | null> } = {},
): CodeChange {
  const root = options.root ?? repoRoot();
  const current = options.currentHash ?? currentSourceHash(root);
  const diffs = options.diffs ?? new Map<string, string[] | null>();
  const changed: string[] = [];
  const unknown: string[] = [];
  const commits = new Map<string, boolean>();
  let total = 0;
  for (const [arm, a] of Object.entries(result.arms)) {
    for (const run of Object.values(a.runs)) {
      total++;
      const label = `${arm} seed ${run.seed}`;
      const p = run.provenance;
      if (p && p.sourceHash === current) continue;
      (p ? changed : unknown).push(label);
      const commit = p ? p.gitCommit : result.environment.gitCommit;
      const dirty = (p ? p.gitDirty : result.environment.gitDirty) === true;
      if (commit) commits.set(commit, (commits.get(commit) ?? false) || dirty);
    }
  }
  const since = [...commits].map(([commit, dirtyAtRun]) => {
    if (!diffs.has(commit)) diffs.set(commit, sourceChangedSince(commit, root));
    return { commit, paths: diffs.get(commit)!, dirtyAtRun };
  });
  return { changed, unknown, total, since };
}

/** "a seeds 0, 1; b seed 2", or "all 6 runs". */
function runList(labels: string[], total: number): string {
  if (labels.length === total) return `all ${total} run${total === 1 ? "" : "s"}`;
  const byArm = new Map<string, string[]>();
  for (const l of labels) {
    const [arm, , seed] = l.split(" ");
    byArm.set(arm, [...(byArm.get(arm) ?? []), seed]);
  }
  return [...byArm].map(([arm, seeds]) => `${arm} seed${seeds.length > 1 ? "s" : ""} ${seeds.join(", ")}`).join("; ");
}

function describeSince(since: CodeChange["since"]): string {
  const MAX = 8;
  return since
    .map(({ commit, paths, dirtyAtRun }) => {
      const at = `\`${commit.slice(0, 12)}\``;
      if (paths === null) return `commit ${at} (no git, or the commit is not in this clone: files not listed)`;
      if (paths.length === 0) return `commit ${at}: no source file differs${dirtyAtRun ? " (the run's tree had uncommitted changes)" : ""}`;
      const shown = paths.slice(0, MAX).map((f) => `\`${f}\``).join(", ");
      return `commit ${at}${dirtyAtRun ? " (+ the run's uncommitted changes)" : ""}: ${shown}${paths.length > MAX ? ` and ${paths.length - MAX} more` : ""}`;
    })
    .join("; ");
}

/** The report's notes on a result's code: CODE CHANGED (known, differs) and code unknown (no provenance). */
export function codeChangeNotes(change: CodeChange, options: { listFiles?: boolean } = {}): string[] {
  const notes: string[] = [];
  // The committed README must not depend on the clone's history (a shallow clone has none): there it names
  // the commits only; `rnnlab report` prints the changed files.
  const commits = [...new Set(change.since.map((s) => `\`${s.commit.slice(0, 12)}\``))].join(", ");
  const since = !change.since.length
    ? ""
    : options.listFiles === false
      ? ` Run commit(s): ${commits}; \`rnnlab report\` prints the source files changed since.`
      : ` Source files changed since ${describeSince(change.since)}.`;
  if (change.changed.length) {
    notes.push(`> **CODE CHANGED** since ${runList(change.changed, change.total)} ran: their source hash differs from the current tree's.${since} Rerun (\`--rerun\`) before trusting the numbers, or check that the changes cannot affect them.`);
  }
  if (change.unknown.length) {
    notes.push(`> **Code unknown** for ${runList(change.unknown, change.total)}: written before runs recorded a source hash.${change.changed.length ? "" : since}`);
  }
  return notes;
}

/** Arms the current config defines that the result has no runs for (a run still in progress, or interrupted). */
export function missingArms(result: ExperimentResult): string[] {
  try {
    const { definition, config } = resolveExperimentConfig(result.id, result.preset, result.overrides);
    return armNames(definition, config).filter((arm) => !result.arms[arm]);
  } catch {
    return [];
  }
}

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

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.001 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(3) : v.toFixed(4);
}

function formatSummary(s: MetricSummary | undefined): string {
  if (!s) return "–";
  return s.n > 1 ? `${formatNumber(s.mean)} ± ${formatNumber(s.std)} (n=${s.n})` : `${formatNumber(s.mean)} (n=1)`;
}

/** "[lo, hi]" of the 95% t interval of the mean; "–" for one seed. */
function formatInterval(s: MetricSummary | undefined): string {
  return s?.ci95 ? `[${formatNumber(s.ci95[0])}, ${formatNumber(s.ci95[1])}]` : "–";
}

/** The markdown report for a set of results; `figureLinks` maps result id -> figure paths (relative). */
export function buildReport(
  results: ExperimentResult[],
  options: { figureLinks?: Record<string, string[]>; errors?: string[]; root?: string; currentSourceHash?: string; listChangedFiles?: boolean } = {},
): string {
  const lines: string[] = [
    "# rnnlab results",
    "",
    "Generated by `rnnlab report` from the result files in this folder; do not edit by hand.",
    "Each table puts our numbers (mean ± sample std over seeds, and the 95% Student-t interval of the mean",
    "where there are two seeds or more) next to the paper's. **STALE** marks a result",
    "whose config hash no longer matches the current code's config for the same preset and overrides:",
    "rerun it (`rnnlab run <id> --preset <preset>`) before trusting it. **CODE CHANGED** (a warning) marks runs",
    "whose source (packages' src/, native addon, package files) differs from the current tree's, with the files",
    "changed since their commit. Smoke-preset numbers only show that the",
    "code runs; they say nothing about the papers.",
    "",
  ];
  const diffs = new Map<string, string[] | null>();
  if (results.length === 0) lines.push("No results yet. Run `rnnlab list`, then `rnnlab run <id> --preset cpu`.", "");
  const papers = [...new Set(results.map((r) => r.paper))];
  for (const paper of papers) {
    lines.push(`## ${PAPER_TITLES[paper] ?? paper}`, "");
    for (const result of results.filter((r) => r.paper === paper)) {
      const staleness = checkStaleness(result);
      const code = checkCodeChange(result, { root: options.root, currentHash: options.currentSourceHash, diffs });
      const env = result.environment;
      const commit = env.gitCommit ? `${env.gitCommit.slice(0, 10)}${env.gitDirty ? " (dirty)" : ""}` : "no git";
      lines.push(`### ${result.id}${staleness.stale ? " — **STALE**" : ""}${code.changed.length ? " — **CODE CHANGED**" : ""}`, "");
      let claim = "";
      try {
        claim = ` Claim: ${getExperiment(result.id).claim}`;
      } catch {
        // An experiment that is no longer registered: its result is still listed (and marked STALE).
      }
      lines.push(`${result.title}.${claim}`, "");
      if (staleness.stale) lines.push(`> **STALE**: ${staleness.reason}.`, "");
      for (const note of codeChangeNotes(code, { listFiles: options.listChangedFiles })) lines.push(note, "");
      const missing = missingArms(result);
      if (missing.length) lines.push(`> **Incomplete**: no runs yet for ${missing.join(", ")} (\`rnnlab run ${result.id} --preset ${result.preset}\`).`, "");
      lines.push(
        `Preset **${result.preset}**${result.overrides.length ? ` with \`${result.overrides.join(" ")}\`` : ""}, seeds ${result.seeds.join(", ")}, ` +
          `backend ${env.backend} (tfjs ${env.tfjsVersion}, node ${env.nodeVersion}, ${env.cpuModel}), commit ${commit}, ` +
          `run ${result.startedAt.slice(0, 16).replace("T", " ")} UTC for ${result.durationSeconds.toFixed(0)} s, config ${result.configHash.slice(0, 12)}.`,
        "",
      );
      const reported = result.reported;
      const metric = reported.ourMetric;
      const otherMetrics = [...new Set(Object.values(result.arms).flatMap((a) => Object.keys(a.summary)))].filter(
        (m) => m !== metric && !HIDDEN_METRICS.includes(m),
      );
      // Time per step relative to the first arm (structured dropout's claim is a speedup).
      const armEntries = Object.entries(result.arms);
      const reference = armEntries[0]?.[1].summary.secondsPerStep?.mean;
      let compareSpeed = false;
      try {
        compareSpeed = getExperiment(result.id).compareSpeed ?? false;
      } catch {
        compareSpeed = false;
      }
      const speedup = compareSpeed && reference !== undefined && armEntries.length > 1 && armEntries.every(([, a]) => a.summary.secondsPerStep);
      const extraHeader = speedup ? ` speedup vs ${armEntries[0][0]} |` : "";
      lines.push(`| arm | ours: ${metric} | paper: ${reported.metric} | ours: 95% CI |${extraHeader} ${otherMetrics.join(" | ")}${otherMetrics.length ? " |" : ""}`);
      lines.push(`|---|---|---|---|${speedup ? "---|" : ""}${otherMetrics.map(() => "---|").join("")}`);
      for (const [arm, a] of armEntries) {
        const paperValue = reported.values[arm];
        const paperText = paperValue === null || paperValue === undefined ? "n/a" : formatNumber(paperValue);
        const speedupText = speedup ? ` ${(reference! / a.summary.secondsPerStep.mean).toFixed(2)}× |` : "";
        lines.push(
          `| ${arm} | ${formatSummary(a.summary[metric])} | ${paperText} | ${formatInterval(a.summary[metric])} |${speedupText} ${otherMetrics.map((m) => formatSummary(a.summary[m])).join(" | ")}${otherMetrics.length ? " |" : ""}`,
        );
      }
      lines.push("", `Paper numbers: ${reported.source}.${reported.note ? ` ${reported.note}` : ""}`, "");
      const figures = options.figureLinks?.[result.id] ?? [];
      if (figures.length) {
        lines.push(figures.map((f) => `![${path.basename(f, ".png")}](${f})`).join(" "), "");
      }
    }
  }
  if (options.errors?.length) {
    lines.push("## Unreadable result files", "", ...options.errors.map((e) => `- ${e}`), "");
  }
  return lines.join("\n");
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

/**
 * One row per arm: our primary metric (mean, std, seeds), the paper's number, and the other finals'
 * means; feed it to @rnnlab/plots' tableFromRows for a notebook table.
 */
export function resultTableRows(result: ExperimentResult): Record<string, string | number | null>[] {
  const metric = result.reported.ourMetric;
  return Object.entries(result.arms).map(([arm, a]) => {
    const row: Record<string, string | number | null> = {
      arm,
      [`${metric} (mean)`]: a.summary[metric]?.mean ?? null,
      [`${metric} (std)`]: a.summary[metric]?.std ?? null,
      [`${metric} (95% CI)`]: a.summary[metric]?.ci95 ? formatInterval(a.summary[metric]) : null,
      seeds: a.summary[metric]?.n ?? Object.keys(a.runs).length,
      [`paper: ${result.reported.metric}`]: result.reported.values[arm] ?? null,
    };
    for (const [name, s] of Object.entries(a.summary)) if (name !== metric && !HIDDEN_METRICS.includes(name)) row[name] = s.mean;
    return row;
  });
}
