/**
 * Planning a run of an experiment (runner.ts): the resolved config and its hash, one runHash per (arm, seed),
 * and what each run needs (reuse, resume, retrain), read from the result file and the run directories.
 */
import * as path from "node:path";
import { configHash, overridesToList, resolveConfig, stableStringify, sha256, type DeepReadonly, type Overrides } from "./config";
import { armNames, getExperiment, UsageError } from "./registry";
import { validateConfig } from "./schemas";
import { presetResultsDir, readResult, resultPath, runDirFor, type ExperimentResult, type RunRecord } from "./results";
import { asideDirFor, hasProgress, readJson } from "./run-dir";
import { PRESET_NAMES, type ExperimentDefinition, type ExperimentProgress, type PresetName } from "./types";

export interface RunOptions {
  /** Default "cpu". */
  preset?: PresetName;
  /** Default: the experiment's seeds for the preset. */
  seeds?: number[];
  /** Restrict to these arms (default: all arms of the config). */
  arms?: string[];
  /** `["train.lr=10"]` or `{"train.lr": 10}`. */
  overrides?: Overrides;
  onProgress?: (event: ExperimentProgress) => void;
  /** Continue from checkpoints of unfinished runs with the same runHash (default true). */
  resume?: boolean;
  /** Retrain every requested run, even if a valid one exists (default false). */
  rerun?: boolean;
  /** Results root (default RNNLAB_RESULTS_DIR or <repo>/results). */
  resultsDir?: string;
  /** Train up to this many runs at once in child processes (default 1: in this process). */
  jobs?: number;
  /** Write into the committed results root although the source has uncommitted changes (recorded per run). */
  allowDirty?: boolean;
  /** The experiment's run-directory folder (default experimentRunsDir: RNNLAB_RUNS_DIR or under the results root). */
  runsDir?: string;
}

export type RunStatus = "reused" | "finished-unrecorded" | "missing" | "stale" | "partial" | "forced";

export interface PlannedRun {
  arm: string;
  seed: number;
  runHash: string;
  runDir: string;
  status: RunStatus;
  /** For reused / finished-unrecorded runs: the record. */
  record?: RunRecord;
  /**
   * Set when the run directory holds an unfinished run of another config that this run would replace: it
   * is moved aside (not deleted) until this run finishes, and put back if this run fails before training.
   */
  replaces?: string;
}

export interface ExperimentPlan {
  definition: ExperimentDefinition;
  preset: PresetName;
  config: DeepReadonly<object>;
  configHash: string;
  overrides: string[];
  seeds: number[];
  arms: string[];
  resultFile: string;
  existing?: ExperimentResult;
  /** startedAt of the result file on disk when planning (also when it is being replaced with --rerun). */
  resultStartedAtWhenPlanned?: string;
  /** With --rerun: why the result file on disk could not be read (it is moved aside, not overwritten). */
  unreadableResult?: string;
  runs: PlannedRun[];
}

/** The invocation stored next to the runs, so `rnnlab resume <dir>` can repeat it. */
export interface InvocationRecord {
  experimentId: string;
  preset: PresetName;
  overrides: string[];
  seeds: number[];
  arms: string[];
  resultsDir: string;
}

export interface RunDirRecord extends InvocationRecord {
  arm: string;
  seed: number;
  runHash: string;
  configHash: string;
  config: unknown;
  startedAt: string;
}

export function parsePreset(value: string | undefined): PresetName {
  const v = value ?? "cpu";
  if ((PRESET_NAMES as readonly string[]).includes(v)) return v as PresetName;
  throw new UsageError(`Unknown preset "${v}". Use one of: ${PRESET_NAMES.join(", ")}.`);
}

/** Resolve an experiment's config for a preset and overrides (frozen), with its hash. */
export function resolveExperimentConfig(
  id: string,
  preset: PresetName = "cpu",
  overrides?: Overrides,
): { definition: ExperimentDefinition; config: DeepReadonly<object>; configHash: string } {
  const definition = getExperiment(id);
  const config = resolveConfig(definition.base, definition.presets[preset], overrides, preset);
  if (definition.schema) {
    // Read-only: the config hashed and trained is `config` itself, not zod's parsed copy.
    const presetConfig = overrides ? () => resolveConfig(definition.base, definition.presets[preset], undefined, preset) : () => config;
    validateConfig(id, preset, definition.schema, config, presetConfig);
  }
  return { definition, config, configHash: configHash(config) };
}

