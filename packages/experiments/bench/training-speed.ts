/**
 * `npm run bench`: training speed of the code the experiments run (issue 15). For each cell family (LSTM,
 * G2-LSTM, LN-LSTM, ATN-LSTM k=10, GRU, NC-GRU) at the word-LM sizes small (H=200) and medium (H=650)
 * (2 layers, vocabulary 10k, batch 20, bptt 35) and a synthetic-task size (adding, H=128, T=100, batch 128):
 *   - rnnlab's own trainers (trainLanguageModel, trainSyntheticTask) on generated data, in this process:
 *     median step time after warm-up from their progress events, GEMM fraction from one profiled step
 *     (training-speed-rows.ts);
 *   - the same model in PyTorch (torch_cells.py) at 1 and 2 threads, in child processes
 *     (OMP_WAIT_POLICY=PASSIVE);
 *   - the LM rows again with wasm's own matrix products (a child process with RNNLAB_MATMUL=wasm);
 *   - NC-GRU at the paper's width 435 with the orthogonal update's share of the step;
 *   - experiment lanes: wall time of 4 arm x seed runs through runExperiment with 1 lane and with 2.
 * Writes <results>/bench/training-speed.json atomically (--quick: training-speed.quick.json) and, after a
 * full run, the table in packages/experiments/bench/README.md (training-speed-table.ts). One progress line
 * per measurement on stderr. The old LSTM bench is `npm run bench:lstm`.
 *
 *   npm run bench -- [--quick] [--cells lstm,g2lstm,lnlstm,atnlstm,gru,ncgru] [--sizes small,medium,synthetic]
 *                    [--no-torch] [--no-wasm] [--no-lanes] [--no-paper-width] [--steps N]
 *
 * The full run takes ~10 minutes on 2 cores; run it on a quiet machine (the 1-minute load average is
 * recorded with every row).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { describeBlas, environmentInfo, repoRoot, resultsDir, selectBackend, writeJsonAtomic, type BackendChoice } from "@rnnlab/core";
import { runExperiment } from "../src"; // the index registers the experiments
import {
  CELL_NAMES, NCGRU_PAPER_SIZE, SIZES, SIZE_NAMES, TRAINING_SPEED_SCHEMA_VERSION, buildRow, computeTargets, loadAverage, measureTraining, round, torchConfig,
  type BenchRow, type CellName, type LanesMeasurement, type Measurement, type NcGruPaperWidth, type SizeName, type SizeSpec, type TorchMeasurement,
  type TrainingSpeedResult,
} from "./training-speed-rows";
import { updateReadme } from "./training-speed-table";

// Before selectBackend: loading the BLAS addon sets OPENBLAS_NUM_THREADS=1 for this process; children get
// the environment from before it. PyTorch gets OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = its thread count:
// Debian's torch runs GEMMs in OpenBLAS's own pthreads, which torch.set_num_threads does not size (so an
// inherited 1 would make its "2 threads" multiply on one, and an unset one could let "1 thread" use two).
const ORIGINAL_OPENBLAS_THREADS = process.env.OPENBLAS_NUM_THREADS;

interface Options {
  quick: boolean;
  cells: CellName[];
  sizes: SizeName[];
  torch: boolean;
  wasm: boolean;
  lanes: boolean;
  paperWidth: boolean;
  steps: number | undefined;
  /** Internal: measure the given rows and print them as JSON (the RNNLAB_MATMUL=wasm child). */
  child: boolean;
}

const log = (line: string) => process.stderr.write(line + "\n");

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, cells: [...CELL_NAMES], sizes: [...SIZE_NAMES], torch: true, wasm: true, lanes: true, paperWidth: true, steps: undefined, child: false };
  let sizesGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: option ${a} needs a value.`);
      return v;
    };
    const list = <T extends string>(name: string, allowed: readonly T[]) => {
      const items = value().split(",").map((s) => s.trim()).filter(Boolean);
      for (const s of items) if (!allowed.includes(s as T)) throw new Error(`bench: ${name}: unknown "${s}"; use some of ${allowed.join(",")}.`);
      if (!items.length) throw new Error(`bench: ${name} needs at least one of ${allowed.join(",")}.`);
      return items as T[];
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--cells") o.cells = list("--cells", CELL_NAMES);
    else if (a === "--sizes") {
      o.sizes = list("--sizes", SIZE_NAMES);
      sizesGiven = true;
    } else if (a === "--no-torch") o.torch = false;
    else if (a === "--no-wasm") o.wasm = false;
    else if (a === "--no-lanes") o.lanes = false;
    else if (a === "--no-paper-width") o.paperWidth = false;
    else if (a === "--steps") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench: --steps must be a positive integer.`);
      o.steps = n;
    } else if (a === "--child") o.child = true;
    else
      throw new Error(
        `bench: unknown option "${a}". Options: --quick --cells ${CELL_NAMES.join(",")} --sizes ${SIZE_NAMES.join(",")} --no-torch --no-wasm --no-lanes --no-paper-width --steps N.`,
      );
  }
  if (o.quick && !sizesGiven) o.sizes = ["small"];
  return o;
}

