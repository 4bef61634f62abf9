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
 *
 * The pieces, by concern: plan.ts (planExperiment, run hashes, statuses), run-dir.ts (run directories and
 * the aside directories), lanes.ts (training in this process or in child processes), assemble.ts (the
 * result file and its conflict check), resume.ts (what `rnnlab resume <dir>` continues), lock.ts.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { cleanStaleTempFiles, repoRoot, writeFileAtomic, writeJsonAtomic } from "@rnnlab/core";
import { ConfigError, configKeys, type DeepReadonly } from "./config";
import { resultWriter } from "./assemble";
import { trainTodo, type PlannedOptions } from "./lanes";
import { acquireLock, type ExperimentLock } from "./lock";
import { parsePreset, planExperiment, type ExperimentPlan, type InvocationRecord, type PlannedRun, type RunDirRecord, type RunOptions } from "./plan";
import { assertCleanSourceFor, currentProvenance, provenanceRecord, type Provenance } from "./provenance";
import { UsageError } from "./registry";
import { experimentRunsDir, presetResultsDir, type ExperimentResult, type RunRecord } from "./results";
import { resumeTarget } from "./resume";
import { hasProgress, readJson, storedResultsDir } from "./run-dir";

export {
  parsePreset,
  planExperiment,
  resolveExperimentConfig,
  runHashFor,
  type ExperimentPlan,
  type InvocationRecord,
  type PlannedRun,
  type RunDirRecord,
  type RunOptions,
  type RunStatus,
} from "./plan";
export { trainRun } from "./lanes";
export { readInvocation, resultsRootOfRunDir, resumeTarget } from "./resume";

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

/** Temp files of writers killed mid-write (the run directories clean theirs in prepareRunDir), and an unreadable result moved aside. */
function clearForWriting(plan: ExperimentPlan, runsDir: string): void {
  for (const d of [path.dirname(plan.resultFile), runsDir]) cleanStaleTempFiles(d);
  if (plan.unreadableResult && fs.existsSync(plan.resultFile)) {
    // Not a .json name, so `rnnlab report` does not list it as an unreadable result again.
    const aside = `${plan.resultFile}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    fs.renameSync(plan.resultFile, aside);
    process.stderr.write(`rnnlab: ${plan.unreadableResult.split(". ")[0]}; moved to ${aside}, rerunning.\n`);
  }
}

/**
 * Write the invocation `rnnlab resume` repeats; returns the undo. A run that fails before any training (a
 * mistyped --set whose range the trainer rejects) puts the previous one back, so resume keeps repeating the
 * run that worked.
 */
function writeInvocation(id: string, plan: ExperimentPlan, runsDir: string, resultsDir: string | undefined): () => void {
  const invocationFile = path.join(runsDir, "experiment.json");
  const previousInvocation = fs.existsSync(invocationFile) ? fs.readFileSync(invocationFile) : undefined;
  writeJsonAtomic(invocationFile, {
    experimentId: id,
    preset: plan.preset,
    overrides: plan.overrides,
    seeds: plan.seeds,
    arms: plan.arms,
    resultsDir: storedResultsDir(resultsDir),
  } satisfies InvocationRecord);
  return () => {
    if (previousInvocation) writeFileAtomic(invocationFile, previousInvocation);
    else fs.rmSync(invocationFile, { force: true });
  };
}

/** Records of the reused and finished-unrecorded runs (reported as "reused"); returns the runs left to train. */
function collectReused(id: string, plan: ExperimentPlan, records: Map<string, RunRecord>, options: PlannedOptions): PlannedRun[] {
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
  return todo;
}

async function runPlanned(
  id: string,
  plan: ExperimentPlan,
  options: PlannedOptions,
  resume: boolean,
  startedAt: Date,
  lock: ExperimentLock | undefined,
): Promise<ExperimentResult> {
  const readOnly = plan.existing !== undefined && plan.runs.every((r) => r.status === "reused");
  const runsDir = options.runsDir ?? experimentRunsDir(id, options.resultsDir);
  if (!readOnly) clearForWriting(plan, runsDir);
  const restoreInvocation = readOnly ? undefined : writeInvocation(id, plan, runsDir, options.resultsDir);
  const records = new Map<string, RunRecord>();
  const todo = collectReused(id, plan, records, options);
  const writeResult = resultWriter(plan, records, startedAt);
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
    if (!progressed) restoreInvocation?.();
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

/** Continue an interrupted invocation from its run directory (resume.ts resumeTarget). */
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