export function runHashFor(id: string, config: DeepReadonly<object>, arm: string, seed: number): string {
  const { arms, ...shared } = config as { arms?: Record<string, unknown> };
  return sha256(stableStringify({ experiment: id, shared, arm, armSettings: arms?.[arm] ?? null, seed }));
}

/** Work out what `runExperiment` would do, without training. */
export function planExperiment(id: string, options: RunOptions = {}): ExperimentPlan {
  const preset = parsePreset(options.preset);
  options = { ...options, resultsDir: options.resultsDir ?? presetResultsDir(preset) };
  const { definition, config, configHash: hash } = resolveExperimentConfig(id, preset, options.overrides);
  const allArms = armNames(definition, config);
  const arms = options.arms?.length ? options.arms : allArms;
  for (const arm of arms) {
    if (!allArms.includes(arm)) throw new UsageError(`${id}: unknown arm "${arm}". Arms: ${allArms.join(", ")}.`);
  }
  const seeds = options.seeds?.length ? options.seeds : definition.defaultSeeds[preset];
  for (const s of seeds) {
    if (!Number.isInteger(s) || s < 0) throw new UsageError(`--seeds: "${s}" is not a non-negative integer.`);
  }
  const resultFile = resultPath(id, options.resultsDir);
  let existing: ExperimentResult | undefined;
  let unreadableResult: string | undefined;
  try {
    existing = readResult(resultFile);
  } catch (e) {
    // --rerun replaces the file anyway: an unreadable one is moved aside (runExperiment) instead of blocking.
    if (!options.rerun) throw e;
    unreadableResult = (e as Error).message;
  }
  if (existing && existing.preset !== preset && !options.rerun) {
    throw new UsageError(
      `${resultFile} holds a "${existing.preset}"-preset result; running preset "${preset}" would replace it. ` +
        `Pass --rerun to replace it, or write elsewhere with RNNLAB_RESULTS_DIR=<dir> (--results-dir <dir>).`,
    );
  }
  const runs: PlannedRun[] = [];
  for (const arm of arms) {
    for (const seed of seeds) {
      const runHash = runHashFor(id, config, arm, seed);
      const runDir = runDirFor(id, arm, seed, options.resultsDir, options.runsDir);
      const planned: PlannedRun = { arm, seed, runHash, runDir, status: "missing" };
      const prior = existing?.arms[arm]?.runs[String(seed)];
      const outcome = readJson<RunRecord>(path.join(runDir, "outcome.json"));
      const runRecord = readJson<RunDirRecord>(path.join(runDir, "run.json"));
      if (options.rerun) planned.status = "forced";
      else if (prior && prior.runHash === runHash) {
        planned.status = "reused";
        planned.record = prior;
      } else if (outcome && outcome.runHash === runHash) {
        planned.status = "finished-unrecorded";
        planned.record = outcome;
      } else if (runRecord && runRecord.runHash === runHash) planned.status = "partial";
      else if (readJson<RunDirRecord>(path.join(asideDirFor(runDir, runHash), "run.json"))?.runHash === runHash) {
        planned.status = "partial"; // set aside by a run of another config that never finished; prepareRunDir swaps it back
      } else if (prior) planned.status = "stale";
      if (runRecord && runRecord.runHash !== runHash && outcome?.runHash !== runRecord.runHash && hasProgress(runDir)) {
        planned.replaces =
          `an unfinished run of another config (--set ${runRecord.overrides.join(" ") || "(none)"}, preset ${runRecord.preset}); ` +
          `kept aside as ${path.basename(asideDirFor(runDir, runRecord.runHash))}, resumed when that config runs again`;
      }
      runs.push(planned);
    }
  }
  return {
    definition,
    preset,
    config,
    configHash: hash,
    overrides: overridesToList(options.overrides),
    seeds,
    arms,
    resultFile,
    existing: existing && (existing.preset === preset || !options.rerun) ? existing : undefined,
    resultStartedAtWhenPlanned: existing?.startedAt,
    ...(unreadableResult ? { unreadableResult } : {}),
    runs,
  };
}
