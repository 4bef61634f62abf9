/**
 * Result files: `<resultsDir>/<paper>/<experiment>.json`, written atomically, with the resolved config
 * and its hash, per-arm per-seed curves (downsampled) and finals, mean/std over seeds, the paper's
 * numbers and the environment. `RNNLAB_RESULTS_DIR` overrides the default `<repo>/results`;
 * `RNNLAB_RUNS_DIR` moves the run directories (checkpoints) out of the results root (experimentRunsDir).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gitInfo, repoRoot, tf } from "@rnnlab/core";
import { confidenceInterval } from "@rnnlab/metrics";
import type { Provenance } from "./provenance";
import { nameOf, paperOf } from "./registry";
import type { ArmOutcome, Curve, PresetName, ReportedNumbers } from "./types";

export const RESULT_SCHEMA_VERSION = 1;
/** Curves keep at most this many points each in a result file. */
export const MAX_CURVE_POINTS = 200;

export interface RunRecord {
  seed: number;
  /** Hash of (config without other arms, this arm's settings, seed): a stale run has another hash. */
  runHash: string;
  final: Record<string, number>;
  curves: Record<string, Curve>;
  extra?: Record<string, unknown>;
  durationSeconds: number;
  resumedFromStep?: number;
  finishedAt: string;
  /** Commit, dirty flag and source hash of the code that wrote the run; absent in files written before it was recorded. */
  provenance?: Provenance;
}

export interface MetricSummary {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one seed. */
  std: number;
  n: number;
  /**
   * Standard error of the mean, std / sqrt(n); null for one seed. summarise() always sets it, and readResult
   * fills it in for files written before it existed; optional only for summaries built by hand.
   */
  sem?: number | null;
  /** 95% confidence interval of the mean, Student t with n - 1 degrees of freedom; null for one seed (set as sem is). */
  ci95?: [number, number] | null;
}

export interface ArmResult {
  runs: Record<string, RunRecord>;
  summary: Record<string, MetricSummary>;
}

export interface Environment {
  gitCommit: string | null;
  gitDirty: boolean | null;
  backend: string;
  tfjsVersion: string;
  nodeVersion: string;
  cpuModel: string;
  cpuCount: number;
  platform: string;
}

export interface ExperimentResult {
  schemaVersion: number;
  id: string;
  paper: string;
  title: string;
  preset: PresetName;
  overrides: string[];
  seeds: number[];
  config: unknown;
  configHash: string;
  arms: Record<string, ArmResult>;
  primaryMetric: { name: string; lowerIsBetter: boolean };
  reported: ReportedNumbers;
  environment: Environment;
  startedAt: string;
  durationSeconds: number;
}

export function resultsRoot(resultsDir?: string): string {
  return path.resolve(resultsDir ?? process.env.RNNLAB_RESULTS_DIR ?? path.join(repoRoot(), "results"));
}

/**
 * The results root a preset writes to when the caller names none: the `cpu` preset (what the notebooks and
 * the committed results use) writes to RNNLAB_RESULTS_DIR or <repo>/results; any other preset, with
 * RNNLAB_RESULTS_DIR unset, to <repo>/results/<preset>/ (git-ignored for smoke), so that a smoke or paper
 * run never collides with the committed cpu results. Returns undefined where the default root applies.
 */
export function presetResultsDir(preset: string | undefined): string | undefined {
  if (preset === undefined || preset === "cpu" || process.env.RNNLAB_RESULTS_DIR) return undefined;
  return path.join(repoRoot(), "results", preset);
}

export function resultPath(id: string, resultsDir?: string): string {
  return path.join(resultsRoot(resultsDir), paperOf(id), `${nameOf(id)}.json`);
}

export function figuresDir(id: string, resultsDir?: string): string {
  return path.join(resultsRoot(resultsDir), paperOf(id), "figures");
}

