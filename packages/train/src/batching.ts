/**
 * Truncated-BPTT batching of a token stream (AWD-LSTM's batchify/get_batch), kept here so the trainer's
 * data position (row index inside the batched stream) is explicit and checkpointable.
 *
 *   batchify: N tokens → [rows = floor(N/B), B]; column b holds tokens b·rows … (b+1)·rows − 1 in order.
 *   window at row i, length L: inputs rows i … i+L−1, targets rows i+1 … i+L (L clipped at the end).
 *   variable length (AWD): base = bptt with probability 0.95, else bptt/2; L = max(5, round(N(base, 5)))
 *   (AWD truncates with int(); we round, DEVIATION, negligible), and the lr is scaled by L/bptt.
 */
import { tf, type Rng } from "@rnnlab/core";

export interface BatchedStream {
  data: Int32Array; // row-major [rows, batch]
  rows: number;
  batch: number;
}

export function batchifyTokens(tokens: ArrayLike<number>, batch: number, where = "tokens"): BatchedStream {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch size ${batch} must be a positive integer`);
  const rows = Math.floor(tokens.length / batch);
  if (rows < 2) throw new Error(`${where}: ${tokens.length} tokens are too few for batch size ${batch} (need at least ${2 * batch})`);
  const data = new Int32Array(rows * batch);
  for (let b = 0; b < batch; b++) for (let r = 0; r < rows; r++) data[r * batch + b] = tokens[b * rows + r];
  return { data, rows, batch };
}

/** The window's [L, B] inputs and targets as int32 tensors (caller disposes). */
export function windowTensors(stream: BatchedStream, row: number, length: number): { inputs: tf.Tensor2D; targets: tf.Tensor2D; length: number } {
  const L = Math.min(length, stream.rows - 1 - row);
  if (L < 1) throw new Error(`windowTensors: row ${row} leaves no targets (rows ${stream.rows})`);
  const B = stream.batch;
  const inputs = tf.tensor2d(stream.data.subarray(row * B, (row + L) * B), [L, B], "int32");
  const targets = tf.tensor2d(stream.data.subarray((row + 1) * B, (row + 1 + L) * B), [L, B], "int32");
  return { inputs, targets, length: L };
}

/** AWD-LSTM's random window length. Draws from rng (so it is part of the checkpointed stream). */
export function variableWindowLength(bptt: number, rng: Rng): number {
  const base = rng.uniform() < 0.95 ? bptt : bptt / 2;
  return Math.max(5, Math.round(rng.normal(base, 5)));
}
