/**
 * runExperiment(): resolve the config, decide per (arm, seed) whether an existing run can be reused,
 * train the missing or stale ones (in this process, or in `jobs` child processes), and write the
 * result file atomically after every finished run.
 *
 * Layout under the results root (RNNLAB_RESULTS_DIR or <repo>/results):
 *   <paper>/<experiment>.json                      the result (committed when it matters)
 *   <paper>/runs/<experiment>/experiment.json      the invocation (preset, seeds, overrides), for `rnnlab resume`
 *   <paper>/runs/<experiment>/<arm>-seed<k>/       run.json (config + hashes), outcome.json when finished,
 *                                                  and the trainer's checkpoints (git-ignored)
 *   <paper>/runs/<experiment>/<arm>-seed<k>.aside-<runHash>/  an unfinished run of another config, moved
 *                                                  aside (never deleted) by a run that replaced it
 *   <paper>/runs/<experiment>/experiment.lock      held by the running process and its lane workers (lock.ts)
 * A run is identified by its runHash = sha256 of (experiment id, config without the other arms' settings,
 * this arm's settings, seed). Reuse needs an equal runHash; anything else is stale and retrained.
 * With RNNLAB_RUNS_DIR set, `<paper>/runs/<experiment>/` moves out of the results root (results.ts experimentRunsDir).
 * Every run records its provenance (provenance.ts); the committed results root refuses a dirty source tree.
 */
import { fork } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cleanStaleTempFiles, repoRoot, Rng, writeFileAtomic, writeJsonAtomic } from "@rnnlab/core";
import {
  ConfigError,
  configHash,
  configKeys,
  overridesToList,
  resolveConfig,
  stableStringify,
  sha256,
  type DeepReadonly,
  type Overrides,
} from "./config";
import { acquireLock, type ExperimentLock } from "./lock";
import { assertCleanSourceFor, currentProvenance, provenanceRecord, type Provenance } from "./provenance";
import { armNames, getExperiment, nameOf, paperOf, UsageError } from "./registry";
import {
  boundOutcome,
  captureEnvironment,
  experimentRunsDir,
  presetResultsDir,
  readResult,
  RESULT_SCHEMA_VERSION,
  resultPath,
  resultsRoot,
  runDirFor,
  summarise,
  type ArmResult,
  type ExperimentResult,
  type RunRecord,
} from "./results";
import { PRESET_NAMES, type ArmOutcome, type ExperimentDefinition, type ExperimentProgress, type PresetName } from "./types";

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
  return { definition, config, configHash: configHash(config) };
}

export function runHashFor(id: string, config: DeepReadonly<object>, arm: string, seed: number): string {
  const { arms, ...shared } = config as { arms?: Record<string, unknown> };
  return sha256(stableStringify({ experiment: id, shared, arm, armSettings: arms?.[arm] ?? null, seed }));
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
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

/** Build the result object from the existing file's still-valid runs plus the new records. */
function assembleResult(
  plan: ExperimentPlan,
  records: Map<string, RunRecord>,
  startedAt: Date,
): ExperimentResult {
  const { definition, config } = plan;
  const validArms = armNames(definition, config);
  const arms: Record<string, ArmResult> = {};
  const addRun = (arm: string, record: RunRecord) => {
    arms[arm] ??= { runs: {}, summary: {} };
    arms[arm].runs[String(record.seed)] = record;
  };
  // Runs of the existing file (same preset) that are still valid, e.g. seeds not requested this time,
  // are kept; retrained runs replace theirs below.
  if (plan.existing) {
    for (const [arm, a] of Object.entries(plan.existing.arms)) {
      if (!validArms.includes(arm)) continue;
      for (const run of Object.values(a.runs)) {
        if (run.runHash === runHashFor(definition.id, config, arm, run.seed)) addRun(arm, run);
      }
    }
  }
  for (const run of plan.runs) {
    const record = records.get(`${run.arm}/${run.seed}`);
    if (record) addRun(run.arm, record);
  }
  const sortedArms: Record<string, ArmResult> = {};
  for (const arm of validArms) {
    if (!arms[arm]) continue;
    const runs = Object.values(arms[arm].runs).sort((a, b) => a.seed - b.seed);
    sortedArms[arm] = { runs: Object.fromEntries(runs.map((r) => [String(r.seed), r])), summary: summarise(runs) };
  }
  const seeds = [...new Set(Object.values(sortedArms).flatMap((a) => Object.values(a.runs).map((r) => r.seed)))].sort((a, b) => a - b);
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: definition.id,
    paper: paperOf(definition.id),
    title: definition.title,
    preset: plan.preset,
    overrides: plan.overrides,
    seeds,
    config,
    configHash: plan.configHash,
    arms: sortedArms,
    primaryMetric: definition.primaryMetric,
    reported: definition.reported,
    environment: captureEnvironment(),
    startedAt: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
  };
}

