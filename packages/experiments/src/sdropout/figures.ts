/**
 * Structured-dropout figures and tables (Sarma et al., NeurIPS 2021; docs/papers/structured-dropout.md), built from result
 * JSON only:
 *   - speed table: per arm, seconds per training step, speedup = (per-element dropout's s/step) ÷ (the
 *     arm's s/step), the task metric, and the paper's reported 1.23–1.64× range beside it, with the
 *     backend and machine that produced the timing;
 *   - quality vs training time: a curve per arm against training seconds, where training seconds at
 *     step s = s × the arm's measured seconds per step (evaluation time excluded, so arms evaluated
 *     equally often stay comparable);
 *   - speedup vs dropout rate, from the rate sweep.
 */
import { lineFigure, type FigureSpec, type Series } from "@rnnlab/plots";
import { meanCurve } from "../report";
import type { ExperimentResult } from "../results";
import { compareArms, compareRatio, type ClaimCheck, type MetricSpec } from "../verdict";

type Row = Record<string, string | number | null>;

/** The paper's reported training-time speedup range (abstract; per-task values unknown [U]). */
export const SDROPOUT_PAPER_SPEEDUP = { low: 1.23, high: 1.64 };

/** Mean over seeds of a final metric of one arm (undefined when no run recorded it). */
function armMean(result: ExperimentResult, arm: string, metric: string): number | undefined {
  const m = result.arms[arm]?.summary[metric]?.mean;
  return m !== undefined && Number.isFinite(m) ? m : undefined;
}

/** "wasm, AMD EPYC … ×2 cores, tfjs 4.22.0": where the timings of a result were measured. */
export function timingEnvironment(result: ExperimentResult): string {
  const e = result.environment;
  return `${e.backend} backend, tfjs ${e.tfjsVersion}, ${e.cpuModel} (${e.cpuCount} cores), node ${e.nodeVersion}`;
}

/**
 * One row per arm: s/step, speedup over the per-element arm with the same suffix ("structured-p50" and
 * "structured-window-p50" → "elementwise-p50"),
 * the primary metric, and the paper's speedup range on structured arms.
 */
export function sdropoutSpeedRows(result: ExperimentResult): Row[] {
  const metric = result.primaryMetric.name;
  return Object.keys(result.arms).map((arm) => {
    const reference = arm.replace(/^(structured-window|structured|none)/, "elementwise");
    const own = armMean(result, arm, "secondsPerStep");
    const base = result.arms[reference] ? armMean(result, reference, "secondsPerStep") : undefined;
    const structured = arm.startsWith("structured");
    return {
      arm,
      secondsPerStep: own ?? null,
      [`speedup vs ${reference}`]: own !== undefined && base !== undefined ? base / own : null,
      // Epoch-based trainers record the last epoch's training seconds (evaluation excluded).
      ...(armMean(result, arm, "epochTrainSeconds") !== undefined ? { "train s / epoch": armMean(result, arm, "epochTrainSeconds")! } : {}),
      [metric]: armMean(result, arm, metric) ?? null,
      steps: armMean(result, arm, "steps") ?? null,
      "paper speedup": structured ? `${SDROPOUT_PAPER_SPEEDUP.low}–${SDROPOUT_PAPER_SPEEDUP.high}× (range over tasks)` : null,
      [`paper ${result.reported.metric}`]: result.reported.values[arm] ?? null,
    };
  });
}

/**
 * Seconds per step of an arm: the measured `secondsPerStep`, else (runs too short for the step timer,
 * e.g. the smoke preset) `trainSeconds / steps`, which includes evaluation.
 */
function stepSeconds(result: ExperimentResult, arm: string): number | undefined {
  const measured = armMean(result, arm, "secondsPerStep");
  if (measured !== undefined) return measured;
  const seconds = armMean(result, arm, "trainSeconds");
  const steps = armMean(result, arm, "steps");
  return seconds !== undefined && steps ? seconds / steps : undefined;
}

/**
 * `curve` (validation metric or train loss) per arm against training seconds (step × the arm's mean seconds per step), with
 * the backend and machine in the title. Perplexity curves use a log axis.
 */
