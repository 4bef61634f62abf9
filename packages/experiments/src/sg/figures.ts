/**
 * Figures and tables of sg/ptb (docs/papers/synthetic-gradients.md: DNI and alternating synthetic/real gradients with SGDR), built
 * from the result JSON only:
 *   - validation perplexity per arm against training tokens (a common axis: BPTT(4T) takes 4× the tokens per
 *     step) or against wall-clock seconds, with the SGDR restarts drawn as vertical lines and the alternating
 *     arm's synthetic-gradient cycles shaded;
 *   - the synthesizer's own loss ‖M(s_t) − δ*_t‖² over training for the arms that have one;
 *   - a summary table: best and final validation perplexity, test perplexity, training time, and the paper's
 *     number (unknown → null) with the paper's setting beside it.
 */
import { lineFigure, type FigureSpec, type Series } from "@rnnlab/plots";
import { sgdrRestartEpochs } from "@rnnlab/train";
import { meanCurve } from "../report";
import type { ExperimentResult, RunRecord } from "../results";
import { compareArms, type ClaimCheck } from "../verdict";
import { restartSchedule, type SgArm, type SgPtbConfig } from "./ptb";

type Row = Record<string, string | number | null>;

const ARM_LABELS: Record<string, string> = {
  bptt: "BPTT(T)",
  dni: "DNI(T)",
  dniRestarts: "DNI(T) + SGDR",
  alternating: "alternating real/SG + SGDR",
  bpttLong: "BPTT(4T) reference",
};
export const sgArmLabel = (arm: string): string => ARM_LABELS[arm] ?? arm;

/** The paper's setting per arm (alternate_sg README, docs/papers/synthetic-gradients.md); its perplexities are not known to us. */
const PAPER_SETTING = "4-layer QRNN 1550, bptt 200 (random length), element-wise QRNN synthesizer, 320 epochs, SGDR base 5";

function firstRun(result: ExperimentResult, arm: string): RunRecord | undefined {
  return Object.values(result.arms[arm]?.runs ?? {})[0];
}

function configOf(result: ExperimentResult): SgPtbConfig {
  const c = result.config as SgPtbConfig | undefined;
  if (!c?.arms || !c.model || !c.restarts) throw new Error(`${result.id}: result.config is not an sg/ptb config (no arms/model/restarts)`);
  return c;
}

/** Tokens (all sequences of the batch) per optimisation step of an arm. */
export function sgTokensPerStep(result: ExperimentResult, arm: string): number {
  const c = configOf(result);
  const a: SgArm | undefined = c.arms[arm as keyof SgPtbConfig["arms"]];
  if (!a) throw new Error(`${result.id}: unknown arm "${arm}"`);
  return c.model.batchSize * c.model.bptt * a.bpttMultiplier;
}


/**
 * SGDR cycles in epochs, with the gradient mode the alternating arm uses in each (cycle 0 real, then flipping);
 * restarts are the starts of every cycle after the first.
 */
export function sgCycles(result: ExperimentResult): { start: number; end: number; mode: "real" | "synthetic" }[] {
  const c = configOf(result);
  const boundaries = [0, ...sgdrRestartEpochs(restartSchedule(c), c.model.epochs).filter((e) => e < c.model.epochs - 1e-9), c.model.epochs];
  return boundaries.slice(0, -1).map((start, k) => ({ start, end: boundaries[k + 1], mode: k % 2 === 0 ? "real" : "synthetic" }));
}

/** Linear interpolation of y(x) on sorted xs (clamped at the ends). */
function interpolate(xs: number[], ys: number[], x: number): number {
  if (xs.length === 0) return NaN;
  if (x <= xs[0]) return ys[0] * (xs[0] > 0 ? x / xs[0] : 1);
  for (let i = 1; i < xs.length; i++) {
    if (x <= xs[i]) return ys[i - 1] + ((ys[i] - ys[i - 1]) * (x - xs[i - 1])) / (xs[i] - xs[i - 1]);
  }
  return ys[ys.length - 1];
}

/** Converts an arm's step to the figure's x: thousands of training tokens, or wall-clock seconds of that arm. */
function xOfStep(result: ExperimentResult, arm: string, axis: "tokens" | "seconds"): (step: number) => number {
  if (axis === "tokens") {
    const perStep = sgTokensPerStep(result, arm);
    return (step) => (step * perStep) / 1000;
  }
  const elapsed = firstRun(result, arm)?.curves.validElapsedSeconds;
  if (!elapsed || elapsed.step.length === 0) throw new Error(`${result.id}: arm "${arm}" recorded no validElapsedSeconds curve; rerun the experiment`);
  return (step) => interpolate(elapsed.step, elapsed.value, step);
}

/** Steps per epoch of an arm (fixed-length windows: steps / epochs). */
function stepsPerEpoch(result: ExperimentResult, arm: string): number {
  const steps = firstRun(result, arm)?.final.steps;
  if (!steps) throw new Error(`${result.id}: arm "${arm}" has no final.steps`);
  return steps / configOf(result).model.epochs;
}

