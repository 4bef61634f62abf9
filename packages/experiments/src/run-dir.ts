/**
 * Run directories (runner.ts): `<arm>-seed<k>/` with run.json, and `<arm>-seed<k>.aside-<runHash>/` where an
 * unfinished run of another config waits while a run of this config replaces it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { cleanStaleTempFiles, writeFileAtomic, writeJsonAtomic } from "@rnnlab/core";
import type { ExperimentPlan, PlannedRun, RunDirRecord } from "./plan";
import { resultsRoot } from "./results";

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Files a run directory holds besides its bookkeeping: checkpoints, outcome, logs. */
export function hasProgress(runDir: string): boolean {
  try {
    return fs.readdirSync(runDir).some((f) => f !== "run.json" && !f.endsWith(".tmp"));
  } catch {
    return false;
  }
}

/** Where an unfinished run of another config waits while a run of this config replaces it. */
export function asideDirFor(runDir: string, runHash: string | undefined): string {
  return `${runDir}.aside-${(runHash ?? "unknown").slice(0, 12)}`;
}

/** The results dir as run.json / experiment.json store it: "" for the default root, else the root in use. */
export function storedResultsDir(resultsDir: string | undefined): string {
  return resultsDir ?? (process.env.RNNLAB_RESULTS_DIR ? resultsRoot() : "");
}

/**
 * Create the run directory and write run.json. An existing directory of another config (or any, when not
 * resuming) is not deleted here: the trainer has not yet checked the config's ranges, and a mistyped
 * `--set` must not cost a partly trained run. It is moved aside (`<arm>-seed<k>.aside-<runHash>`);
 * `rollback()` (the new run failed) puts it back unless the new run already saved progress of its own, in
 * which case both stay; `commit()` (the new run finished) deletes it only if it was a finished run.
 */
export function prepareRunDir(
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