/** Train one (arm, seed) in this process; returns its record (also written to <runDir>/outcome.json). */
export async function trainRun(
  plan: Pick<ExperimentPlan, "definition" | "preset" | "config" | "configHash" | "overrides" | "seeds" | "arms">,
  run: Pick<PlannedRun, "arm" | "seed" | "runHash" | "runDir" | "status">,
  options: {
    resume: boolean;
    resultsDir?: string;
    onProgress?: (e: ExperimentProgress) => void;
    runIndex: number;
    runCount: number;
    /** Of the process that planned the run (default: this process's). */
    provenance?: Provenance;
  },
): Promise<RunRecord> {
  const { definition } = plan;
  const prepared = prepareRunDir(plan, run, options.resume, options.resultsDir);
  const started = Date.now();
  const emit = (kind: ExperimentProgress["kind"], p: { step: number; totalSteps: number; split: string; metrics: Record<string, number> }) =>
    options.onProgress?.({
      ...p,
      kind,
      experimentId: definition.id,
      arm: run.arm,
      seed: run.seed,
      runIndex: options.runIndex,
      runCount: options.runCount,
    });
  emit("start", { step: 0, totalSteps: 0, split: "train", metrics: {} });
  let outcome: ArmOutcome;
  try {
    outcome = await definition.runArm({
      experimentId: definition.id,
      preset: plan.preset,
      config: plan.config,
      configHash: plan.configHash,
      arm: run.arm,
      seed: run.seed,
      rng: new Rng(run.seed),
      runDir: run.runDir,
      resume: options.resume && run.status === "partial",
      onProgress: (p) => emit("progress", p),
    });
  } catch (e) {
    prepared.rollback();
    throw e;
  }
  const bounded = boundOutcome(outcome);
  const record: RunRecord = {
    seed: run.seed,
    runHash: run.runHash,
    final: bounded.final,
    curves: bounded.curves,
    ...(bounded.extra ? { extra: bounded.extra } : {}),
    durationSeconds: (Date.now() - started) / 1000,
    ...(outcome.resumedFromStep ? { resumedFromStep: outcome.resumedFromStep } : {}),
    finishedAt: new Date().toISOString(),
    provenance: provenanceRecord(options.provenance ?? currentProvenance()),
  };
  writeJsonAtomic(path.join(run.runDir, "outcome.json"), record);
  prepared.commit();
  emit("end", { step: 0, totalSteps: 0, split: "train", metrics: record.final });
  return record;
}

/** Files a run directory holds besides its bookkeeping: checkpoints, outcome, logs. */
function hasProgress(runDir: string): boolean {
  try {
    return fs.readdirSync(runDir).some((f) => f !== "run.json" && !f.endsWith(".tmp"));
  } catch {
    return false;
  }
}

/** Where an unfinished run of another config waits while a run of this config replaces it. */
function asideDirFor(runDir: string, runHash: string | undefined): string {
  return `${runDir}.aside-${(runHash ?? "unknown").slice(0, 12)}`;
}

/**
 * Create the run directory and write run.json. An existing directory of another config (or any, when not
 * resuming) is not deleted here: the trainer has not yet checked the config's ranges, and a mistyped
 * `--set` must not cost a partly trained run. It is moved aside (`<arm>-seed<k>.aside-<runHash>`);
 * `rollback()` (the new run failed) puts it back unless the new run already saved progress of its own, in
 * which case both stay; `commit()` (the new run finished) deletes it only if it was a finished run.
 */