/** Vertical restart lines and shaded synthetic-gradient cycles (of the alternating arm) in x units. */
function cycleShapes(result: ExperimentResult, toX: (step: number) => number, reference: string): Record<string, unknown>[] {
  const perEpoch = stepsPerEpoch(result, reference);
  const shapes: Record<string, unknown>[] = [];
  for (const [k, cycle] of sgCycles(result).entries()) {
    const x0 = toX(cycle.start * perEpoch);
    const x1 = toX(cycle.end * perEpoch);
    if (k > 0) shapes.push({ type: "line", xref: "x", yref: "paper", x0, x1: x0, y0: 0, y1: 1, line: { color: "#888", dash: "dash", width: 1 } });
    if (cycle.mode === "synthetic") shapes.push({ type: "rect", xref: "x", yref: "paper", x0, x1, y0: 0, y1: 1, fillcolor: "#9467bd", opacity: 0.08, line: { width: 0 } });
  }
  return shapes;
}

function seriesOn(result: ExperimentResult, curve: string, axis: "tokens" | "seconds", arms: string[]): Series[] {
  const out: Series[] = [];
  for (const arm of arms) {
    const s = meanCurve(result, arm, curve);
    if (!s) continue;
    const toX = xOfStep(result, arm, axis);
    out.push({ ...s, name: sgArmLabel(arm), x: s.x.map(toX), dash: arm === "bpttLong" ? "dash" : "solid" });
  }
  return out;
}

function presetNote(result: ExperimentResult): string {
  const seeds = result.seeds.length;
  return `${result.preset} preset, ${seeds} seed${seeds === 1 ? "" : "s"}${seeds > 1 ? ", mean ± std" : ""}`;
}

/**
 * Validation perplexity per arm against thousands of training tokens or wall-clock seconds (log y), with the
 * uniform-guess perplexity (= vocabulary size) drawn in, SGDR restarts as dashed vertical lines and the
 * alternating arm's synthetic-gradient cycles shaded. On the seconds axis the marks follow the alternating arm's clock.
 */
export function sgPerplexityFigure(result: ExperimentResult, axis: "tokens" | "seconds"): FigureSpec {
  const arms = Object.keys(result.arms);
  const series = seriesOn(result, "validPerplexity", axis, arms);
  if (series.length === 0) throw new Error(`${result.id}: no arm recorded validPerplexity`);
  const vocabulary = (firstRun(result, arms[0])?.extra as { vocabularySize?: number } | undefined)?.vocabularySize;
  const spec = lineFigure({
    title: `${result.id}: validation perplexity vs ${axis === "tokens" ? "training tokens" : "wall clock"} (${presetNote(result)}; dashed: SGDR restarts, shaded: alternating arm's SG cycles)`,
    xTitle: axis === "tokens" ? "training tokens (thousands)" : "wall-clock seconds (training + evaluation, shared 2-core CPU)",
    yTitle: "validation perplexity",
    series,
    references: vocabulary ? [{ name: `uniform guess (${vocabulary} words)`, y: vocabulary }] : [],
    logY: true,
  });
  const reference = result.arms.alternating ? "alternating" : arms[0];
  return { ...spec, layout: { ...spec.layout, shapes: cycleShapes(result, xOfStep(result, reference, axis), reference) } };
}

/** The synthesizer's loss ‖M(s_t) − δ*_t‖² (per element, as trained) over training tokens, log y, cycles marked. */
export function sgSynthesizerLossFigure(result: ExperimentResult): FigureSpec {
  const arms = Object.keys(result.arms).filter((arm) => firstRun(result, arm)?.curves.synthesizerLoss?.step.length);
  const series = seriesOn(result, "synthesizerLoss", "tokens", arms);
  if (series.length === 0) throw new Error(`${result.id}: no arm recorded synthesizerLoss`);
  const spec = lineFigure({
    title: `${result.id}: synthesizer loss ‖M(s) − δ*‖² (${presetNote(result)}; dashed: restarts, shaded: alternating arm's SG cycles)`,
    xTitle: "training tokens (thousands)",
    yTitle: "synthesizer loss",
    series,
    logY: true,
  });
  const reference = result.arms.alternating ? "alternating" : arms[0];
  return { ...spec, layout: { ...spec.layout, shapes: cycleShapes(result, xOfStep(result, reference, "tokens"), reference) } };
}

