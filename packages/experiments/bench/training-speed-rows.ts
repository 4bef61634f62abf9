/**
 * The training-speed bench's measurements and rows (training-speed.ts is the entry point; the unit test
 * runs these on a tiny config).
 *
 * A measurement trains with rnnlab's own trainers (trainLanguageModel, trainSyntheticTask) on generated
 * data and times the steps from their progress events (StepTimer: the interval between two consecutive
 * "step" events is one step: the window's tensors, forward, backward, clipping, the optimizer update,
 * NC-GRU's orthogonal update and its orthogonality error, the loss read-back). Steps: the first (no
 * interval), `warmupSteps` discarded intervals, `steps` timed intervals (median reported), and with
 * `profile` one more step under tf.profile, whose kernel times give the GEMM fraction of a step.
 * Profiling a step inside a running trainer: the trainer runs its steps synchronously and calls the
 * progress callback between them, so the callback opens a tf.profile whose query promise the next step
 * event resolves; kernels recorded after that event (the trainer's end-of-run evaluation runs before the
 * profile can close) are cut off by count.
 */
import * as os from "node:os";
import { tf, Rng } from "@rnnlab/core";
import {
  OrthogonalUpdater, trainLanguageModel, trainSyntheticTask, type LanguageModelTrainConfig, type OptimizerOptions, type ProgressEvent, type RecurrentCellConfig,
  type SyntheticTrainConfig,
} from "@rnnlab/train";
import { StepTimer } from "../src/adapters/step-timer";
import { addKernelTimes, groupKernelTimes, topKernels } from "../src/adapters/kernel-profile";

export const CELL_NAMES = ["lstm", "g2lstm", "lnlstm", "atnlstm", "gru", "ncgru"] as const;
export type CellName = (typeof CELL_NAMES)[number];

/** The cell families, as the experiments configure them (G2: the g2lstm experiments' τ = 0.9, p = 0.2). */
export const CELLS: Record<CellName, { label: string; cell: RecurrentCellConfig }> = {
  lstm: { label: "LSTM", cell: { kind: "lstm" } },
  g2lstm: { label: "G2-LSTM", cell: { kind: "lstm", gate: { kind: "gumbel", temperature: 0.9, noiseProbability: 0.2 } } },
  lnlstm: { label: "LN-LSTM", cell: { kind: "lstm", normalization: { kind: "layer" } } },
  atnlstm: { label: "ATN-LSTM (k=10)", cell: { kind: "lstm", normalization: { kind: "assortedTime", window: 10 } } },
  gru: { label: "GRU", cell: { kind: "gru" } },
  ncgru: { label: "NC-GRU", cell: { kind: "nc-gru" } },
};

export interface LmSize {
  kind: "lm";
  vocabularySize: number;
  embeddingSize: number;
  hiddenSize: number;
  layers: number;
  batchSize: number;
  bptt: number;
  tieWeights?: boolean;
  optimizer?: "sgd" | "adam";
  learningRate?: number;
  /** NC-GRU's ρ (default: the cell's, floor(0.4·hidden)). */
  negativeOnes?: number;
}

export interface AddingSize {
  kind: "adding";
  hiddenSize: number;
  length: number;
  batchSize: number;
  learningRate?: number;
}

export type SizeSpec = LmSize | AddingSize;

/** Sizes of issue 15: the word-LM sizes (vocabulary 10k, batch 20, bptt 35) and a synthetic-task size. */
export const SIZES = {
  small: { kind: "lm", vocabularySize: 10000, embeddingSize: 200, hiddenSize: 200, layers: 2, batchSize: 20, bptt: 35 },
  medium: { kind: "lm", vocabularySize: 10000, embeddingSize: 650, hiddenSize: 650, layers: 2, batchSize: 20, bptt: 35 },
  synthetic: { kind: "adding", hiddenSize: 128, length: 100, batchSize: 128 },
} as const satisfies Record<string, SizeSpec>;
export type SizeName = keyof typeof SIZES;
export const SIZE_NAMES = Object.keys(SIZES) as SizeName[];

/**
 * NC-GRU at the paper's width (docs/papers/nc-gru.md, char-PTB run.sh): 1 layer, embedding 435 tied,
 * bptt 100, batch 32, Adam 7e-4 (A too), ρ = 50; random characters from a 50-symbol vocabulary.
 */
