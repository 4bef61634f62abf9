/**
 * Checkpoints: one self-checking binary file per run, written atomically.
 *
 * Layout (little endian), version 2:
 *   bytes 0..11   magic "RNNLABCKPT2\n"
 *   bytes 12..15  uint32 header length n
 *   next n bytes  UTF-8 JSON header: { version, configHash, savedAt, meta, blobs: [{name, shape, offset, length}],
 *                 payloadBytes, payloadSha256 }
 *   next          payload: the Float32 blobs, concatenated
 *   last 32 bytes SHA-256 of every byte before it (magic, length, header and payload)
 * The trailing checksum covers the header too: the header carries the data position, the RNG state and the
 * stored curves, and a same-length edit there would otherwise resume silently into different numbers.
 * Version 1 files (no trailer, payload checksum only) are still read, so runs interrupted before the
 * format change can resume. A truncated file fails the length check, a garbled one a SHA-256 check or the
 * JSON parse; either is refused with the file name and the fix. A config hash that differs from the run's is refused too: a
 * checkpoint is never silently ignored, and a run is never silently restarted from scratch.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { configHash as coreConfigHash, writeFileAtomic } from "@rnnlab/core";
import type { SerializedTensor } from "./serialize";

const MAGIC_V1 = "RNNLABCKPT1\n";
const MAGIC = "RNNLABCKPT2\n";
export const CHECKPOINT_VERSION = 2;
const TRAILER_BYTES = 32;

export interface CheckpointData {
  /** Any JSON-serializable metadata (step, epoch, rng state, schedule, data position, config, curves...). */
  meta: Record<string, unknown>;
  tensors: Record<string, SerializedTensor>;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Checkpoint headers store this many hex chars of core's configHash. */
export const CHECKPOINT_HASH_CHARS = 16;

export { stableStringify } from "@rnnlab/core";

/** configHash (core) of a resolved config, first 16 hex chars: the hash a checkpoint header stores. */
export function configHash(config: unknown): string {
  return coreConfigHash(config, CHECKPOINT_HASH_CHARS);
}

export function encodeCheckpoint(data: CheckpointData, hash: string): Uint8Array {
  const blobs: { name: string; shape: number[]; offset: number; length: number }[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(data.tensors)) {
    const expected = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== expected) throw new CheckpointError(`checkpoint tensor "${name}" has ${t.data.length} values for shape [${t.shape}]`);
    blobs.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length * 4;
  }
  const payload = Buffer.alloc(offset);
  for (const b of blobs) {
    const src = data.tensors[b.name].data;
    Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(payload, b.offset);
  }
  const header = Buffer.from(
    JSON.stringify({
      version: CHECKPOINT_VERSION,
      configHash: hash,
      savedAt: new Date().toISOString(),
      meta: data.meta,
      blobs,
      payloadBytes: payload.length,
      payloadSha256: createHash("sha256").update(payload).digest("hex"),
    }),
    "utf8",
  );
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(header.length, 0);
  const body = Buffer.concat([Buffer.from(MAGIC, "ascii"), lengthField, header, payload]);
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
}