function prepareRunDir(
  plan: Pick<ExperimentPlan, "definition" | "preset" | "config" | "configHash" | "overrides" | "seeds" | "arms">,
  run: Pick<PlannedRun, "arm" | "seed" | "runHash" | "runDir" | "status">,
  resume: boolean,
  resultsDir: string | undefined,
): { commit: () => void; rollback: () => void } {
  let previous = readJson<RunDirRecord>(path.join(run.runDir, "run.json"));
  let aside: string | undefined;
  const waiting = asideDirFor(run.runDir, run.runHash);
  if (resume && run.status === "partial" && previous?.runHash !== run.runHash && readJson<RunDirRecord>(path.join(waiting, "run.json"))?.runHash === run.runHash) {
    // This config's unfinished run was set aside by another config's run: swap them.
    if (fs.existsSync(run.runDir)) {
      const other = asideDirFor(run.runDir, previous?.runHash);
      fs.rmSync(other, { recursive: true, force: true });
      fs.renameSync(run.runDir, other);
    }
    fs.renameSync(waiting, run.runDir);
    previous = readJson<RunDirRecord>(path.join(run.runDir, "run.json"));
  }
  const keepContents = resume && run.status === "partial" && previous?.runHash === run.runHash;
  if (!keepContents && fs.existsSync(run.runDir)) {
    if (hasProgress(run.runDir)) {
      aside = asideDirFor(run.runDir, previous?.runHash);
      fs.rmSync(aside, { recursive: true, force: true });
      fs.renameSync(run.runDir, aside);
    } else {
      fs.rmSync(run.runDir, { recursive: true, force: true });
    }
  }
  fs.mkdirSync(run.runDir, { recursive: true });
  cleanStaleTempFiles(run.runDir);
  const record: RunDirRecord = {
    experimentId: plan.definition.id,
    preset: plan.preset,
    overrides: plan.overrides,
    seeds: plan.seeds,
    arms: plan.arms,
    resultsDir: storedResultsDir(resultsDir),
    arm: run.arm,
    seed: run.seed,
    runHash: run.runHash,
    configHash: plan.configHash,
    config: plan.config,
    startedAt: previous?.runHash === run.runHash && resume ? previous.startedAt : new Date().toISOString(),
  };
  const runJson = path.join(run.runDir, "run.json");
  const previousRunJson = keepContents && fs.existsSync(runJson) ? fs.readFileSync(runJson) : undefined;
  writeJsonAtomic(runJson, record);
  return {
    commit: () => {
      // A finished run set aside is superseded (its numbers were in the result this run replaces); an
      // unfinished one stays, for when its config is run again (planExperiment finds it as "partial").
      if (aside && fs.existsSync(path.join(aside, "outcome.json"))) fs.rmSync(aside, { recursive: true, force: true });
    },
    rollback: () => {
      if (previousRunJson) writeFileAtomic(runJson, previousRunJson);
      if (!aside || !fs.existsSync(aside) || hasProgress(run.runDir)) return;
      fs.rmSync(run.runDir, { recursive: true, force: true });
      fs.renameSync(aside, run.runDir);
    },
  };
}

