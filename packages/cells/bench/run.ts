/**
 * `npm run bench:lstm`: training speed of rnnlab's fast LSTM path against stock tf.layers.lstm (same backend),
 * a plain-GEMM roofline, structured vs per-element dropout, and PyTorch CPU when available.
 *
 *   npm run bench:lstm -- [--sizes small,medium] [--steps N] [--quick] [--structured-groups G]
 *                    [--no-torch] [--no-layers] [--layers-steps N] [--output-block C] [--max-wait-idle S]
 *                    [--[no-]structured-per-step]   (the paper's one keep set per step; default: small only,
 *                                                    it is ~3x slower than grouping on wasm)
 *
 * Writes <results>/bench/lstm-lm.json (results = RNNLAB_RESULTS_DIR or <repo>/results; --quick writes
 * lstm-lm.quick.json) atomically; one progress line per measurement on stderr.
 *
 * Noise: this machine is shared, so the variants compared by a ratio (rnnlab / elementwise dropout /
 * structured dropout / the matMul roofline) are measured interleaved, round by round, in this process,
 * and each ratio is the median of the per-round ratios. tf.layers and PyTorch run in child processes
 * (tf.layers medium needs ~4 GB of wasm heap) right after the rnnlab rounds. Before each round and each
 * child we wait (up to --max-wait-idle seconds, default 30) until other processes use < 0.3 cores, and we
 * record how many cores they used during every measured step (foreignCores*). CPU-time figures
 * (cpuStepMs, *CpuTime) are reported too: for the single-threaded wasm backend they barely move with load.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Rng, selectBackend, tf, environmentInfo, resultsDir, writeJsonAtomic, repoRoot, describeBlas } from "@rnnlab/core";
import { SIZES, createLm, disposeLm, randomBatch, stepMatMuls, timeMatMuls, trainStep, type DropoutVariant, type LmSize } from "./lm";

interface Options {
  sizes: string[];
  steps: number | undefined;
  quick: boolean;
  structuredGroups: number;
  dropoutRate: number;
  torch: boolean;
  layers: boolean;
  layersSteps: number | undefined;
  outputBlock: number | undefined;
  maxWaitIdle: number;
  structuredPerStep: boolean | undefined;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: ["small", "medium"], steps: undefined, quick: false, structuredGroups: 1, dropoutRate: 0.5, torch: true, layers: true, layersSteps: undefined, outputBlock: undefined, maxWaitIdle: 30, structuredPerStep: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: option ${a} needs a value.`);
      return v;
    };
    const count = (name: string, v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench: ${name} must be a positive integer, got "${v}".`);
      return n;
    };
    if (a === "--sizes") {
      o.sizes = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const s of o.sizes) if (s !== "small" && s !== "medium") throw new Error(`bench: --sizes: unknown size "${s}"; use small and/or medium.`);
    } else if (a === "--steps") o.steps = count("--steps", value());
    else if (a === "--quick") o.quick = true;
    else if (a === "--structured-groups") o.structuredGroups = count("--structured-groups", value());
    else if (a === "--dropout") {
      o.dropoutRate = Number(value());
      if (!(o.dropoutRate > 0 && o.dropoutRate < 1)) throw new Error(`bench: --dropout must be in (0, 1).`);
    } else if (a === "--no-torch") o.torch = false;
    else if (a === "--no-layers") o.layers = false;
    else if (a === "--layers-steps") o.layersSteps = count("--layers-steps", value());
    else if (a === "--structured-per-step") o.structuredPerStep = true;
    else if (a === "--no-structured-per-step") o.structuredPerStep = false;
    else if (a === "--max-wait-idle") {
      const v = Number(value());
      if (!(v >= 0)) throw new Error(`bench: --max-wait-idle must be a number of seconds >= 0.`);
      o.maxWaitIdle = v;
    } else if (a === "--output-block") {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 0) throw new Error(`bench: --output-block must be a non-negative integer (0 = one product).`);
      o.outputBlock = v;
    }
    else throw new Error(`bench: unknown option "${a}". Options: --sizes small,medium --steps N --quick --structured-groups G --dropout P --no-torch --no-layers --layers-steps N --output-block C --max-wait-idle S --[no-]structured-per-step.`);
  }
  return o;
}

const log = (line: string) => process.stderr.write(line + "\n");

/** Busy and total jiffies of all CPUs from /proc/stat (Linux); undefined elsewhere. */
function cpuJiffies(): { busy: number; total: number } | undefined {
  try {
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** CPU seconds of our waited-for child processes (cutime + cstime of /proc/self/stat); 0 elsewhere. */
function childrenCpuSeconds(): number {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) / 100; // fields 16, 17 of proc(5), in USER_HZ ticks
  } catch {
    return 0;
  }
}