/** Decode and verify; `file` is only used in messages. */
export function decodeCheckpoint(bytes: Uint8Array, file: string, expectedHash?: string): CheckpointData & { configHash: string } {
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fix = `Delete ${file} (or point the run at another checkpoint directory) to start fresh, or restore a good copy.`;
  const corrupt = (why: string) => new CheckpointError(`Checkpoint ${file} is corrupt (${why}); refusing to resume from it. ${fix}`);
  const magic = whole.length >= MAGIC.length ? whole.subarray(0, MAGIC.length).toString("ascii") : "";
  if (whole.length < MAGIC.length + 4 || (magic !== MAGIC && magic !== MAGIC_V1)) throw corrupt("not an rnnlab checkpoint: bad magic bytes");
  const formatVersion = magic === MAGIC ? 2 : 1;
  let buf = whole;
  if (formatVersion === 2) {
    if (whole.length < MAGIC.length + 4 + TRAILER_BYTES) throw corrupt(`truncated: ${whole.length} bytes`);
    buf = whole.subarray(0, whole.length - TRAILER_BYTES);
    const stored = whole.subarray(whole.length - TRAILER_BYTES);
    if (!createHash("sha256").update(buf).digest().equals(stored)) {
      throw corrupt("checksum mismatch over header and payload: the file was truncated, padded or edited");
    }
  }
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const headerStart = MAGIC.length + 4;
  if (headerStart + headerLength > buf.length) throw corrupt(`truncated: header needs ${headerLength} bytes, file has ${buf.length - headerStart}`);
  let header: {
    version: number; configHash: string; meta: Record<string, unknown>;
    blobs: { name: string; shape: number[]; offset: number; length: number }[]; payloadBytes: number; payloadSha256: string;
  };
  try {
    header = JSON.parse(buf.subarray(headerStart, headerStart + headerLength).toString("utf8"));
  } catch (e) {
    throw corrupt(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header.version !== formatVersion) throw corrupt(`format version ${header.version} in a version ${formatVersion} file; this code reads versions 1 and ${CHECKPOINT_VERSION}`);
  const payload = buf.subarray(headerStart + headerLength);
  if (payload.length !== header.payloadBytes) throw corrupt(`truncated or padded: payload is ${payload.length} bytes, header says ${header.payloadBytes}`);
  const sha = createHash("sha256").update(payload).digest("hex");
  if (sha !== header.payloadSha256) throw corrupt("payload checksum mismatch");
  if (expectedHash !== undefined && header.configHash !== expectedHash) {
    throw new CheckpointError(
      `Checkpoint ${file} was written by a run with a different config (hash ${header.configHash}, this run ${expectedHash}); ` +
        `refusing to resume. Use the same config to resume, or delete ${file} / choose another checkpoint directory to start a new run.`,
    );
  }
  const tensors: Record<string, SerializedTensor> = {};
  for (const b of header.blobs) {
    const data = new Float32Array(b.length);
    Buffer.from(data.buffer).set(payload.subarray(b.offset, b.offset + b.length * 4));
    tensors[b.name] = { shape: b.shape, data };
  }
  return { meta: header.meta, tensors, configHash: header.configHash };
}

export function writeCheckpoint(file: string, data: CheckpointData, hash: string): void {
  writeFileAtomic(file, encodeCheckpoint(data, hash));
}

export function readCheckpoint(file: string, expectedHash?: string): CheckpointData & { configHash: string } {
  return decodeCheckpoint(fs.readFileSync(file), file, expectedHash);
}

export interface CheckpointManagerOptions {
  /** Directory holding `checkpoint.rnnlab`. */
  directory: string;
  /** Save every N optimizer steps (0 = only when the trainer finishes). */
  everySteps: number;
  /** Hash of the resolved config (configHash(config)); a checkpoint from another config is refused. */
  configHash: string;
  /** File name without extension (default "checkpoint"; e.g. "best" for the best-validation parameters beside it). */
  name?: string;
}

/**
 * The only way trainers write files. `load()` returns undefined when there is no checkpoint, throws a
 * CheckpointError when there is one that cannot be used.
 */
export class CheckpointManager {
  readonly file: string;
  constructor(readonly options: CheckpointManagerOptions) {
    if (!Number.isInteger(options.everySteps) || options.everySteps < 0)
      throw new Error(`checkpoint everySteps=${options.everySteps} must be a non-negative integer (0 = only at the end)`);
    this.file = path.join(options.directory, `${options.name ?? "checkpoint"}.rnnlab`);
  }
  /** A manager whose config hash is computed from the resolved config. */
  static forConfig(directory: string, everySteps: number, config: unknown): CheckpointManager {
    return new CheckpointManager({ directory, everySteps, configHash: configHash(config) });
  }
  shouldSave(step: number): boolean {
    return this.options.everySteps > 0 && step > 0 && step % this.options.everySteps === 0;
  }
  exists(): boolean {
    return fs.existsSync(this.file);
  }
  save(data: CheckpointData): void {
    writeCheckpoint(this.file, data, this.options.configHash);
  }
  load(): (CheckpointData & { configHash: string }) | undefined {
    if (!fs.existsSync(this.file)) return undefined;
    return readCheckpoint(this.file, this.options.configHash);
  }
}