/** Train one run in a child process (`worker.ts`), forwarding its progress events. */
function trainInChild(
  plan: ExperimentPlan,
  run: PlannedRun,
  options: {
    resume: boolean;
    resultsDir?: string;
    runsDir?: string;
    provenance?: Provenance;
    onProgress?: (e: ExperimentProgress) => void;
    runIndex: number;
    runCount: number;
    lock?: ExperimentLock;
  },
): Promise<RunRecord> {
  return new Promise((resolve, reject) => {
    const request = {
      id: plan.definition.id,
      preset: plan.preset,
      overrides: plan.overrides,
      seeds: plan.seeds,
      arms: plan.arms,
      arm: run.arm,
      seed: run.seed,
      status: run.status,
      resume: options.resume,
      resultsDir: options.resultsDir,
      runsDir: options.runsDir,
      provenance: options.provenance,
      expectedConfigHash: plan.configHash,
      runIndex: options.runIndex,
      runCount: options.runCount,
    };
    const child = fork(path.join(__dirname, "worker.ts"), [JSON.stringify(request)], {
      execArgv: ["--require", require.resolve("tsx/cjs")],
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    // The lock lists the worker: if this process dies, the run stays locked until the worker has stopped too.
    if (child.pid !== undefined) options.lock?.addWorker(child.pid);
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let record: RunRecord | undefined;
    child.on("message", (m: { type: string; event?: ExperimentProgress; record?: RunRecord; error?: string }) => {
      if (m.type === "progress" && m.event) options.onProgress?.(m.event);
      if (m.type === "done") record = m.record;
      if (m.type === "error") stderr = m.error ?? stderr;
    });
    child.on("exit", (code, signal) => {
      if (child.pid !== undefined) options.lock?.removeWorker(child.pid);
      if (code === 0 && record) resolve(record);
      else reject(new Error(`${plan.definition.id} ${run.arm} seed ${run.seed} failed in a child process (exit ${code ?? signal}):\n${stderr.trim()}`));
    });
  });
}

/**
 * Run (or reuse) every requested (arm, seed) of an experiment and write its result file.
 * Returns the result object as written.
 */
export async function runExperiment(id: string, options: RunOptions = {}): Promise<ExperimentResult> {
  const startedAt = new Date();
  // Presets other than cpu default to <repo>/results/<preset>/ (see presetResultsDir).
  options = { ...options, resultsDir: options.resultsDir ?? presetResultsDir(parsePreset(options.preset)) };
  const plan = planExperiment(id, options);
  if (plan.definition.unavailable) {
    throw new UsageError(`${id} cannot run yet: ${plan.definition.unavailable}`);
  }
  const resume = options.resume ?? true;
  // A result whose runs are all reused is only read (runPlanned returns it without writing), so it
  // needs no lock: a notebook can re-execute while another process trains this experiment.
  const readOnly = plan.existing !== undefined && plan.runs.every((r) => r.status === "reused");
  let provenance: Provenance | undefined;
  if (!readOnly) {
    const p = currentProvenance(repoRoot(), { allowDirty: options.allowDirty });
    assertCleanSourceFor(options.resultsDir, { allowDirty: options.allowDirty, provenance: p });
    provenance = provenanceRecord(p);
  }
  const lock = readOnly ? undefined : lockExperiment(id, options.resultsDir, options.runsDir);
  try {
    return await runPlanned(id, plan, { ...options, provenance }, resume, startedAt, lock);
  } finally {
    lock?.release();
  }
}

/**
 * One `rnnlab run` per experiment and results directory at a time: a second one would race on the run
 * directories and the result file. The lock (lock.ts) covers this process and its lane workers.
 */
export function lockExperiment(id: string, resultsDir: string | undefined, runsDir?: string): ExperimentLock {
  const dir = runsDir ?? experimentRunsDir(id, resultsDir);
  return acquireLock(path.join(dir, "experiment.lock"), id, `rnnlab resume ${dir}`);
}

/** The results dir as run.json / experiment.json store it: "" for the default root, else the root in use. */
function storedResultsDir(resultsDir: string | undefined): string {
  return resultsDir ?? (process.env.RNNLAB_RESULTS_DIR ? resultsRoot() : "");
}

type PlannedOptions = RunOptions & { provenance?: Provenance };

async function runPlanned(
  id: string,
  plan: ExperimentPlan,
  options: PlannedOptions,
  resume: boolean,
  startedAt: Date,
  lock: ExperimentLock | undefined,
): Promise<ExperimentResult> {
  const readOnly = plan.existing !== undefined && plan.runs.every((r) => r.status === "reused");
  // Temp files of writers killed mid-write (the run directories clean theirs in prepareRunDir).
  const runsDir = options.runsDir ?? experimentRunsDir(id, options.resultsDir);
  if (!readOnly) for (const d of [path.dirname(plan.resultFile), runsDir]) cleanStaleTempFiles(d);
  if (plan.unreadableResult && fs.existsSync(plan.resultFile)) {
    // Not a .json name, so `rnnlab report` does not list it as an unreadable result again.
    const aside = `${plan.resultFile}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    fs.renameSync(plan.resultFile, aside);
    process.stderr.write(`rnnlab: ${plan.unreadableResult.split(". ")[0]}; moved to ${aside}, rerunning.\n`);
  }
  // The invocation `rnnlab resume` repeats. A run that fails before any training (a mistyped --set whose
  // range the trainer rejects) puts the previous one back, so resume keeps repeating the run that worked.
  const invocationFile = path.join(runsDir, "experiment.json");
  const previousInvocation = !readOnly && fs.existsSync(invocationFile) ? fs.readFileSync(invocationFile) : undefined;
  if (!readOnly) writeJsonAtomic(invocationFile, {
    experimentId: id,
    preset: plan.preset,
    overrides: plan.overrides,
    seeds: plan.seeds,
    arms: plan.arms,
    resultsDir: storedResultsDir(options.resultsDir),
  } satisfies InvocationRecord);

  const records = new Map<string, RunRecord>();
  const todo: PlannedRun[] = [];
  for (const run of plan.runs) {
    if (run.record && (run.status === "reused" || run.status === "finished-unrecorded")) {
      records.set(`${run.arm}/${run.seed}`, run.record);
      options.onProgress?.({
        kind: "reused",
        experimentId: id,
        arm: run.arm,
        seed: run.seed,
        step: 0,
        totalSteps: 0,
        split: "train",
        metrics: run.record.final,
        runIndex: -1,
        runCount: 0,
      });
    } else todo.push(run);
  }
  // Never overwrite a result another process wrote while this one trained (e.g. a run of a newer config
  // in the same results directory): the file must still be the one planned over, or the one written here.
  let expectedStartedAt = plan.resultStartedAtWhenPlanned;
  const writeResult = () => {
    const result = assembleResult(plan, records, startedAt);
    let onDisk: ExperimentResult | undefined;
    try {
      onDisk = readResult(plan.resultFile);
    } catch {
      onDisk = undefined; // an unreadable file is replaced
    }
    if (onDisk && onDisk.startedAt !== expectedStartedAt) {
      const aside = plan.resultFile.replace(/\.json$/, `.conflict-${process.pid}.json`);
      writeJsonAtomic(aside, result);
      throw new Error(
        `${plan.resultFile} was rewritten by another run (started ${onDisk.startedAt}, config ${onDisk.configHash.slice(0, 12)}) ` +
          `while this one trained; it was left as it is and this run's result went to ${aside}. Finished runs are kept in their run directories.`,
      );
    }
    writeJsonAtomic(plan.resultFile, result);
    expectedStartedAt = result.startedAt;
    return result;
  };
  if (todo.length === 0) {
    // Everything reused: rewrite only if the file lacks some of the runs (e.g. finished-unrecorded ones).
    if (plan.existing && plan.runs.every((r) => r.status === "reused")) return plan.existing;
    return writeResult();
  }
  try {
    return await trainTodo(plan, todo, records, options, resume, writeResult, lock);
  } catch (e) {
    const progressed = todo.some(
      (run) => records.has(`${run.arm}/${run.seed}`) || (readJson<RunDirRecord>(path.join(run.runDir, "run.json"))?.runHash === run.runHash && hasProgress(run.runDir)),
    );
    if (!progressed) {
      if (previousInvocation) writeFileAtomic(invocationFile, previousInvocation);
      else fs.rmSync(invocationFile, { force: true });
    }
    throw progressed ? e : asConfigError(e, plan.config);
  }
}

