/**
 * `rnnlab resume <dir>` (runner.ts resumeExperiment): the invocation stored next to the runs, and the
 * results root and run-directory folder it continues in.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { InvocationRecord } from "./plan";
import { nameOf, paperOf, UsageError } from "./registry";

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
