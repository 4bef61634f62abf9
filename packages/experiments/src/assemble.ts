/**
 * The result file (runner.ts): assembled from the existing file's still-valid runs plus the new records, and
 * written only over the file that was planned over (or the one this process wrote last).
 */
import { writeJsonAtomic } from "@rnnlab/core";
import { runHashFor, type ExperimentPlan } from "./plan";
import { armNames, paperOf } from "./registry";
import { captureEnvironment, readResult, RESULT_SCHEMA_VERSION, summarise, type ArmResult, type ExperimentResult, type RunRecord } from "./results";

/** Build the result object from the existing file's still-valid runs plus the new records. */
export function assembleResult(
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

/**
 * The writer runPlanned calls after every finished run: it writes the assembled result atomically.
 * Never overwrite a result another process wrote while this one trained (e.g. a run of a newer config
 * in the same results directory): the file must still be the one planned over, or the one written here.
 */
export function resultWriter(plan: ExperimentPlan, records: Map<string, RunRecord>, startedAt: Date): () => ExperimentResult {
  let expectedStartedAt = plan.resultStartedAtWhenPlanned;
  return () => {
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
}
