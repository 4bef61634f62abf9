/**
 * ATN notebook figures and numbers, built from result JSON only (docs/papers/atn.md, docs/papers/baselines.md):
 *   - a learning curve (mean ± std over seeds) per arm with the task's trivial baseline drawn in
 *     (adding: MSE 1/6; copying: 10·ln 8/(T+20); denoise: 10·ln 9/(T+20); char-PTB has none);
 *   - the window sweep: final test loss (mean ± std) against the ATN window k, from atn/adding's
 *     k = 1 (LN) and k = T/4 arms plus atn/window's `k<k>` arms (same task and training settings);
 *   - a per-arm summary (final loss, loss over baseline, first evaluation step below the baseline)
 *     that the verdict text quotes.
 */
import { lineFigure, type FigureSpec, type Series } from "@rnnlab/plots";
import { meanCurve } from "../report";
import type { ExperimentResult } from "../results";
import { compareArms, type ClaimCheck } from "../verdict";
import type { NormalizationArm } from "./synthetic";

/** Readable arm names for legends and tables. */
export const ATN_ARM_LABELS: Record<string, string> = { lstm: "LSTM", layerNorm: "LN-LSTM", atn: "ATN-LSTM" };

function armLabel(result: ExperimentResult, arm: string): string {
  const k = armWindow(result, arm);
  if (arm === "atn" && k !== undefined) return `ATN-LSTM (k=${k})`;
  return ATN_ARM_LABELS[arm] ?? (arm.startsWith("k") ? `ATN-LSTM (k=${arm.slice(1)})` : arm);
}

/** The ATN window of an arm (1 for LN, undefined for the plain LSTM). */
function armWindow(result: ExperimentResult, arm: string): number | undefined {
  const config = result.config as { arms?: Record<string, NormalizationArm>; windows?: number[] };
  if (config.windows && /^k\d+$/.test(arm)) return Number(arm.slice(1));
  const settings = config.arms?.[arm];
  if (!settings) return undefined;
  if (settings.normalization === "layer") return 1;
  if (settings.normalization === "assortedTime") return settings.window;
  return undefined;
}

function seedText(result: ExperimentResult): string {
  const n = result.seeds.length;
  return `${n} seed${n === 1 ? "" : "s"}${n > 1 ? ", mean ± std" : ""}`;
}

/** The trivial baseline every run of a synthetic task reports (final.baseline), or undefined. */
export function atnBaseline(result: ExperimentResult): number | undefined {
  for (const a of Object.values(result.arms)) {
    for (const r of Object.values(a.runs)) if (Number.isFinite(r.final.baseline)) return r.final.baseline;
  }
  return undefined;
}

/** Learning curve of `curve` per arm (mean ± std over seeds) with the trivial baseline as a dotted line. */
export function atnCurveFigure(result: ExperimentResult, curve: string, options: { yTitle?: string; logY?: boolean } = {}): FigureSpec {
  const series = Object.keys(result.arms)
    .map((arm) => {
      const s = meanCurve(result, arm, curve);
      return s ? { ...s, name: armLabel(result, arm) } : undefined;
    })
    .filter((s): s is Series => s !== undefined);
  if (series.length === 0) throw new Error(`${result.id}: no arm recorded the curve "${curve}" (curves: ${Object.keys(Object.values(Object.values(result.arms)[0]?.runs ?? {})[0]?.curves ?? {}).join(", ")})`);
  const baseline = atnBaseline(result);
  return lineFigure({
    title: `${result.id}: ${curve} (${result.preset} preset, ${seedText(result)})`,
    xTitle: "training step",
    yTitle: options.yTitle ?? curve,
    logY: options.logY,
    series,
    references: baseline === undefined ? [] : [{ name: `trivial baseline ${baseline.toPrecision(3)}`, y: baseline }],
  });
}

export interface AtnWindowPoint {
  window: number;
  mean: number;
  std: number;
  seeds: number;
  /** Which experiment and arm the point comes from. */
  source: string;
}

/** Final `metric` against the ATN window k (k = 1 is LN) from any results whose arms have a window. */
export function atnWindowPoints(results: ExperimentResult[], metric = "testLoss"): AtnWindowPoint[] {
  const points: AtnWindowPoint[] = [];
  for (const result of results) {
    for (const [arm, a] of Object.entries(result.arms)) {
      const k = armWindow(result, arm);
      const s = a.summary[metric];
      if (k === undefined || !s) continue;
      points.push({ window: k, mean: s.mean, std: s.std, seeds: s.n, source: `${result.id}:${arm}` });
    }
  }
  const windows = points.map((p) => p.window);
  const twice = windows.find((k, i) => windows.indexOf(k) !== i);
  if (twice !== undefined) throw new Error(`window k=${twice} appears in more than one result (${points.filter((p) => p.window === twice).map((p) => p.source).join(", ")}); pass results with distinct windows`);
  return points.sort((a, b) => a.window - b.window);
}

