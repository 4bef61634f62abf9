import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { selectBackend } from "@rnnlab/core";
import { CheckpointManager, configHash, encodeCheckpoint, decodeCheckpoint, writeCheckpoint, readCheckpoint, trainLanguageModel } from "../src";
import { RESUME_CONFIG } from "./fixtures/resume-child";
import { cyclicCorpus } from "./fixtures/corpus";

before(async () => {
  await selectBackend();
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-ckpt-"));
const sample = { meta: { step: 3, note: "x" }, tensors: { a: { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4.5]) }, b: { shape: [1], data: Float32Array.from([-7]) } } };

test("checkpoint round-trips meta and tensors exactly", () => {
  const d = decodeCheckpoint(encodeCheckpoint(sample, "abc"), "mem", "abc");
  assert.deepEqual(d.meta, sample.meta);
  assert.deepEqual(Array.from(d.tensors.a.data), [1, 2, 3, 4.5]);
  assert.deepEqual(d.tensors.b.shape, [1]);
});

test("a truncated, garbled or mismatched checkpoint is refused with the file and the fix", () => {
  const dir = tmp();
  const file = path.join(dir, "checkpoint.rnnlab");
  writeCheckpoint(file, sample, "abc");
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 5));
  assert.throws(() => readCheckpoint(file, "abc"), (e: Error) => /corrupt/.test(e.message) && e.message.includes(file) && /Delete/.test(e.message));
  const garbled = Buffer.from(bytes);
  garbled[garbled.length - 2] ^= 0xff;
  fs.writeFileSync(file, garbled);
  assert.throws(() => readCheckpoint(file, "abc"), /checksum/);
  fs.writeFileSync(file, Buffer.from("hello world, not a checkpoint"));
  assert.throws(() => readCheckpoint(file, "abc"), /magic/);
  fs.writeFileSync(file, bytes);
  assert.throws(() => readCheckpoint(file, "other"), (e: Error) => /different config/.test(e.message) && e.message.includes(file));
  // The manager refuses rather than restarting: the trainer surfaces the error.
  fs.writeFileSync(file, bytes.subarray(0, 40));
  const manager = new CheckpointManager({ directory: dir, everySteps: 2, configHash: "abc" });
  assert.throws(() => manager.load(), /corrupt/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a same-length edit of the JSON header (data position, RNG state, curves) is refused (issue 18.4)", () => {
  const meta = { step: 3, dataPosition: 1234, rng: [11, 22, 33], curves: { loss: [4.5, 4.25] } };
  const bytes = Buffer.from(encodeCheckpoint({ meta, tensors: sample.tensors }, "abc"));
  for (const [from, to] of [["1234", "1299"], ["[11,22,33]", "[11,22,34]"], ["4.25", "4.75"]]) {
    const at = bytes.indexOf(from);
    assert.ok(at > 0, from);
    const edited = Buffer.from(bytes);
    edited.write(to, at, "utf8");
    assert.equal(edited.length, bytes.length);
    assert.throws(() => decodeCheckpoint(edited, "ckpt", "abc"), (e: Error) => /corrupt/.test(e.message) && /checksum/.test(e.message) && /ckpt/.test(e.message));
  }
  assert.deepEqual(decodeCheckpoint(bytes, "ckpt", "abc").meta, meta);
});