export function sdropoutQualityVsTimeFigure(result: ExperimentResult, curve: string): FigureSpec {
  const series: Series[] = [];
  for (const arm of Object.keys(result.arms)) {
    const s = meanCurve(result, arm, curve);
    const secondsPerStep = stepSeconds(result, arm);
    if (!s || secondsPerStep === undefined) continue;
    series.push({ ...s, x: s.x.map((step) => step * secondsPerStep) });
  }
  if (series.length === 0) throw new Error(`${result.id}: no arm recorded both the curve "${curve}" and its time per step`);
  return lineFigure({
    title: `${result.id}: ${curve} vs training time (${result.preset} preset)<br><sub>${timingEnvironment(result)}</sub>`,
    xTitle: "training seconds (step × measured s/step, evaluation excluded)",
    yTitle: curve,
    series,
    logY: /Perplexity$/.test(curve),
  });
}

/**
 * Speedup of structured over per-element dropout against the dropout rate, from a rate sweep whose arms
 * are named `<kind>-p<100·rate>`, with the paper's range drawn as two reference lines.
 */
export function sdropoutSpeedupVsRateFigure(result: ExperimentResult): FigureSpec {
  const rates = [...new Set(Object.keys(result.arms).map((a) => /-p(\d+)$/.exec(a)?.[1]).filter((r): r is string => r !== undefined))].sort();
  const series: Series[] = [];
  for (const [kind, name] of [
    ["structured", "structured, new keep set every step"],
    ["structured-window", "structured, one keep set per BPTT window"],
  ]) {
    const points = rates
      .map((r) => {
        const e = armMean(result, `elementwise-p${r}`, "secondsPerStep");
        const s = armMean(result, `${kind}-p${r}`, "secondsPerStep");
        return e !== undefined && s !== undefined ? { rate: Number(r) / 100, speedup: e / s } : undefined;
      })
      .filter((p): p is { rate: number; speedup: number } => p !== undefined)
      .sort((a, b) => a.rate - b.rate);
    if (points.length) series.push({ name, x: points.map((p) => p.rate), y: points.map((p) => p.speedup) });
  }
  if (series.length === 0) throw new Error(`${result.id}: no rate with both elementwise-p<r> and structured-p<r> timings`);
  return lineFigure({
    title: `${result.id}: structured ÷ per-element speedup vs dropout rate (${result.preset} preset)<br><sub>${timingEnvironment(result)}</sub>`,
    xTitle: "dropout rate p",
    yTitle: "speedup (per-element s/step ÷ structured s/step)",
    series,
    references: [
      { name: `paper, low end (${SDROPOUT_PAPER_SPEEDUP.low}×)`, y: SDROPOUT_PAPER_SPEEDUP.low },
      { name: `paper, high end (${SDROPOUT_PAPER_SPEEDUP.high}×)`, y: SDROPOUT_PAPER_SPEEDUP.high },
      { name: "no speedup (1×)", y: 1 },
    ],
  });
}

/**
 * Where a training step's time goes, per arm (mean over seeds of the profiled passes recorded in each
 * run's `extra.timeBreakdown`, adapters/lm-profile.ts): matMul, gather/scatter and other kernel
 * milliseconds per forward + backward pass, the matMul share, and the most expensive kernels.
 */
export function sdropoutTimeBreakdownRows(result: ExperimentResult): Row[] {
  const rows: Row[] = [];
  for (const [arm, a] of Object.entries(result.arms)) {
    const profiles = Object.values(a.runs)
      .map((r) => r.extra?.timeBreakdown as { matMulMs: number; gatherScatterMs: number; otherMs: number; kernelMs: number; topKernels: { name: string; ms: number }[] } | undefined)
      .filter((p): p is NonNullable<typeof p> => p !== undefined);
    if (profiles.length === 0) continue;
    const mean = (f: (p: (typeof profiles)[number]) => number) => profiles.reduce((acc, p) => acc + f(p), 0) / profiles.length;
    const kernel = mean((p) => p.kernelMs);
    rows.push({
      arm,
      "matMul ms": mean((p) => p.matMulMs),
      "gather/scatter ms": mean((p) => p.gatherScatterMs),
      "other ms": mean((p) => p.otherMs),
      "kernel ms per pass": kernel,
      "matMul share": kernel > 0 ? mean((p) => p.matMulMs) / kernel : null,
      "top kernels (ms)": profiles[0].topKernels.slice(0, 4).map((k) => `${k.name} ${k.ms.toFixed(0)}`).join(", "),
    });
  }
  if (rows.length === 0) throw new Error(`${result.id}: no run recorded extra.timeBreakdown (profile.steps = 0, or results from before profiling)`);
  return rows;
}