/**
 * Checkpoints and per-run records: `<results>/<paper>/runs/<experiment>/`, or, with `RNNLAB_RUNS_DIR` set,
 * outside the results root so that partly trained runs survive a fresh clone: `$RNNLAB_RUNS_DIR/<paper>/<experiment>/`
 * for the committed root `<repo>/results`, and `$RNNLAB_RUNS_DIR/@<tag>/<paper>/<experiment>/` for any other
 * root (`@smoke` for results/smoke, `@<name>-<hash of its path>` outside results/), so runs of different
 * results roots (a test's temp dir, a smoke run) never share, and never replace, the committed root's run directories.
 */
export function experimentRunsDir(id: string, resultsDir?: string): string {
  const runs = process.env.RNNLAB_RUNS_DIR;
  if (!runs) return path.join(resultsRoot(resultsDir), paperOf(id), "runs", nameOf(id));
  return path.join(path.resolve(runs), runsTag(resultsRoot(resultsDir)), paperOf(id), nameOf(id));
}

function runsTag(root: string): string {
  const committed = path.join(repoRoot(), "results");
  if (root === committed) return "";
  const rel = path.relative(committed, root);
  if (rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return `@${rel.split(path.sep).join("+")}`;
  return `@${path.basename(root)}-${createHash("sha256").update(root).digest("hex").slice(0, 8)}`;
}

/** One run's directory: `<experimentRunsDir>/<arm>-seed<k>` (`runsDir` replaces experimentRunsDir, as for `rnnlab resume`). */
export function runDirFor(id: string, arm: string, seed: number, resultsDir?: string, runsDir?: string): string {
  return path.join(runsDir ?? experimentRunsDir(id, resultsDir), `${arm}-seed${seed}`);
}

/** Keep at most `maxPoints` of a curve, evenly spaced, always including the last point. */
export function downsampleCurve(curve: Curve, maxPoints = MAX_CURVE_POINTS): Curve {
  const n = Math.min(curve.step.length, curve.value.length);
  if (n <= maxPoints) return { step: curve.step.slice(0, n), value: curve.value.slice(0, n) };
  const step: number[] = [];
  const value: number[] = [];
  for (let i = 0; i < maxPoints; i++) {
    const j = Math.round((i * (n - 1)) / (maxPoints - 1));
    step.push(curve.step[j]);
    value.push(curve.value[j]);
  }
  return { step, value };
}

export function boundOutcome(outcome: ArmOutcome): ArmOutcome {
  const curves: Record<string, Curve> = {};
  for (const [k, c] of Object.entries(outcome.curves)) curves[k] = downsampleCurve(c);
  return { ...outcome, curves };
}

/**
 * Mean, sample standard deviation (n-1; 0 for one seed), standard error and the 95% Student-t interval of
 * the mean (@rnnlab/metrics confidenceInterval; null for one seed) of each final metric over seeds.
 */
export function summarise(runs: RunRecord[]): Record<string, MetricSummary> {
  const out: Record<string, MetricSummary> = {};
  const names = new Set(runs.flatMap((r) => Object.keys(r.final)));
  for (const name of names) {
    const xs = runs.map((r) => r.final[name]).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
    if (xs.length === 0) continue;
    // Mean and sample std are @rnnlab/metrics meanStd's (via confidenceInterval); one seed has std 0 here, no interval.
    const ci = confidenceInterval(xs, 0.95);
    const spread = xs.length > 1;
    out[name] = {
      mean: ci.mean,
      std: spread ? ci.std : 0,
      n: xs.length,
      sem: spread ? ci.std / Math.sqrt(xs.length) : null,
      ci95: spread ? [ci.lower, ci.upper] : null,
    };
  }
  return out;
}

/**
 * Files written before summaries had `sem` and `ci95` get them from their own per-seed finals on reading
 * (summarise over the stored runs; mean, std and n as stored).
 */
function completeSummaries(result: ExperimentResult): ExperimentResult {
  for (const arm of Object.values(result.arms)) {
    if (Object.values(arm.summary ?? {}).every((s) => "ci95" in s && "sem" in s)) continue;
    const fresh = summarise(Object.values(arm.runs));
    for (const [name, s] of Object.entries(arm.summary ?? {})) {
      if (!("ci95" in s)) (s as MetricSummary).ci95 = fresh[name]?.ci95 ?? null;
      if (!("sem" in s)) (s as MetricSummary).sem = fresh[name]?.sem ?? null;
    }
  }
  return result;
}

export function captureEnvironment(): Environment {
  const git = gitInfo();
  const cpus = os.cpus();
  return {
    gitCommit: git.commit,
    gitDirty: git.dirty,
    backend: tf.getBackend() ?? "none",
    tfjsVersion: tf.version.tfjs,
    nodeVersion: process.version,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpuCount: cpus.length,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Read a result file; undefined if absent; an Error naming the file if it is not a valid result. */
export function readResult(file: string): ExperimentResult | undefined {
  if (!fs.existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}). Delete it or rerun with --rerun.`);
  }
  const problems = validateResult(parsed);
  if (problems.length) throw new Error(`${file}: not a valid rnnlab result: ${problems.join("; ")}. Rerun with --rerun.`);
  return completeSummaries(parsed as ExperimentResult);
}

/** Structural check of a result object; returns the problems found (empty when valid). */
export function validateResult(value: unknown): string[] {
  const problems: string[] = [];
  const r = value as Partial<ExperimentResult>;
  if (typeof r !== "object" || r === null) return ["not an object"];
  if (r.schemaVersion !== RESULT_SCHEMA_VERSION) problems.push(`schemaVersion is ${r.schemaVersion}, expected ${RESULT_SCHEMA_VERSION}`);
  for (const k of ["id", "paper", "preset", "configHash", "startedAt"] as const) {
    if (typeof r[k] !== "string") problems.push(`"${k}" missing`);
  }
  if (typeof r.config !== "object" || r.config === null) problems.push(`"config" missing`);
  if (!r.environment || typeof r.environment.backend !== "string") problems.push(`"environment" missing`);
  if (!r.reported || typeof r.reported.values !== "object") problems.push(`"reported" missing`);
  if (!r.arms || typeof r.arms !== "object" || Object.keys(r.arms).length === 0) problems.push(`"arms" missing or empty`);
  else {
    for (const [arm, a] of Object.entries(r.arms)) {
      if (!a.runs || Object.keys(a.runs).length === 0) problems.push(`arm "${arm}" has no runs`);
      for (const [seed, run] of Object.entries(a.runs ?? {})) {
        if (typeof run.runHash !== "string") problems.push(`arm "${arm}" seed ${seed}: no runHash`);
        if (!run.final || typeof run.final !== "object") problems.push(`arm "${arm}" seed ${seed}: no final metrics`);
        else {
          // Numbers, or null where JSON stored a NaN; anything else would break every consumer of the metrics.
          for (const [name, v] of Object.entries(run.final)) {
            if (typeof v !== "number" && v !== null) problems.push(`arm "${arm}" seed ${seed}: final "${name}" is ${JSON.stringify(v)}, not a number`);
          }
        }
        if (run.provenance !== undefined) {
          const p = run.provenance as Partial<Provenance> | null;
          if (typeof p !== "object" || p === null || typeof p.sourceHash !== "string") problems.push(`arm "${arm}" seed ${seed}: provenance has no sourceHash`);
          else if (!(typeof p.gitCommit === "string" || p.gitCommit === null) || !(typeof p.gitDirty === "boolean" || p.gitDirty === null)) {
            problems.push(`arm "${arm}" seed ${seed}: provenance gitCommit/gitDirty malformed`);
          }
        }
        for (const [name, c] of Object.entries(run.curves ?? {})) {
          if (!Array.isArray(c.step) || c.step.length !== c.value?.length) problems.push(`arm "${arm}" seed ${seed}: curve "${name}" malformed`);
          if (c.step.length > MAX_CURVE_POINTS) problems.push(`arm "${arm}" seed ${seed}: curve "${name}" has ${c.step.length} > ${MAX_CURVE_POINTS} points`);
        }
      }
    }
  }
  return problems;
}
