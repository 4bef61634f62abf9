/**
 * Child-process entry for `runExperiment(..., {jobs: N})`: trains one (arm, seed) and reports progress
 * and the finished record to the parent over IPC. It is an entry point, so it selects the backend.
 */
import { selectBackend } from "@rnnlab/core";
import "./experiments";
import { resolveExperimentConfig, runHashFor, trainRun, type RunStatus } from "./runner";
import { runDirFor } from "./results";
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
  expectedConfigHash: string;
  runIndex: number;
  runCount: number;
}

async function main(): Promise<void> {
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
      runDir: runDirFor(request.id, request.arm, request.seed, request.resultsDir),
      status: request.status,
    },
    {
      resume: request.resume,
      resultsDir: request.resultsDir,
      runIndex: request.runIndex,
      runCount: request.runCount,
      onProgress: (event) => process.send?.({ type: "progress", event }),
    },
  );
  process.send?.({ type: "done", record });
}

main().then(
  () => process.disconnect?.(),
  (e: unknown) => {
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    process.send?.({ type: "error", error: message });
    process.stderr.write(message + "\n");
    process.exitCode = 1;
    process.disconnect?.();
  },
);