/**
 * The closing table: per experiment and structured arm, the speedup over per-element dropout at the same
 * rate and the primary metric of both arms with their difference (structured − per-element), beside the
 * paper's speedup range.
 */
export function sdropoutSummaryRows(results: ExperimentResult[]): Row[] {
  const rows: Row[] = [];
  for (const result of results) {
    const metric = result.primaryMetric.name;
    for (const arm of Object.keys(result.arms).filter((a) => a.startsWith("structured"))) {
      const reference = arm.replace(/^(structured-window|structured)/, "elementwise");
      const own = armMean(result, arm, "secondsPerStep");
      const base = armMean(result, reference, "secondsPerStep");
      const m = armMean(result, arm, metric);
      const mBase = armMean(result, reference, metric);
      rows.push({
        experiment: result.id,
        arm,
        "vs": reference,
        speedup: own !== undefined && base !== undefined ? base / own : null,
        metric,
        "per-element": mBase ?? null,
        structured: m ?? null,
        "difference (structured − per-element)": m !== undefined && mBase !== undefined ? m - mBase : null,
        "paper speedup": `${SDROPOUT_PAPER_SPEEDUP.low}–${SDROPOUT_PAPER_SPEEDUP.high}×`,
      });
    }
  }
  return rows;
}

/** A "no loss" claim tolerates a loss of this share of the per-element arm's mean (stated before the runs). */
export const SDROPOUT_NO_LOSS_MARGIN = 0.02;

/** Seconds per step of one run: the measured secondsPerStep, else trainSeconds / steps (includes evaluation). */
const runStepSeconds: MetricSpec = {
  name: "secondsPerStep",
  of: (f) => (Number.isFinite(f.secondsPerStep) ? f.secondsPerStep : Number.isFinite(f.trainSeconds) && f.steps > 0 ? f.trainSeconds / f.steps : undefined),
};

/**
 * The paper's claim per structured arm, checked against the per-element arm at the same rate (docs/papers/README.md,
 * "How verdicts are decided"): faster per step (the mean per-seed speedup's interval above 1; the paper's
 * range is shown beside it) and no loss of the primary metric (tolerated loss: SDROPOUT_NO_LOSS_MARGIN of the
 * per-element mean).
 */
export function sdropoutVerdicts(result: ExperimentResult): { speed: ClaimCheck[]; quality: ClaimCheck[] } {
  const metric = result.primaryMetric.name;
  const speed: ClaimCheck[] = [];
  const quality: ClaimCheck[] = [];
  for (const arm of Object.keys(result.arms).filter((a) => a.startsWith("structured"))) {
    const reference = arm.replace(/^(structured-window|structured)/, "elementwise");
    speed.push(
      compareRatio(result, {
        claim: `${arm} trains faster per step than ${reference} (paper: ${SDROPOUT_PAPER_SPEEDUP.low}–${SDROPOUT_PAPER_SPEEDUP.high}× over its tasks)`,
        metric: runStepSeconds,
        arm,
        baselineArm: reference,
      }),
    );
    const mean = result.arms[reference]?.summary[metric]?.mean;
    quality.push(
      compareArms(result, {
        claim: `${arm} loses no ${metric} against ${reference} (tolerated loss: ${SDROPOUT_NO_LOSS_MARGIN * 100}% of ${reference}'s mean)`,
        metric,
        lowerIsBetter: result.primaryMetric.lowerIsBetter,
        arm,
        baselineArm: reference,
        direction: "noWorse",
        margin: mean !== undefined && Number.isFinite(mean) ? SDROPOUT_NO_LOSS_MARGIN * Math.abs(mean) : 0,
      }),
    );
  }
  return { speed, quality };
}