/** Learning rate and gradient mode (1 = synthetic) of the SGDR arms over training tokens. */
export function sgScheduleFigure(result: ExperimentResult): FigureSpec {
  const arms = ["dniRestarts", "alternating"].filter((arm) => result.arms[arm]);
  const lr = seriesOn(result, "learningRate", "tokens", arms).map((s) => ({ ...s, name: `${s.name}: learning rate` }));
  const mode = seriesOn(result, "syntheticGradientMode", "tokens", arms).map((s) => ({ ...s, name: `${s.name}: synthetic gradients on (1) / off (0)` }));
  if (lr.length === 0) throw new Error(`${result.id}: no learningRate curve recorded; rerun the experiment`);
  const peak = Math.max(...lr.flatMap((s) => s.y));
  const scaled = mode.map((s) => ({ ...s, y: s.y.map((v) => v * peak), dash: "dot" as const, name: `${s.name} (drawn at the peak learning rate)` }));
  const spec = lineFigure({
    title: `${result.id}: SGDR learning rate and gradient mode per step (${result.preset} preset; both arms share the learning rate)`,
    xTitle: "training tokens (thousands)",
    yTitle: "learning rate",
    series: [...lr, ...scaled],
  });
  // The mode is a step function: draw it as steps, not ramps between the stored (downsampled) points.
  const data = spec.data.map((t) => (String((t as { name?: string }).name ?? "").includes("synthetic gradients") ? { ...t, line: { ...((t as { line?: object }).line ?? {}), shape: "hv" } } : t));
  return { ...spec, data };
}

/**
 * One row per arm: window, gradients, schedule, best and final validation perplexity, test perplexity
 * (the primary metric), training seconds, and the paper's number (null: unknown) with its setting.
 */
export function sgSummaryRows(result: ExperimentResult): Row[] {
  const c = configOf(result);
  const rows: Row[] = [];
  for (const arm of Object.keys(result.arms)) {
    const a = c.arms[arm as keyof SgPtbConfig["arms"]];
    const run = firstRun(result, arm);
    const curve = run?.curves.validPerplexity?.value ?? [];
    const reported = result.reported.values[arm];
    rows.push({
      arm: sgArmLabel(arm),
      window: c.model.bptt * (a?.bpttMultiplier ?? 1),
      gradients: a?.gradients ?? null,
      schedule: a?.schedule ?? null,
      bestValidPerplexity: curve.length ? Math.min(...curve) : null,
      finalValidPerplexity: run?.final.validPerplexity ?? null,
      testPerplexity: result.arms[arm].summary.testPerplexity?.mean ?? null,
      trainSeconds: run?.final.trainSeconds ?? null,
      paperTestPerplexity: reported === undefined ? null : reported,
      paperSetting: PAPER_SETTING,
    });
  }
  return rows;
}

/** The two claims as numbers from the result: DNI vs BPTT(T), and alternating vs DNI + SGDR (test perplexity). */
export function sgClaims(result: ExperimentResult): { dniMinusBptt: number; alternatingMinusDniRestarts: number; dniBeatsBptt: boolean; alternatingAtLeastAsGood: boolean } {
  const test = (arm: string) => {
    const v = result.arms[arm]?.summary.testPerplexity?.mean;
    if (v === undefined) throw new Error(`${result.id}: arm "${arm}" has no testPerplexity`);
    return v;
  };
  const dniMinusBptt = test("dni") - test("bptt");
  const alternatingMinusDniRestarts = test("alternating") - test("dniRestarts");
  return { dniMinusBptt, alternatingMinusDniRestarts, dniBeatsBptt: dniMinusBptt < 0, alternatingAtLeastAsGood: alternatingMinusDniRestarts <= 0 };
}

/**
 * The claims as verdicts on test perplexity (docs/papers/README.md, "How verdicts are decided"): DNI(T)
 * beats BPTT(T); alternating real/synthetic gradients beat DNI(T) + SGDR and BPTT(T). The trivial reference
 * is a uniform guess over the vocabulary (perplexity = vocabulary size).
 */
export function sgVerdicts(result: ExperimentResult): ClaimCheck[] {
  const vocabulary = Object.values(result.arms)
    .flatMap((a) => Object.values(a.runs))
    .map((r) => (r.extra as { vocabularySize?: number } | undefined)?.vocabularySize)
    .find((v): v is number => typeof v === "number" && v > 1);
  const trivial = vocabulary ? { value: vocabulary, label: "uniform guess over the vocabulary" } : undefined;
  const claim = (arm: string, baselineArm: string, claim: string) =>
    compareArms(result, { claim, metric: "testPerplexity", lowerIsBetter: true, arm, baselineArm, trivial, labels: ARM_LABELS });
  return [
    claim("dni", "bptt", "With the short window T, DNI(T) reaches a lower test perplexity than truncated BPTT(T)"),
    claim("alternating", "dniRestarts", "Alternating real/synthetic gradients at SGDR restarts beat DNI(T) + SGDR"),
    claim("alternating", "bptt", "Alternating real/synthetic gradients beat truncated BPTT(T)"),
    // A reference check, not a paper claim: is truncation the bottleneck at this budget (same tokens, a quarter of the updates)?
    claim("bpttLong", "bptt", "Reference: BPTT(4T) on the same tokens (a quarter of the updates) beats BPTT(T)"),
  ];
}
