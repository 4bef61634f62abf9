/**
 * Training the planned runs (runner.ts): one in this process (trainRun), or up to `jobs` at once, each in a
 * child process (`worker.ts`) that the experiment lock lists as a worker.
 */
import { fork } from "node:child_process";
import * as path from "node:path";
import { Rng, writeJsonAtomic } from "@rnnlab/core";
import type { ExperimentLock } from "./lock";
import type { ExperimentPlan, PlannedRun, RunOptions } from "./plan";
import { currentProvenance, provenanceRecord, type Provenance } from "./provenance";
import { boundOutcome, readResult, type ExperimentResult, type RunRecord } from "./results";
import { prepareRunDir } from "./run-dir";
import type { ArmOutcome, ExperimentProgress } from "./types";

export type PlannedOptions = RunOptions & { provenance?: Provenance };

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

export async function trainTodo(
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