/** Timed steps and warm-up per size: enough for a stable median within the 12-minute budget. */
function stepsFor(size: string, o: Options): { warmup: number; timed: number } {
  if (o.steps !== undefined) return { warmup: 1, timed: o.steps };
  if (o.quick) return { warmup: 1, timed: 2 };
  // The wasm-matmul rows are 3-10x slower per step: fewer steps keep the full run within ~10 minutes.
  if (o.child) return size === "medium" ? { warmup: 0, timed: 2 } : { warmup: 0, timed: 3 };
  return size === "medium" ? { warmup: 1, timed: 3 } : { warmup: 1, timed: 5 };
}

function describeMeasurement(label: string, m: Measurement, extra = ""): string {
  const gemm = m.profile ? `; GEMM ${(100 * (m.profile.matMulMs / m.profile.stepMs)).toFixed(0)} %, fused recurrence ${(100 * (m.profile.recurrenceMs / m.profile.stepMs)).toFixed(0)} % of a profiled ${m.profile.stepMs.toFixed(0)} ms step` : "";
  return `${label} ${m.cell} ${m.size}: ${m.stepMsMedian.toFixed(1)} ms/step, ${m.tokensPerSecond.toFixed(0)} tok/s${gemm}${extra} (load ${m.loadAverage})`;
}

async function measureRows(o: Options, sizes: SizeName[], label: string): Promise<{ measurements: Measurement[]; errors: string[] }> {
  const measurements: Measurement[] = [];
  const errors: string[] = [];
  for (const sizeName of sizes) {
    const s = stepsFor(sizeName, o);
    for (const cell of o.cells) {
      try {
        // The wasm-matmul child skips the profiled step at medium (its GEMM fraction costs a ~5 s step per cell).
        const profile = !(o.child && sizeName === "medium");
        const m = await measureTraining(cell, sizeName, SIZES[sizeName], { steps: s.timed, warmupSteps: s.warmup, profile });
        measurements.push(m);
        log(describeMeasurement(label, m));
      } catch (e) {
        const message = `${label} ${cell} ${sizeName}: ${e instanceof Error ? e.message.split("\n")[0] : e}`;
        errors.push(message);
        log(message);
      }
    }
  }
  return { measurements, errors };
}

function torchAvailable(): boolean {
  return spawnSync("/usr/bin/python3", ["-c", "import torch"], { encoding: "utf8", timeout: 60_000 }).status === 0;
}

/** This process's environment as it was before the BLAS addon loaded, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (ORIGINAL_OPENBLAS_THREADS === undefined) delete env.OPENBLAS_NUM_THREADS;
  else env.OPENBLAS_NUM_THREADS = ORIGINAL_OPENBLAS_THREADS;
  return { ...env, ...extra };
}

/** Runs a child, passing its stderr through (its progress lines), and returns its stdout's JSON lines. */
function runChild(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ lines: Record<string, unknown>[]; error?: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: repoRoot(__dirname), env, stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines: Record<string, unknown>[] = [];
      for (const line of stdout.split("\n")) {
        if (!line.trim().startsWith("{")) continue;
        try {
          lines.push(JSON.parse(line));
        } catch {
          // not one of ours
        }
      }
      resolve({ lines, error: code === 0 ? undefined : `exit status ${code}${signal ? ` (signal ${signal})` : ""}` });
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ lines: [], error: e.message });
    });
  });
}

async function measureTorch(o: Options, threads: number): Promise<{ byKey: Map<string, TorchMeasurement>; version?: string; error?: string }> {
  const configs = o.sizes.flatMap((sizeName) => {
    const s = stepsFor(sizeName, o);
    return o.cells.map((cell) => torchConfig(cell, sizeName, SIZES[sizeName], s.timed, s.warmup + 1));
  });
  const r = await runChild("/usr/bin/python3", [path.join(__dirname, "torch_cells.py"), "--threads", String(threads), "--configs", JSON.stringify(configs)], childEnv({ OMP_WAIT_POLICY: "PASSIVE", OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) }), 30 * 60_000);
  const byKey = new Map<string, TorchMeasurement>();
  for (const line of r.lines) byKey.set(line.key as string, line as unknown as TorchMeasurement);
  return { byKey, version: r.lines[0]?.torchVersion as string | undefined, error: r.error ? `pytorch ${threads} thread(s): ${r.error}` : undefined };
}