export const NCGRU_PAPER_SIZE: LmSize = {
  kind: "lm", vocabularySize: 50, embeddingSize: 435, hiddenSize: 435, layers: 1, batchSize: 32, bptt: 100, tieWeights: true, optimizer: "adam", learningRate: 7e-4, negativeOnes: 50,
};

export interface MeasureOptions {
  /** Timed steps (median reported). */
  steps: number;
  /** Intervals discarded after the first step (default 1). */
  warmupSteps?: number;
  /** Profile one more step for the GEMM fraction (default true). */
  profile?: boolean;
  /** Time NC-GRU's OrthogonalUpdater (step and orthogonality error) per step. */
  orthogonalTiming?: boolean;
  seed?: number;
}

export interface OrthogonalTiming {
  /** Median ms per step in OrthogonalUpdater.step (A's gradient, optimizer, Neumann update, U_c). */
  updateMsMedian: number;
  /** Median of update ms / step ms over the timed steps. */
  updateFraction: number;
  /** The same for orthogonalityError(), which the trainers log every step. */
  errorMsMedian: number;
  errorFraction: number;
}

export interface StepProfile {
  /** Wall ms of the profiled step (a little slower than an unprofiled one: the profiler's bookkeeping). */
  stepMs: number;
  /** Kernel ms per group in that step (./kernel-profile.ts). */
  matMulMs: number;
  recurrenceMs: number;
  gatherScatterMs: number;
  otherMs: number;
  kernelMs: number;
  topKernels: { name: string; ms: number; calls: number }[];
}

export interface Measurement {
  cell: CellName;
  size: string;
  tokensPerStep: number;
  stepMsAll: number[];
  stepMsMedian: number;
  tokensPerSecond: number;
  profile?: StepProfile;
  orthogonal?: OrthogonalTiming;
  /** 1-minute load average when the measurement ended (the machine is shared). */
  loadAverage: number;
}