/**
 * A trainer's range check (`config.hiddenSize=0 must be an integer >= 1`) that fails before any training is
 * a configuration error: reported as one (CLI exit 2) under the `--set` key(s) the field can come from.
 * The trainers check ranges themselves until one schema serves config and trainer alike (issue 16).
 */
function asConfigError(e: unknown, config: DeepReadonly<object>): unknown {
  const message = e instanceof Error ? e.message : String(e);
  const m = /(?:^|\s)(?:config\.)?([A-Za-z][\w.]*)=(\S*) must be ([^\n]*)/m.exec(message);
  if (!m) return e;
  const field = m[1].split(".").at(-1)!;
  const keys = configKeys(config).filter((k) => k.split(".").at(-1) === field);
  if (keys.length === 0) return e;
  return new ConfigError(`--set ${keys.join(" / ")}: ${m[2]} must be ${m[3]}`);
}

async function trainTodo(
  plan: ExperimentPlan,
  todo: PlannedRun[],
  records: Map<string, RunRecord>,
  options: PlannedOptions,
  resume: boolean,
  writeResult: () => ExperimentResult,
  lock: ExperimentLock | undefined,
): Promise<ExperimentResult> {
  const jobs = Math.max(1, Math.min(options.jobs ?? 1, todo.length));
  const runOne = async (run: PlannedRun, runIndex: number) => {
    const opts = { resume, resultsDir: options.resultsDir, provenance: options.provenance, onProgress: options.onProgress, runIndex, runCount: todo.length };
    const record = jobs > 1 ? await trainInChild(plan, run, { ...opts, runsDir: options.runsDir, lock }) : await trainRun(plan, run, opts);
    records.set(`${run.arm}/${run.seed}`, record);
    writeResult();
  };
  if (jobs === 1) {
    for (let i = 0; i < todo.length; i++) await runOne(todo[i], i);
  } else {
    let next = 0;
    const failures: Error[] = [];
    const lane = async () => {
      while (next < todo.length) {
        const i = next++;
        try {
          await runOne(todo[i], i);
        } catch (e) {
          failures.push(e as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: jobs }, lane));
    if (failures.length) throw failures[0];
  }
  return readResult(plan.resultFile)!;
}

/** Find the invocation for `rnnlab resume <dir>`: an experiment's runs dir or one arm-seed run dir. */
export function readInvocation(dir: string): InvocationRecord {
  const abs = path.resolve(dir);
  const candidates = [path.join(abs, "run.json"), path.join(abs, "experiment.json")];
  const unreadable: string[] = [];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    try {
      const record = JSON.parse(fs.readFileSync(file, "utf8")) as InvocationRecord;
      if (typeof record?.experimentId === "string") return record;
      unreadable.push(`${file} has no experimentId`);
    } catch (e) {
      unreadable.push(`${file} is not valid JSON (${(e as Error).message})`);
    }
  }
  if (unreadable.length) {
    throw new UsageError(
      `${dir}: cannot resume: ${unreadable.join("; ")}. Repeat the original \`rnnlab run <id> ...\` (the run directories and ` +
        `checkpoints are kept and continued), or restore the file.`,
    );
  }
  throw new UsageError(
    `${dir}: not an rnnlab run directory (no run.json or experiment.json). ` +
      `Run directories look like results/<paper>/runs/<experiment>/<arm>-seed<k>/.`,
  );
}