async function measureWasmRows(o: Options): Promise<{ measurements: Measurement[]; errors: string[]; choice?: { backend: string; matmul: string } }> {
  const lmSizes = o.sizes.filter((s) => SIZES[s].kind === "lm");
  if (!lmSizes.length) return { measurements: [], errors: [] };
  const args = ["--import", "tsx", __filename, "--child", "--sizes", lmSizes.join(","), "--cells", o.cells.join(",")];
  if (o.quick) args.push("--quick");
  if (o.steps !== undefined) args.push("--steps", String(o.steps));
  const r = await runChild(process.execPath, args, childEnv({ RNNLAB_MATMUL: "wasm" }), 60 * 60_000);
  const out = r.lines.find((l) => l.kind === "training-speed-child") as { measurements: Measurement[]; errors: string[]; backend: string; matmul: string } | undefined;
  if (!out) return { measurements: [], errors: [`wasm-matmul child: ${r.error ?? "no result on stdout"}`] };
  return { measurements: out.measurements, errors: [...out.errors, ...(r.error ? [`wasm-matmul child: ${r.error}`] : [])], choice: { backend: out.backend, matmul: out.matmul } };
}

async function measureNcGruPaperWidth(o: Options): Promise<NcGruPaperWidth> {
  const m = await measureTraining("ncgru", "paper-width", NCGRU_PAPER_SIZE, { steps: o.quick ? 2 : 5, warmupSteps: 1, profile: false, orthogonalTiming: true });
  const t = m.orthogonal!;
  log(describeMeasurement("rnnlab", m, `; orthogonal update ${t.updateMsMedian.toFixed(1)} ms (${(100 * t.updateFraction).toFixed(1)} %), orthogonality error ${t.errorMsMedian.toFixed(1)} ms (${(100 * t.errorFraction).toFixed(1)} %)`));
  return { config: NCGRU_PAPER_SIZE, stepMsMedian: round(m.stepMsMedian, 1)!, tokensPerSecond: round(m.tokensPerSecond, 1)!, orthogonal: t };
}

/**
 * 4 arm x seed runs of a small ATN experiment (atn/adding at its cpu preset with T = 100 and 1,000 steps; LSTM and LN-LSTM
 * arms, 2 seeds; --quick: the smoke preset) through runExperiment, with 1 lane (in this process) and 2 lanes
 * (child processes: their start-up counts, as it does for `rnnlab run --jobs 2`), each into a fresh
 * temporary results root. Runs are ordered arm by arm, so each of 2 lanes gets one run of each arm.
 */