/**
 * Measures how many cores other processes keep busy while `f` runs: (all CPU time − ours) / wall time.
 * Our own children (spawnSync, so waited for) are subtracted too.
 */
function withForeignLoad<T>(f: () => T): { value: T; foreignCores: number } {
  const j0 = cpuJiffies();
  const k0 = childrenCpuSeconds();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const k1 = childrenCpuSeconds();
  const j1 = cpuJiffies();
  if (!j0 || !j1 || wallS <= 0) return { value, foreignCores: NaN };
  const hz = 100; // USER_HZ on Linux
  const allS = (j1.busy - j0.busy) / hz;
  return { value, foreignCores: Math.max(0, allS - (c.user + c.system) / 1e6 - (k1 - k0)) / wallS };
}

/** Wait (up to maxSeconds) until other processes use less than `threshold` cores; returns the last reading. */
function waitForIdle(maxSeconds: number, threshold = 0.3): number {
  const deadline = Date.now() + maxSeconds * 1000;
  let foreign = NaN;
  for (;;) {
    foreign = withForeignLoad(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500)).foreignCores;
    if (!(foreign >= threshold) || Date.now() >= deadline) return foreign;
  }
}
const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};
const round = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

function runChild(label: string, command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, maxWaitIdle: number): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  const idle = waitForIdle(maxWaitIdle);
  log(`${label}: other processes use ${idle.toFixed(2)} cores; ${command} ${args.join(" ")}`);
  const run = withForeignLoad(() => spawnSync(command, args, { cwd: repoRoot(), env: { ...process.env, ...env }, encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 }));
  const r = run.value;
  log(`${label}: other processes used ${run.foreignCores.toFixed(2)} cores meanwhile`);
  if (r.error) return { ok: false, error: `${label}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, error: `${label}: exit status ${r.status}${r.signal ? ` (signal ${r.signal})` : ""}` };
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return { ok: true, value: { ...JSON.parse(line), foreignCores: round(run.foreignCores, 2) } };
  } catch {
    return { ok: false, error: `${label}: no JSON on stdout (${line.slice(0, 200)})` };
  }
}

function torchAvailable(): boolean {
  const r = spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", timeout: 60_000 });
  return r.status === 0;
}

function benchSize(name: string, size: LmSize, o: Options, rng: Rng): Record<string, unknown> {
  const T = size.steps;
  if (T % o.structuredGroups !== 0) throw new Error(`bench: --structured-groups ${o.structuredGroups} must divide the BPTT length ${T}.`);
  const rounds = o.steps ?? (o.quick ? 2 : 5);
  const variants: { key: string; variant: DropoutVariant }[] = [
    { key: "rnnlab", variant: { kind: "none" } },
    { key: "elementwiseDropout", variant: { kind: "elementwise", rate: o.dropoutRate } },
    { key: "structuredDropout", variant: { kind: "structured", rate: o.dropoutRate, groups: o.structuredGroups } },
  ];
  if (o.structuredGroups !== T && (o.structuredPerStep ?? name !== "medium")) variants.push({ key: "structuredDropoutPerStep", variant: { kind: "structured", rate: o.dropoutRate, groups: T } });
  const outputColumnBlock = o.outputBlock ?? (size.hidden >= 512 ? 1024 : 0);
  const model = createLm(size, rng);
  const shapes = stepMatMuls(size, outputColumnBlock);
  const times: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.key, []]));
  const matmulMs: number[] = [];
  const matmulCpuMs: number[] = [];
  const perShape: number[][] = shapes.map(() => []);
  const tokens = size.batch * T;
  const cpu: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.key, []]));
  let lastCpuMs = 0;
  let lastForeign = NaN;
  const foreign: number[] = [];
  const step = (v: DropoutVariant) => {
    const batch = randomBatch(size, rng);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const measured = withForeignLoad(() => trainStep(model, batch, v, 0.1, rng, outputColumnBlock));
    const loss = measured.value;
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    lastCpuMs = (c.user + c.system) / 1000;
    lastForeign = measured.foreignCores;
    tf.dispose([batch.inputs, batch.targets]);
    if (!Number.isFinite(loss)) throw new Error(`bench: loss is ${loss} in ${name}`);
    return ms;
  };
  for (const v of variants) {
    const ms = step(v.variant);
    log(`${name} warm-up ${v.key}: ${ms.toFixed(0)} ms`);
  }
  const tensorsBefore = tf.memory().numTensors;
  for (let r = 0; r < rounds; r++) {
    const idle = waitForIdle(o.maxWaitIdle);
    log(`${name} round ${r + 1}/${rounds}: other processes use ${idle.toFixed(2)} cores before the round`);
    for (const v of variants) {
      const ms = step(v.variant);
      times[v.key].push(ms);
      cpu[v.key].push(lastCpuMs);
      foreign.push(lastForeign);
      log(`${name} round ${r + 1}/${rounds} ${v.key}: ${ms.toFixed(0)} ms/step (${(tokens / (ms / 1000)).toFixed(0)} tok/s; cpu ${lastCpuMs.toFixed(0)} ms; other processes ${lastForeign.toFixed(2)} cores)`);
    }
    const each = timeMatMuls(shapes, rng);
    each.forEach((t, i) => perShape[i].push(t.cpuMs));
    const total = shapes.reduce((acc, s, i) => acc + s.count * each[i].wallMs, 0);
    matmulMs.push(total);
    matmulCpuMs.push(shapes.reduce((acc, s, i) => acc + s.count * each[i].cpuMs, 0));
    log(`${name} round ${r + 1}/${rounds} matMul roofline: ${total.toFixed(0)} ms for the step's products`);
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  disposeLm(model);
  const stepMs = median(times.rnnlab);
  const perRound = (num: string, den: string) => median(times[num].map((x, i) => x / times[den][i]));
  const fraction = median(matmulMs.map((m, i) => m / times.rnnlab[i]));
  const flops = shapes.map((s) => 2 * s.m * s.k * s.n * s.count);
  const out: Record<string, unknown> = {
    config: size,
    tokensPerStep: tokens,
    rounds,
    stepMs: round(stepMs, 1),
    stepMsAll: times.rnnlab.map((x) => round(x, 1)),
    tokensPerSecond: round(tokens / (stepMs / 1000), 1),
    cpuStepMs: round(median(cpu.rnnlab), 1),
    tokensPerCpuSecond: round(tokens / (median(cpu.rnnlab) / 1000), 1),
    outputColumnBlock,
    stepGflop: round(flops.reduce((a, b) => a + b, 0) / 1e9, 3),
    matmulBoundMs: round(median(matmulMs), 1),
    matmulBoundFraction: round(fraction),
    matmulBoundFractionCpuTime: round(median(matmulCpuMs.map((m, i) => m / cpu.rnnlab[i]))),
    matmulGflops: shapes.map((s, i) => ({ role: s.role, m: s.m, k: s.k, n: s.n, count: s.count, reusedB: s.reusedB, gflops: round((2 * s.m * s.k * s.n) / (median(perShape[i]) * 1e6), 4) })), // from CPU time
    elementwiseDropoutStepMs: round(median(times.elementwiseDropout), 1),
    structuredDropoutStepMs: round(median(times.structuredDropout), 1),
    structuredDropoutGroups: o.structuredGroups,
    dropoutRate: o.dropoutRate,
    structuredDropoutSpeedup: round(perRound("elementwiseDropout", "structuredDropout")),
    structuredDropoutSpeedupCpuTime: round(median(cpu.elementwiseDropout.map((x, i) => x / cpu.structuredDropout[i]))),
    tensorsLeakedPerRound: leaked / rounds,
    foreignCoresMedian: round(median(foreign), 2),
    foreignCoresMax: round(Math.max(...foreign.filter(Number.isFinite)), 2),
  };
  if (times.structuredDropoutPerStep) {
    out.structuredDropoutPerStepStepMs = round(median(times.structuredDropoutPerStep), 1);
    out.structuredDropoutPerStepSpeedup = round(perRound("elementwiseDropout", "structuredDropoutPerStep"));
  }
  return out;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.quick && !process.argv.includes("--max-wait-idle")) o.maxWaitIdle = 0;
  const choice = await selectBackend();
  const env = environmentInfo(choice);
  log(`bench: backend ${choice.label} (fixes: ${choice.kernelFixes.join(", ") || "none"}), tfjs ${env.tfjs}, node ${env.node}, ${env.cpu} x ${env.cores}`);
  const rng = new Rng(2024);
  const file = path.join(resultsDir(), "bench", o.quick ? "lstm-lm.quick.json" : "lstm-lm.json");
  let previous: { sizes?: Record<string, unknown> } = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    previous = {};
  }
  const sizes: Record<string, unknown> = { ...(previous.sizes ?? {}) };
  const haveTorch = o.torch && torchAvailable();
  if (o.torch && !haveTorch) log("bench: PyTorch not available (/usr/bin/python3 -c 'import torch' failed); skipping it");
  const started = Date.now();
  for (const name of o.sizes) {
    const size = o.quick ? SIZES.quick : SIZES[name];
    const r = benchSize(name, size, o, rng);
    if (o.layers) {
      const steps = o.layersSteps ?? (o.quick ? 1 : name === "medium" ? 1 : 2);
      const child = runChild(`layers-lstm ${name}`, process.execPath, ["--import", "tsx", path.join(__dirname, "layers-lstm.ts"), "--size", o.quick ? "quick" : name, "--steps", String(steps), "--kernels", "stock"], {}, 3_600_000, o.maxWaitIdle);
      if (child.ok) {
        const tps = child.value.tokensPerSecond as number;
        r.layersLstmKernels = "stock tfjs-wasm kernels + UnsortedSegmentSum shim";
        r.layersLstmStepMs = round(child.value.medianStepMs as number, 1);
        r.layersLstmTokensPerSecond = round(tps, 1);
        r.layersLstmForeignCores = child.value.foreignCores;
        r.speedupVsLayersLstm = round((r.tokensPerSecond as number) / tps, 2);
        if (typeof child.value.medianCpuMs === "number") {
          r.layersLstmCpuStepMs = round(child.value.medianCpuMs, 1);
          r.speedupVsLayersLstmCpuTime = round(child.value.medianCpuMs / (r.cpuStepMs as number), 2);
        }
      } else {
        log(child.error);
        r.layersLstmError = child.error;
      }
    }
    if (haveTorch) {
      // 2 threads (wall clock) is the headline; 1 thread's CPU time gives a load-insensitive per-core ratio.
      for (const threads of [2, 1]) {
        const child = runChild(`pytorch ${name} (${threads} thread${threads > 1 ? "s" : ""})`, "/usr/bin/python3", [path.join(__dirname, "torch_lstm.py"), "--size", o.quick ? "quick" : name, "--steps", o.quick ? "2" : "5", "--threads", String(threads)], { OMP_WAIT_POLICY: "PASSIVE", OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) }, 1_800_000, o.maxWaitIdle);
        if (!child.ok) {
          log(child.error);
          r[threads === 2 ? "pytorchError" : "pytorch1ThreadError"] = child.error;
          continue;
        }
        if (threads === 2) {
          r.pytorchVersion = child.value.torchVersion;
          r.pytorchThreads = child.value.threads;
          r.pytorchStepMs = round(child.value.medianStepMs as number, 1);
          r.pytorchTokensPerSecond = round(child.value.tokensPerSecond as number, 1);
          r.pytorchForeignCores = child.value.foreignCores;
          r.ratioVsPytorch = round((r.tokensPerSecond as number) / (child.value.tokensPerSecond as number), 3);
        } else {
          r.pytorch1ThreadStepMs = round(child.value.medianStepMs as number, 1);
          r.pytorch1ThreadCpuStepMs = round(child.value.medianCpuMs as number, 1);
          r.pytorch1ThreadForeignCores = child.value.foreignCores;
          r.ratioVsPytorch1ThreadCpuTime = round((child.value.medianCpuMs as number) / (r.cpuStepMs as number), 3);
        }
      }
    }
    const warnings: string[] = [];
    const busy = (x: unknown) => typeof x === "number" && x > 0.3;
    if (busy(r.foreignCoresMedian))
      warnings.push(`other processes used ${r.foreignCoresMedian} cores during rnnlab's steps: wall-clock figures are slower than on an idle machine; the cpu-time figures are less affected`);
    if (busy(r.layersLstmForeignCores))
      warnings.push(`other processes used ${r.layersLstmForeignCores} cores during the tf.layers run: compare speedupVsLayersLstmCpuTime`);
    if (busy(r.pytorchForeignCores))
      warnings.push(`other processes used ${r.pytorchForeignCores} cores during the 2-thread PyTorch run, which needs both cores: ratioVsPytorch overstates rnnlab`);
    if (warnings.length) r.warnings = warnings;
    sizes[name] = r;
    log(`${name}: ${JSON.stringify({ tokensPerSecond: r.tokensPerSecond, speedupVsLayersLstm: r.speedupVsLayersLstm, matmulBoundFraction: r.matmulBoundFraction, structuredDropoutSpeedup: r.structuredDropoutSpeedup, ratioVsPytorch: r.ratioVsPytorch })}`);
  }
  const result = {
    schemaVersion: 1,
    benchmark: "lstm-lm",
    description: "Word LSTM LM training step (forward + backward + SGD), 2 layers, vocab 10k, batch 20, BPTT 35; tokens/s = 700 / median step time after warm-up.",
    date: new Date().toISOString(),
    durationSeconds: round((Date.now() - started) / 1000, 1),
    quick: o.quick,
    machine: { cpuModel: env.cpu, cores: env.cores, memoryGiB: env.memoryGiB, platform: env.platform },
    backend: choice.label,
    matmul: choice.matmul,
    blas: choice.blas ? describeBlas(choice.blas) : null,
    kernelFixes: choice.kernelFixes,
    tfjsVersion: env.tfjs,
    nodeVersion: env.node,
    gitCommit: env.gitCommit,
    sizes,
  };
  writeJsonAtomic(file, result);
  log(`bench: wrote ${file}`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
