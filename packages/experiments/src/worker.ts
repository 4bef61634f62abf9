/**
 * Child-process entry for `runExperiment(..., {jobs: N})`: trains one (arm, seed) and reports progress
 * and the finished record to the parent over IPC. It is an entry point, so it selects the backend.
 */
import { Worker } from "node:worker_threads";
import { selectBackend } from "@rnnlab/core";
import "./experiments";
import { resolveExperimentConfig, runHashFor, trainRun, type RunStatus } from "./runner";
import { runDirFor } from "./results";
import type { Provenance } from "./provenance";
import type { PresetName } from "./types";

interface WorkerRequest {
  id: string;
  preset: PresetName;
  overrides: string[];
  seeds: number[];
  arms: string[];
  arm: string;
  seed: number;
  status: RunStatus;
  resume: boolean;
  resultsDir?: string;
  /** The experiment's run-directory folder when the parent was given one (`rnnlab resume`). */
  runsDir?: string;
  /** The parent's: one commit, dirty flag and source hash for every run of an invocation. */
  provenance?: Provenance;
  expectedConfigHash: string;
  runIndex: number;
  runCount: number;
}

/**
 * A worker must not outlive its parent (kill -9 of `rnnlab run --jobs`): it would keep training and writing
 * checkpoints into run directories that a later `resume` trains too. Two guards: the IPC channel closing
 * (the parent died or disconnected), and, because a training loop can keep this event loop busy for
 * minutes, a watchdog thread that sees the parent pid change and kills this process. Checkpoints are
 * written atomically, so a kill at any point leaves the last complete one.
 */
let finishing = false;
function stopWithParent(): void {
  const parent = process.ppid;
  process.on("disconnect", () => {
    if (finishing) return;
    process.stderr.write(`rnnlab worker ${process.pid}: the parent process ${parent} is gone; stopping.\n`);
    process.exit(1);
  });
  const watchdog = new Worker(
    `const { workerData } = require("node:worker_threads");
     setInterval(() => { if (process.ppid !== workerData.parent) process.kill(workerData.self, "SIGKILL"); }, 200);`,
    { eval: true, workerData: { parent, self: process.pid } },
  );
  watchdog.unref();
}

async function main(): Promise<void> {
  stopWithParent();
  const request = JSON.parse(process.argv[2]) as WorkerRequest;
  await selectBackend();
  const { definition, config, configHash } = resolveExperimentConfig(request.id, request.preset, request.overrides);
  if (configHash !== request.expectedConfigHash) {
    throw new Error(`worker: config hash ${configHash} differs from the parent's ${request.expectedConfigHash}; the code changed under a running experiment.`);
  }
  const record = await trainRun(
    { definition, preset: request.preset, config, configHash, overrides: request.overrides, seeds: request.seeds, arms: request.arms },
    {
      arm: request.arm,
      seed: request.seed,
      runHash: runHashFor(request.id, config, request.arm, request.seed),
      runDir: runDirFor(request.id, request.arm, request.seed, request.resultsDir, request.runsDir),
      status: request.status,
    },
    {
      resume: request.resume,
      resultsDir: request.resultsDir,
      provenance: request.provenance,
      runIndex: request.runIndex,
      runCount: request.runCount,
      onProgress: (event) => process.send?.({ type: "progress", event }),
    },
  );
  process.send?.({ type: "done", record });
}

main().then(
  () => {
    finishing = true;
    process.disconnect?.();
  },
  (e: unknown) => {
    finishing = true;
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    process.send?.({ type: "error", error: message });
    process.stderr.write(message + "\n");
    process.exitCode = 1;
    process.disconnect?.();
  },
);