async function measureLanes(o: Options): Promise<LanesMeasurement> {
  const experiment = "atn/adding";
  const preset = o.quick ? "smoke" : "cpu";
  const arms = ["lstm", "layerNorm"];
  const seeds = [0, 1];
  // Runs long enough (T = 100 as the authors, 1,000 steps: ~15-40 s each) that a lane's process start-up
  // (~3 s: tsx and TF.js) is a small part of it, as in real experiments.
  const overrides: string[] = o.quick ? [] : ["train.steps=1000", "task.length=100"];
  const seconds: number[] = [];
  for (const jobs of [1, 2]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnlab-bench-lanes-"));
    try {
      const t0 = performance.now();
      await runExperiment(experiment, { preset, arms, seeds, overrides, resultsDir: dir, rerun: true, jobs });
      seconds.push((performance.now() - t0) / 1000);
      log(`lanes: ${arms.length * seeds.length} runs of ${experiment} (${preset}) in ${jobs} lane${jobs > 1 ? "s" : ""}: ${seconds[seconds.length - 1].toFixed(1)} s (load ${loadAverage()})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return { experiment, preset, arms, seeds, overrides, runs: arms.length * seeds.length, oneLaneSeconds: round(seconds[0], 2)!, twoLaneSeconds: round(seconds[1], 2)!, throughputRatio: round(seconds[0] / seconds[1], 3)! };
}

async function child(o: Options): Promise<void> {
  const choice = await selectBackend();
  const { measurements, errors } = await measureRows(o, o.sizes, `rnnlab (${choice.label}, matmul ${choice.matmul})`);
  process.stdout.write(JSON.stringify({ kind: "training-speed-child", backend: choice.label, matmul: choice.matmul, measurements, errors }) + "\n");
}

function blasLabel(choice: BackendChoice): string | null {
  return choice.blas ? describeBlas(choice.blas) : null;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) return child(o);
  const started = Date.now();
  const loadAtStart = loadAverage();
  const choice = await selectBackend();
  const env = environmentInfo(choice);
  log(`bench: backend ${choice.label}${choice.blas ? ` (${describeBlas(choice.blas)})` : ""}, matmul ${choice.matmul}, tfjs ${env.tfjs}, node ${env.node}, ${env.cpu} x ${env.cores}; load ${loadAtStart}`);
  const errors: string[] = [];

  const phase = (name: string) => log(`bench: ${name} (${((Date.now() - started) / 60000).toFixed(1)} min so far)`);
  const main = await measureRows(o, o.sizes, `rnnlab (${choice.label})`);
  errors.push(...main.errors);
  const ncgru = o.paperWidth && o.cells.includes("ncgru") ? await measureNcGruPaperWidth(o).catch((e) => (errors.push(`ncgru paper width: ${e instanceof Error ? e.message : e}`), null)) : null;

  const torch: Map<string, TorchMeasurement>[] = [new Map(), new Map()];
  let pytorchVersion: string | null = null;
  if (o.torch) {
    phase("PyTorch at 1 and 2 threads");
    if (!torchAvailable()) errors.push("PyTorch not available (/usr/bin/python3 -c 'import torch' failed); its columns are empty");
    else
      for (const threads of [1, 2]) {
        const t = await measureTorch(o, threads);
        torch[threads - 1] = t.byKey;
        pytorchVersion ??= t.version ?? null;
        if (t.error) errors.push(t.error);
      }
  }

  let wasmRows: BenchRow[] = [];
  let wasmMatmul: TrainingSpeedResult["wasmMatmul"];
  if (o.wasm) {
    if (choice.matmul !== "blas") errors.push(`this process already uses matmul "${choice.matmul}": no separate wasm-matmul rows`);
    else {
      phase("the LM rows with RNNLAB_MATMUL=wasm");
      const w = await measureWasmRows(o);
      errors.push(...w.errors);
      wasmRows = w.measurements.map((m) => buildRow(m));
      if (w.choice) wasmMatmul = w.choice;
    }
  }

  let lanes: TrainingSpeedResult["lanes"] = null;
  if (o.lanes) {
    phase("lanes");
    try {
      lanes = await measureLanes(o);
    } catch (e) {
      lanes = { error: e instanceof Error ? e.message.split("\n")[0] : String(e) };
      errors.push(`lanes: ${lanes.error}`);
      log(`lanes: ${lanes.error}`);
    }
  }

  const rows = main.measurements.map((m) => buildRow(m, torch[0].get(`${m.cell}/${m.size}`), torch[1].get(`${m.cell}/${m.size}`)));
  const result: TrainingSpeedResult = {
    schemaVersion: TRAINING_SPEED_SCHEMA_VERSION,
    benchmark: "training-speed",
    description:
      "rnnlab's trainers (trainLanguageModel, trainSyntheticTask) on generated data per cell family and size, beside the same model in PyTorch at 1 and 2 threads; tokens/s = tokens per step / median step time after warm-up.",
    date: new Date().toISOString(),
    durationSeconds: round((Date.now() - started) / 1000, 1)!,
    quick: o.quick,
    machine: { cpuModel: env.cpu, cores: env.cores, memoryGiB: env.memoryGiB, platform: env.platform, loadAverageAtStart: loadAtStart },
    backend: choice.label,
    matmul: choice.matmul,
    blas: blasLabel(choice),
    tfjsVersion: env.tfjs,
    nodeVersion: env.node,
    pytorchVersion,
    gitCommit: env.gitCommit,
    sizes: Object.fromEntries(o.sizes.map((s) => [s, SIZES[s] as SizeSpec])),
    steps: Object.fromEntries(o.sizes.map((s) => [s, stepsFor(s, o)])),
    rows,
    wasmRows,
    wasmMatmul,
    lanes,
    ncgruPaperWidth: ncgru,
    targets: computeTargets(rows, wasmRows, lanes && "throughputRatio" in lanes ? lanes : undefined, ncgru ?? undefined),
    errors,
  };
  const file = path.join(resultsDir(), "bench", o.quick ? "training-speed.quick.json" : "training-speed.json");
  writeJsonAtomic(file, result);
  log(`bench: wrote ${file} (${((Date.now() - started) / 60000).toFixed(1)} min)`);
  for (const [name, t] of Object.entries(result.targets)) log(`target ${name}: ${t.met === null ? "not measured" : t.met ? "met" : "NOT met"} ${JSON.stringify(t.values)}`);
  if (!o.quick) log(`bench: ${updateReadme(file) ? "updated" : "left unchanged"} the table in packages/experiments/bench/README.md`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : e}\n`);
  process.exit(1);
});