/** The results root above `<root>/<paper>/runs/<experiment>[/<arm>-seed<k>]`. */
export function resultsRootOfRunDir(dir: string): string {
  const abs = path.resolve(dir);
  const experimentDir = fs.existsSync(path.join(abs, "experiment.json")) ? abs : path.dirname(abs);
  return path.dirname(path.dirname(path.dirname(experimentDir)));
}

/**
 * What `rnnlab resume <dir>` continues: the invocation, its results dir (undefined: the preset's default)
 * and the experiment's run-directory folder. Under `<results>/<paper>/runs/<experiment>/` the results root
 * is the one above; elsewhere (RNNLAB_RUNS_DIR) it is the resultsDir stored in run.json / experiment.json.
 */
export function resumeTarget(dir: string): { invocation: InvocationRecord; resultsDir: string | undefined; runsDir: string } {
  const invocation = readInvocation(dir);
  const abs = path.resolve(dir);
  const runsDir = fs.existsSync(path.join(abs, "experiment.json")) ? abs : path.dirname(abs);
  const derived = resultsRootOfRunDir(dir);
  const id = invocation.experimentId;
  if (path.join(derived, paperOf(id), "runs", nameOf(id)) === runsDir) return { invocation, resultsDir: derived, runsDir };
  if (typeof invocation.resultsDir !== "string") {
    throw new UsageError(`${dir}: its run.json / experiment.json records no resultsDir, and the directory is not under <results>/<paper>/runs/. Repeat the original \`rnnlab run ${id} ...\` with RNNLAB_RUNS_DIR set as it was.`);
  }
  return { invocation, resultsDir: invocation.resultsDir === "" ? undefined : invocation.resultsDir, runsDir };
}

/** Continue an interrupted invocation from its run directory. */
export async function resumeExperiment(
  dir: string,
  options: Pick<RunOptions, "onProgress" | "jobs" | "allowDirty"> = {},
): Promise<ExperimentResult> {
  const { invocation: inv, resultsDir, runsDir } = resumeTarget(dir);
  return runExperiment(inv.experimentId, {
    preset: inv.preset,
    overrides: inv.overrides,
    seeds: inv.seeds,
    arms: inv.arms,
    resultsDir,
    runsDir,
    resume: true,
    ...options,
  });
}

export { ConfigError };