export const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const round = (x: number | undefined | null, digits = 3): number | null => (typeof x === "number" && Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

function randomTokens(rng: Rng, count: number, vocabulary: number): Int32Array {
  const u = rng.fillUniform(new Float32Array(count));
  return Int32Array.from(u, (x) => Math.min(vocabulary - 1, Math.floor(x * vocabulary)));
}

function optimizerOf(name: "sgd" | "adam" | undefined): OptimizerOptions {
  return name === "adam" ? { kind: "adam" } : { kind: "sgd" };
}

function cellConfig(cell: CellName, size: SizeSpec): RecurrentCellConfig {
  const c = CELLS[cell].cell;
  if (c.kind === "nc-gru" && size.kind === "lm" && size.negativeOnes !== undefined) return { ...c, negativeOnes: size.negativeOnes };
  return c;
}

/**
 * Wraps OrthogonalUpdater.step, stepAsync (what the trainers' post-step hook calls) and orthogonalityError
 * with timers while `f` runs (restored after).
 */
async function withOrthogonalTimers<T>(enabled: boolean, f: (totals: { update: number; error: number }) => Promise<T>): Promise<T> {
  const totals = { update: 0, error: 0 };
  if (!enabled) return f(totals);
  const proto = OrthogonalUpdater.prototype;
  const step = proto.step;
  const stepAsync = proto.stepAsync;
  const error = proto.orthogonalityError;
  proto.step = function (this: OrthogonalUpdater, ...args: Parameters<OrthogonalUpdater["step"]>) {
    const t0 = performance.now();
    try {
      return step.apply(this, args);
    } finally {
      totals.update += performance.now() - t0;
    }
  };
  proto.stepAsync = async function (this: OrthogonalUpdater, ...args: Parameters<OrthogonalUpdater["stepAsync"]>) {
    const t0 = performance.now();
    try {
      return await stepAsync.apply(this, args);
    } finally {
      totals.update += performance.now() - t0;
    }
  };
  proto.orthogonalityError = function (this: OrthogonalUpdater) {
    const t0 = performance.now();
    try {
      return error.apply(this);
    } finally {
      totals.error += performance.now() - t0;
    }
  };
  try {
    return await f(totals);
  } finally {
    proto.step = step;
    proto.stepAsync = stepAsync;
    proto.orthogonalityError = error;
  }
}

/** Train `cell` at `size` through rnnlab's trainer for the steps of `options`; time, and profile one step. */
export async function measureTraining(cell: CellName, sizeName: string, size: SizeSpec, options: MeasureOptions): Promise<Measurement> {
  const warmup = options.warmupSteps ?? 1;
  const profiling = options.profile ?? true;
  if (!(Number.isInteger(options.steps) && options.steps >= 1)) throw new Error(`measureTraining: steps=${options.steps} must be a positive integer`);
  const totalSteps = 1 + warmup + options.steps + (profiling ? 1 : 0);
  const seed = options.seed ?? 1;
  const timer = new StepTimer();
  const orthogonalPerStep: { update: number; error: number }[] = [];
  let lastTotals = { update: 0, error: 0 };
  let profilePromise: ReturnType<typeof tf.profile> | undefined;
  let closeProfile: (() => void) | undefined;
  let profiledKernelCount = 0;

  const run = (totals: { update: number; error: number }) => {
    const onProgress = (e: ProgressEvent) => {
      timer.observe(e);
      if (e.kind !== "step") return;
      orthogonalPerStep.push({ update: totals.update - lastTotals.update, error: totals.error - lastTotals.error });
      lastTotals = { ...totals };
      if (profiling && e.step === totalSteps - 1) {
        profilePromise = tf.profile(() => new Promise<void>((resolve) => (closeProfile = resolve)));
      } else if (profiling && e.step === totalSteps && closeProfile) {
        profiledKernelCount = tf.engine().state.activeProfile.kernels.length;
        closeProfile();
      }
    };
    if (size.kind === "lm") {
      const rng = new Rng(seed).fork("bench-data");
      const config: LanguageModelTrainConfig = {
        vocabularySize: size.vocabularySize,
        embeddingSize: size.embeddingSize,
        hiddenSize: size.hiddenSize,
        layers: size.layers,
        tieWeights: size.tieWeights ?? false,
        cell: cellConfig(cell, size),
        batchSize: size.batchSize,
        bptt: size.bptt,
        epochs: 1,
        maxStepsPerEpoch: totalSteps,
        optimizer: optimizerOf(size.optimizer),
        schedule: { kind: "constant", learningRate: size.learningRate ?? 0.1 },
        clipNorm: 0,
        seed,
        modelSelection: "last",
      };
      const data = {
        train: randomTokens(rng, size.batchSize * (size.bptt * totalSteps + 2), size.vocabularySize),
        valid: randomTokens(rng, size.batchSize * 2, size.vocabularySize), // one 1-token window: the trainer's evaluations cost ~nothing
      };
      return trainLanguageModel(config, data, { onProgress });
    }
    const config: SyntheticTrainConfig = {
      task: { kind: "adding", length: size.length },
      cell: cellConfig(cell, size),
      hiddenSize: size.hiddenSize,
      layers: 1,
      batchSize: size.batchSize,
      steps: totalSteps,
      optimizer: { kind: "sgd" },
      schedule: { kind: "constant", learningRate: size.learningRate ?? 0.01 },
      clipNorm: 0,
      seed,
      evaluateEvery: totalSteps,
      evaluationBatches: 1,
    };
    return trainSyntheticTask(config, { onProgress });
  };

  try {
    await withOrthogonalTimers(options.orthogonalTiming ?? false, (totals) => run(totals) as Promise<unknown>);
  } finally {
    closeProfile?.(); // a trainer that threw mid-profile
  }
  const intervals = timer.stepIntervalsMs(); // interval i = step i + 2
  const timed = intervals.slice(warmup, warmup + options.steps);
  if (timed.length !== options.steps) throw new Error(`measureTraining: ${intervals.length} step intervals recorded, expected ${totalSteps - 1}`);
  const tokensPerStep = size.kind === "lm" ? size.batchSize * size.bptt : size.batchSize * size.length;
  const stepMsMedian = median(timed);
  const out: Measurement = {
    cell,
    size: sizeName,
    tokensPerStep,
    stepMsAll: timed.map((x) => round(x, 2)!),
    stepMsMedian,
    tokensPerSecond: tokensPerStep / (stepMsMedian / 1000),
    loadAverage: loadAverage(),
  };
  if (profiling && profilePromise) {
    const info = await profilePromise;
    const byKernel = addKernelTimes(info.kernels.slice(0, profiledKernelCount));
    const g = groupKernelTimes(byKernel);
    out.profile = {
      stepMs: intervals[intervals.length - 1],
      matMulMs: g.matMul,
      recurrenceMs: g.recurrence,
      gatherScatterMs: g.gatherScatter,
      otherMs: g.other,
      kernelMs: g.matMul + g.recurrence + g.gatherScatter + g.other,
      topKernels: topKernels(byKernel, 1, 6),
    };
  }
  if (options.orthogonalTiming) {
    // orthogonalPerStep[j] is what ran up to the (j+1)-th step event since the j-th, i.e. inside intervals[j − 1].
    const per = orthogonalPerStep.slice(1).slice(warmup, warmup + options.steps);
    out.orthogonal = {
      updateMsMedian: median(per.map((p) => p.update)),
      updateFraction: median(per.map((p, i) => p.update / timed[i])),
      errorMsMedian: median(per.map((p) => p.error)),
      errorFraction: median(per.map((p, i) => p.error / timed[i])),
    };
  }
  return out;
}

export function loadAverage(): number {
  return round(os.loadavg()[0], 2) ?? NaN;
}

/** One PyTorch measurement (torch_cells.py's JSON line). */
export interface TorchMeasurement {
  key: string;
  stepMsAll: number[];
  stepMsMedian: number;
  tokensPerSecond: number;
  threads: number;
  torchVersion: string;
}

/** The PyTorch config of a bench row (torch_cells.py's input). */
export function torchConfig(cell: CellName, sizeName: string, size: SizeSpec, steps: number, warmup: number): Record<string, unknown> {
  const key = `${cell}/${sizeName}`;
  if (size.kind === "lm")
    return {
      key, cell, task: "lm", vocab: size.vocabularySize, embedding: size.embeddingSize, hidden: size.hiddenSize, layers: size.layers, batch: size.batchSize, bptt: size.bptt,
      tied: size.tieWeights ?? false, optimizer: size.optimizer ?? "sgd", learningRate: size.learningRate ?? 0.1, negativeOnes: size.negativeOnes ?? null, warmup, steps,
    };
  return { key, cell, task: "adding", hidden: size.hiddenSize, length: size.length, batch: size.batchSize, learningRate: size.learningRate ?? 0.01, warmup, steps };
}

export interface BenchRow {
  cell: CellName;
  cellLabel: string;
  size: string;
  tokensPerSecond: number | null;
  pytorch1ThreadTokensPerSecond: number | null;
  pytorch2ThreadTokensPerSecond: number | null;
  ratioVsPytorch1Thread: number | null;
  ratioVsPytorch2Thread: number | null;
  stepMsMedian: number | null;
  /** BatchMatMul/_FusedMatMul kernel time over the profiled step's wall time. */
  gemmFraction: number | null;
  /** rnnlab's fused native recurrences (their recurrent GEMMs and gate arithmetic) over the step. */
  recurrenceKernelFraction: number | null;
  /** All kernel time over the step (the rest is JavaScript and host work: data, the orthogonal update). */
  kernelFraction: number | null;
  stepMsAll: number[];
  topKernels?: { name: string; ms: number; calls: number }[];
  loadAverage: number;
}

export function buildRow(m: Measurement, torch1?: TorchMeasurement, torch2?: TorchMeasurement): BenchRow {
  const p = m.profile;
  const ratio = (t?: TorchMeasurement) => (t ? round(m.tokensPerSecond / t.tokensPerSecond) : null);
  return {
    cell: m.cell,
    cellLabel: CELLS[m.cell].label,
    size: m.size,
    tokensPerSecond: round(m.tokensPerSecond, 1),
    pytorch1ThreadTokensPerSecond: torch1 ? round(torch1.tokensPerSecond, 1) : null,
    pytorch2ThreadTokensPerSecond: torch2 ? round(torch2.tokensPerSecond, 1) : null,
    ratioVsPytorch1Thread: ratio(torch1),
    ratioVsPytorch2Thread: ratio(torch2),
    stepMsMedian: round(m.stepMsMedian, 1),
    gemmFraction: p ? round(p.matMulMs / p.stepMs) : null,
    recurrenceKernelFraction: p ? round(p.recurrenceMs / p.stepMs) : null,
    kernelFraction: p ? round(p.kernelMs / p.stepMs) : null,
    stepMsAll: m.stepMsAll,
    topKernels: p?.topKernels,
    loadAverage: m.loadAverage,
  };
}

export interface LanesMeasurement {
  experiment: string;
  preset: string;
  arms: string[];
  seeds: number[];
  overrides: string[];
  runs: number;
  oneLaneSeconds: number;
  twoLaneSeconds: number;
  /** oneLaneSeconds / twoLaneSeconds: the throughput of 2 lanes relative to 1. */
  throughputRatio: number;
}

export interface NcGruPaperWidth {
  config: LmSize;
  stepMsMedian: number;
  tokensPerSecond: number;
  orthogonal: OrthogonalTiming;
}

interface Target {
  description: string;
  threshold: number;
  /** The measured values the target reads (row key -> value). */
  values: Record<string, number | null>;
  /** true/false when every value was measured; null when some were not (e.g. --no-torch, --sizes). */
  met: boolean | null;
}

function target(description: string, threshold: number, values: Record<string, number | null>, compare: (v: number) => boolean): Target {
  const measured = Object.values(values);
  const met = measured.length > 0 && measured.every((v) => v !== null) ? measured.every((v) => compare(v as number)) : null;
  return { description, threshold, values, met };
}

/** The targets of issue 15, computed from the rows (benchmark figures, not timed tests). */
export function computeTargets(rows: BenchRow[], wasmRows: BenchRow[], lanes: LanesMeasurement | undefined, ncgru: NcGruPaperWidth | undefined): Record<string, Target> {
  // The LSTM targets are about both LM sizes: a size that was not measured reads null (target not measured).
  const lstmLm = (["small", "medium"] as const).map((size) => ({ size, row: rows.find((r) => r.cell === "lstm" && r.size === size) }));
  const others = rows.filter((r) => r.cell !== "lstm");
  const key = (r: BenchRow) => `${r.cell}/${r.size}`;
  return {
    lstmVsPytorch1Thread: target(
      "plain LSTM LM (small, medium): tokens/s at least 1.0x PyTorch at 1 thread",
      1.0,
      Object.fromEntries(lstmLm.map(({ size, row }) => [`lstm/${size}`, row?.ratioVsPytorch1Thread ?? null])),
      (v) => v >= 1.0,
    ),
    lstmVsWasm: target(
      "plain LSTM LM (small, medium): at least 3x the tokens/s of wasm's own matrix products",
      3.0,
      Object.fromEntries(
        lstmLm.map(({ size, row }) => {
          const w = wasmRows.find((x) => x.cell === "lstm" && x.size === size);
          return [`lstm/${size}`, w?.tokensPerSecond && row?.tokensPerSecond ? round(row.tokensPerSecond / w.tokensPerSecond) : null];
        }),
      ),
      (v) => v >= 3.0,
    ),
    otherCellsVsPytorch1Thread: target("every other cell family: at least 0.8x its PyTorch counterpart at 1 thread", 0.8, Object.fromEntries(others.map((r) => [key(r), r.ratioVsPytorch1Thread])), (v) => v >= 0.8),
    lanes: target("two experiment lanes on 2 cores: at least 1.7x the throughput of one lane (4 arm x seed runs)", 1.7, lanes ? { throughputRatio: round(lanes.throughputRatio) } : {}, (v) => v >= 1.7),
    ncgruOrthogonalUpdate: target("NC-GRU at width 435: the orthogonal update under 10% of the step", 0.1, ncgru ? { updateFraction: round(ncgru.orthogonal.updateFraction) } : {}, (v) => v < 0.1),
  };
}

export const TRAINING_SPEED_SCHEMA_VERSION = 1;

export interface TrainingSpeedResult {
  schemaVersion: number;
  benchmark: "training-speed";
  description: string;
  date: string;
  durationSeconds: number;
  quick: boolean;
  machine: { cpuModel: string; cores: number; memoryGiB: number; platform: string; loadAverageAtStart: number };
  backend: string;
  matmul: string;
  blas: string | null;
  tfjsVersion: string;
  nodeVersion: string;
  pytorchVersion: string | null;
  gitCommit: string | null;
  sizes: Record<string, SizeSpec>;
  steps: Record<string, { warmup: number; timed: number }>;
  rows: BenchRow[];
  wasmRows: BenchRow[];
  wasmMatmul?: { backend: string; matmul: string } | { error: string };
  lanes: LanesMeasurement | { error: string } | null;
  ncgruPaperWidth: NcGruPaperWidth | null;
  targets: Record<string, Target>;
  errors: string[];
}