test("a version 1 checkpoint (before the header checksum) still resumes", () => {
  // Version 1: magic, header length, header, payload; no trailer. Built by hand as the old encoder wrote it.
  const payload = Buffer.from(Float32Array.from([1, 2]).buffer);
  const header = Buffer.from(JSON.stringify({
    version: 1, configHash: "abc", savedAt: "2026-01-01T00:00:00.000Z", meta: { step: 9 },
    blobs: [{ name: "w", shape: [2], offset: 0, length: 2 }], payloadBytes: 8, payloadSha256: createHash("sha256").update(payload).digest("hex"),
  }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length, 0);
  const v1 = Buffer.concat([Buffer.from("RNNLABCKPT1\n", "ascii"), length, header, payload]);
  const d = decodeCheckpoint(v1, "old", "abc");
  assert.deepEqual(d.meta, { step: 9 });
  assert.deepEqual(Array.from(d.tensors.w.data), [1, 2]);
});

test("the LM trainer refuses a corrupt checkpoint instead of starting over", async () => {
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "checkpoint.rnnlab"), Buffer.from("RNNLABCKPT1\n\x05\x00\x00\x00{bad"));
  const checkpoints = new CheckpointManager({ directory: dir, everySteps: 2, configHash: configHash(RESUME_CONFIG) });
  await assert.rejects(
    trainLanguageModel(RESUME_CONFIG, { train: cyclicCorpus(900, 10, 1), valid: cyclicCorpus(200, 10, 2) }, { checkpoints }),
    /corrupt/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

function runChild(dir: string, delayMs: number, killAfterStep?: number): Promise<{ result?: unknown; killed: boolean; lastStep: number; firstStep: number }> {
  const child = path.join(__dirname, "fixtures", "resume-child.ts");
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", child, dir, String(delayMs)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let lastStep = 0;
    let firstStep = 0;
    let killed = false;
    p.stdout.on("data", (chunk) => {
      out += chunk;
      for (const m of String(chunk).matchAll(/step (\d+)/g)) {
        lastStep = Math.max(lastStep, Number(m[1]));
        if (!firstStep) firstStep = Number(m[1]);
      }
      if (killAfterStep !== undefined && !killed && lastStep >= killAfterStep) {
        killed = true;
        p.kill("SIGKILL");
      }
    });
    p.stderr.on("data", (c) => (err += c));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      if (killed) return resolve({ killed: signal === "SIGKILL", lastStep, firstStep });
      if (code !== 0) return reject(new Error(`child failed (${code}): ${err.slice(-2000)}`));
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      resolve({ result: line ? JSON.parse(line.slice(7)) : undefined, killed: false, lastStep, firstStep });
    });
  });
}

test("a run killed with SIGKILL and resumed ends with the same metrics as an uninterrupted run", { timeout: 120000 }, async () => {
  const straight = tmp();
  const interrupted = tmp();
  const full = await runChild(straight, 0);
  // Kill late in the run (after NT-ASGD has switched to averaging), then resume to the end.
  const first = await runChild(interrupted, 15, 125);
  assert.ok(first.killed, "the child was killed by SIGKILL");
  assert.ok(fs.existsSync(path.join(interrupted, "checkpoint.rnnlab")), "a checkpoint exists after the kill");
  const resumed = await runChild(interrupted, 0);
  assert.ok(full.result && resumed.result);
  assert.ok(resumed.firstStep > 100 && resumed.firstStep <= first.lastStep, `the resumed run continued from a late checkpoint (first step ${resumed.firstStep}), not from scratch`);
  assert.deepEqual(resumed.result, full.result);
  const r = full.result as { averagingStartedAtStep: number; steps: number };
  assert.ok(r.steps > first.lastStep, "the kill happened before the end");
  assert.ok(r.averagingStartedAtStep > 0 && r.averagingStartedAtStep < resumed.firstStep, "averaging was active in the restored state");
  fs.rmSync(straight, { recursive: true, force: true });
  fs.rmSync(interrupted, { recursive: true, force: true });
});

test("LM resume is exact for NC-GRU, the element-wise synthesizer and the plateau reducer too (in-process interrupt)", async () => {
  const config = {
    ...RESUME_CONFIG, cell: { kind: "nc-gru" as const, recomputeEvery: 3 }, epochs: 3, variableLength: false, tieWeights: false,
    optimizer: { kind: "adam" as const }, schedule: { kind: "plateau" as const, learningRate: 0.01, factor: 0.5, patience: 0 },
    dropout: { kind: "elementwise" as const, input: 0.1 }, maxStepsPerEpoch: 6,
    dni: { mode: "synthetic" as const, synthesizer: "elementwise" as const, elementwiseUnits: 3, learningRate: 0.01 },
  };
  const data = { train: cyclicCorpus(900, 10, 1), valid: cyclicCorpus(200, 10, 2) };
  const straight = await trainLanguageModel(config, data);
  const dir = tmp();
  const checkpoints = CheckpointManager.forConfig(dir, 4, config);
  await assert.rejects(trainLanguageModel(config, data, { checkpoints, onProgress: (e) => { if (e.kind === "step" && e.step === 11) throw new Error("interrupt"); } }), /interrupt/);
  let first = 0;
  const resumed = await trainLanguageModel(config, data, { checkpoints, onProgress: (e) => { if (e.kind === "step" && !first) first = e.step; } });
  assert.equal(first, 9, "continued after the step-8 checkpoint");
  assert.deepEqual(resumed.final, straight.final);
  assert.deepEqual(resumed.synthesizerLossCurve, straight.synthesizerLossCurve);
  assert.deepEqual(resumed.orthogonalityErrorCurve, straight.orthogonalityErrorCurve);
  fs.rmSync(dir, { recursive: true, force: true });
});