/** Final test loss (mean ± std over seeds) against k, with the trivial baseline; the atn/window figure. */
export function atnWindowFigure(results: ExperimentResult[], metric = "testLoss"): FigureSpec {
  const points = atnWindowPoints(results, metric);
  if (points.length === 0) throw new Error(`no arm with an ATN window and a final "${metric}" in ${results.map((r) => r.id).join(", ")}`);
  const baseline = results.map(atnBaseline).find((b) => b !== undefined);
  const seeds = Math.min(...points.map((p) => p.seeds));
  return lineFigure({
    title: `ATN window sweep: final ${metric} vs k (k = 1 is LN; ${results[0].preset} preset, ${seeds} seed${seeds === 1 ? "" : "s"}, mean ± std)`,
    xTitle: "ATN window k (time steps)",
    yTitle: `final ${metric}`,
    series: [{ name: "ATN-LSTM", x: points.map((p) => p.window), y: points.map((p) => p.mean), band: seeds > 1 ? points.map((p) => p.std) : undefined }],
    references: baseline === undefined ? [] : [{ name: `trivial baseline ${baseline.toPrecision(3)}`, y: baseline }],
  });
}

/**
 * One row per arm: final loss (mean ± std), loss over the trivial baseline, the seeds whose final loss is
 * below the baseline, and the mean first evaluation step below the baseline (−1 counted as "never").
 * `metric` is the primary metric (testLoss, or testBitsPerCharacter for char-PTB).
 */
export function atnSummaryRows(result: ExperimentResult): Record<string, string | number | null>[] {
  const metric = result.primaryMetric.name;
  return Object.entries(result.arms).map(([arm, a]) => {
    const runs = Object.values(a.runs);
    const s = a.summary[metric];
    const row: Record<string, string | number | null> = {
      task: result.id,
      arm: armLabel(result, arm),
      [`${metric} mean`]: s?.mean ?? null,
      [`${metric} std`]: s?.std ?? null,
      seeds: runs.length,
    };
    const baseline = atnBaseline(result);
    if (baseline !== undefined) {
      row.baseline = baseline;
      row["loss / baseline"] = s ? s.mean / baseline : null;
      row["seeds below baseline"] = runs.filter((r) => r.final[metric] < baseline).length;
      const firstSteps = runs.map((r) => r.final.stepBelowBaseline).filter((v) => v !== undefined && v >= 0);
      row["first step below baseline (mean of seeds that got there)"] = firstSteps.length ? firstSteps.reduce((x, y) => x + y, 0) / firstSteps.length : null;
    }
    return row;
  });
}

/**
 * The claims as verdicts on the primary metric (docs/papers/README.md, "How verdicts are decided"): ATN-LSTM
 * beats LN-LSTM, and LN-LSTM beats the plain LSTM; for the window sweep every ATN window k > 1 beats LN
 * (the sweep's own k = 1 arm when it has one, else `reference`'s LN arm, which must share its seeds and data,
 * e.g. atn/adding for atn/window). The trivial baseline of a synthetic task is the did-not-learn reference.
 */
export function atnVerdicts(result: ExperimentResult, reference?: ExperimentResult): ClaimCheck[] {
  const metric = result.primaryMetric.name;
  const lowerIsBetter = result.primaryMetric.lowerIsBetter;
  const baseline = metric === "testLoss" ? atnBaseline(result) : undefined;
  const trivial = baseline === undefined ? undefined : { value: baseline, label: "trivial (memoryless) baseline" };
  const labels = Object.fromEntries([...Object.keys(result.arms), ...Object.keys(reference?.arms ?? {})].map((arm) => [arm, armLabel(result.arms[arm] ? result : reference!, arm)]));
  const windowArms = Object.keys(result.arms).filter((arm) => /^k\d+$/.test(arm));
  if (windowArms.length === 0) {
    return [
      compareArms(result, { claim: `ATN-LSTM reaches a lower final ${metric} than LN-LSTM`, metric, lowerIsBetter, arm: "atn", baselineArm: "layerNorm", trivial, labels }),
      compareArms(result, { claim: `LN-LSTM reaches a lower final ${metric} than the plain LSTM`, metric, lowerIsBetter, arm: "layerNorm", baselineArm: "lstm", trivial, labels }),
    ];
  }
  const own = windowArms.find((arm) => armWindow(result, arm) === 1);
  return windowArms
    .filter((arm) => arm !== own)
    .map((arm) =>
      compareArms(result, {
        claim: `ATN-LSTM with window k = ${armWindow(result, arm)} reaches a lower final ${metric} than LN-LSTM`,
        metric,
        lowerIsBetter,
        arm,
        baselineArm: own ?? "layerNorm",
        baselineResult: own ? undefined : reference,
        trivial,
        labels,
      }),
    );
}
