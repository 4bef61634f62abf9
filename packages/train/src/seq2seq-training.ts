/**
 * Pieces shared by the translation and tagging trainers: length-bucketed batch order and the epoch-end
 * snapshot that makes a run resumable through train's CheckpointManager.
 */
import { type Rng } from "@rnnlab/core";
import type { OptimizerState } from "./optim";
import type { PlateauState } from "./schedules";
import { serializeNamed, type SerializedTensor } from "./serialize";
import type { NamedVariables } from "./params";

/**
 * Batches of example indices: shuffle, cut into pools of `pool` batches, sort each pool by length (so a
 * batch holds similar lengths and little padding), cut into batches, shuffle the batches. pool = 1: no sorting.
 */
export function bucketedBatches(lengths: readonly number[], batchSize: number, pool: number, rng: Rng): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`bucketedBatches: batchSize must be a positive integer, got ${batchSize}`);
  const order = rng.shuffle(lengths.map((_, i) => i));
  const batches: number[][] = [];
  const poolSize = batchSize * Math.max(1, pool);
  for (let start = 0; start < order.length; start += poolSize) {
    const slice = order.slice(start, start + poolSize);
    if (pool > 1) slice.sort((a, b) => lengths[a] - lengths[b] || a - b);
    for (let b = 0; b < slice.length; b += batchSize) batches.push(slice.slice(b, b + batchSize));
  }
  return rng.shuffle(batches);
}

/** The shape of train's CheckpointData (./checkpoint.ts), repeated here so this file stands alone. */
export interface SnapshotCheckpointData {
  meta: Record<string, unknown>;
  tensors: Record<string, SerializedTensor>;
}

/** Everything needed to resume at an epoch boundary; plain data (copied out of the variables). */
export interface TrainingSnapshot {
  /** The epoch just finished (0-based); a resume starts at epoch + 1. */
  epoch: number;
  step: number;
  elapsedMs: number;
  /** Parameter values keyed by dotted path. */
  parameters: Record<string, SerializedTensor>;
  optimizer: OptimizerState;
  plateau?: PlateauState;
}

export function takeSnapshot(epoch: number, step: number, elapsedMs: number, variables: NamedVariables, optimizer: OptimizerState, plateau?: PlateauState): TrainingSnapshot {
  return { epoch, step, elapsedMs, parameters: serializeNamed(variables), optimizer, plateau };
}

/** A snapshot as CheckpointManager data: tensors "param/<path>" and "optimizer/<slot>", the rest in meta. */
export function snapshotToCheckpoint(snapshot: TrainingSnapshot, extraMeta: Record<string, unknown> = {}): SnapshotCheckpointData {
  const tensors: Record<string, SerializedTensor> = {};
  for (const [k, v] of Object.entries(snapshot.parameters)) tensors[`param/${k}`] = v;
  for (const [k, v] of Object.entries(snapshot.optimizer.tensors)) tensors[`optimizer/${k}`] = v;
  return {
    meta: { ...extraMeta, epoch: snapshot.epoch, step: snapshot.step, elapsedMs: snapshot.elapsedMs, optimizer: snapshot.optimizer.meta, plateau: snapshot.plateau ?? null },
    tensors,
  };
}

export function checkpointToSnapshot(data: SnapshotCheckpointData): TrainingSnapshot {
  const meta = data.meta as { epoch: number; step: number; elapsedMs: number; optimizer: OptimizerState["meta"]; plateau: PlateauState | null };
  for (const key of ["epoch", "step", "elapsedMs", "optimizer"] as const) {
    if (meta[key] === undefined) throw new Error(`checkpointToSnapshot: checkpoint meta has no "${key}"; it was not written by a translation/tagger trainer`);
  }
  const parameters: Record<string, SerializedTensor> = {};
  const optimizerTensors: Record<string, SerializedTensor> = {};
  for (const [k, v] of Object.entries(data.tensors)) {
    if (k.startsWith("param/")) parameters[k.slice(6)] = v;
    else if (k.startsWith("optimizer/")) optimizerTensors[k.slice(10)] = v;
  }
  return { epoch: meta.epoch, step: meta.step, elapsedMs: meta.elapsedMs, parameters, optimizer: { meta: meta.optimizer, tensors: optimizerTensors }, plateau: meta.plateau ?? undefined };
}
