/**
 * NC-GRU notebook figures and numbers, built from result JSON only (docs/papers/nc-gru.md):
 *   - test loss (mean ± std over seeds) per arm with the trivial baseline 10·ln 9/(T+20) (denoise) or
 *     the constant-marginal entropy (parenthesis) drawn in;
 *   - ‖UᵀU − I‖_F over training for one seed of each NC-GRU arm (log scale: the Neumann drift grows
 *     between exact recomputes every K steps and drops to ~1e−15 at each one);
 *   - the gradient norm per step (mean over seeds, log scale), GRU vs NC-GRU;
 *   - the largest orthogonality error seen per arm.
 */
import { lineFigure, type FigureSpec, type Series } from "@rnnlab/plots";
import { meanCurve } from "../report";
import type { ExperimentResult } from "../results";
import { compareArms, compareToValue, type ClaimCheck } from "../verdict";

/** Readable arm names for legends. */
export const NCGRU_ARM_LABELS: Record<string, string> = {
  gru: "GRU",
  ncgru: "NC-GRU(U_c)",
  ncgruReset: "NC-GRU(U_c, U_r)",
  lstm: "LSTM",
  scornn: "scoRNN",
  gruMatched: "GRU (parameter-matched)",
  order1: "Neumann order 1",
  order2: "Neumann order 2",
  order3: "Neumann order 3",
};

const label = (arm: string) => NCGRU_ARM_LABELS[arm] ?? arm;

function seedCount(result: ExperimentResult): string {
  const n = result.seeds.length;
  return `${n} seed${n === 1 ? "" : "s"}${n > 1 ? ", mean ± std" : ""}`;
}

/** Mean over arms and seeds of a final metric (e.g. the trivial baseline every run reports). */
function finalValue(result: ExperimentResult, metric: string): number | undefined {
  for (const arm of Object.values(result.arms)) if (arm.summary[metric]) return arm.summary[metric].mean;
  return undefined;
}

/** A curve (mean ± std over seeds) per arm with the trivial baseline as a reference line. */
export function ncgruLossFigure(result: ExperimentResult, curve = "testLoss"): FigureSpec {
  const series = Object.keys(result.arms)
    .map((arm) => meanCurve(result, arm, curve))
    .filter((s): s is Series => s !== undefined)
    .map((s) => ({ ...s, name: label(s.name) }));
  if (series.length === 0) throw new Error(`ncgruLossFigure: ${result.id} has no "${curve}" curve`);
  const baseline = finalValue(result, "baseline");
  return lineFigure({
    title: `${result.id}: ${curve} vs the trivial baseline (${result.preset} preset, ${seedCount(result)})`,
    xTitle: "step",
    yTitle: curve === "validBitsPerCharacter" ? "bits per character" : "cross-entropy (nats per output)",
    series,
    references: baseline !== undefined ? [{ name: "trivial baseline", y: baseline }] : [],
  });
}

/** ‖UᵀU − I‖_F per step of one seed (the first by default) of every arm that has the curve; log y. */
export function orthogonalityFigure(result: ExperimentResult, seed = result.seeds[0]): FigureSpec {
  const series: Series[] = [];
  for (const [arm, a] of Object.entries(result.arms)) {
    const c = a.runs[String(seed)]?.curves.orthogonalityError;
    if (!c || c.step.length === 0) continue;
    // Exactly orthogonal points (error 0 in float64) cannot be drawn on a log axis; floor them at 1e-16.
    series.push({ name: `${label(arm)} (seed ${seed})`, x: c.step, y: c.value.map((v) => Math.max(v, 1e-16)) });
  }
  if (series.length === 0) throw new Error(`orthogonalityFigure: ${result.id} has no orthogonalityError curve for seed ${seed}`);
  const every = (result.config as { orthogonal?: { recomputeEvery?: number } }).orthogonal?.recomputeEvery;
  return lineFigure({
    title: `${result.id}: ‖UᵀU − I‖_F (max over U_c, U_r)${every ? `, exact recompute every ${every} steps` : ""} (${result.preset} preset)`,
    xTitle: "step",
    yTitle: "‖UᵀU − I‖_F",
    series,
    logY: true,
  });
}

/** Gradient norm per step (before clipping), mean ± std over seeds, per arm; log y. */
export function gradientNormFigure(result: ExperimentResult): FigureSpec {
  const series = Object.keys(result.arms)
    .map((arm) => meanCurve(result, arm, "gradientNorm"))
    .filter((s): s is Series => s !== undefined)
    .map((s) => ({ ...s, name: label(s.name), band: undefined }));
  if (series.length === 0) throw new Error(`gradientNormFigure: ${result.id} has no gradientNorm curve`);
  return lineFigure({
    title: `${result.id}: global gradient norm over training (${result.preset} preset, mean over ${result.seeds.length} seed(s))`,
    xTitle: "step",
    yTitle: "‖∇L‖ (main parameters)",
    series,
    logY: true,
  });
}

/**
 * The largest ‖UᵀU − I‖_F per NC-GRU arm over its seeds: the per-step maximum the run recorded
 * (final `maxOrthogonalityError`), else the maximum of the stored (downsampled) curve.
 */
export function largestOrthogonalityErrors(result: ExperimentResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [arm, a] of Object.entries(result.arms)) {
    const values = Object.values(a.runs).map((r) => r.final.maxOrthogonalityError ?? Math.max(...(r.curves.orthogonalityError?.value ?? [-Infinity])));
    const largest = Math.max(...values);
    if (Number.isFinite(largest)) out[arm] = largest;
  }
  return out;
}

/** One markdown line: the largest ‖UᵀU − I‖_F per NC-GRU arm over all steps and seeds. */
export function largestOrthogonalityErrorsMarkdown(result: ExperimentResult): string {
  const errors = largestOrthogonalityErrors(result);
  const parts = Object.entries(errors).map(([arm, v]) => `${label(arm)} ${v.toExponential(2)}`);
  if (parts.length === 0) return `${result.id}: no orthogonality error recorded.`;
  return `**Largest ‖UᵀU − I‖_F** over every step and seed of ${result.id} (${result.preset} preset): ${parts.join(", ")}.`;
}

/** "Nearly orthogonal": the largest ‖UᵀU − I‖_F of a run, over every step, stays below this. */
export const NCGRU_ORTHOGONALITY_TOLERANCE = 0.05;

/**
 * The claims as verdicts (docs/papers/README.md, "How verdicts are decided"): each NC-GRU arm reaches a lower
 * final primary metric than GRU, than the parameter-matched GRU (when the result has that arm) and than
 * LSTM; and each NC-GRU arm's largest orthogonality error stays below NCGRU_ORTHOGONALITY_TOLERANCE. The
 * trivial baseline of a synthetic task is the did-not-learn reference.
 */
export function ncgruVerdicts(result: ExperimentResult): { accuracy: ClaimCheck[]; orthogonality: ClaimCheck[] } {
  const metric = result.primaryMetric.name;
  const lowerIsBetter = result.primaryMetric.lowerIsBetter;
  const baseline = metric === "testLoss" ? finalValue(result, "baseline") : undefined;
  const trivial = baseline === undefined ? undefined : { value: baseline, label: "trivial baseline" };
  const labels = NCGRU_ARM_LABELS;
  // Only the arms the result has (any set of arms: e.g. ncgru/neumann has neither NC-GRU vs GRU pair).
  const present = (arms: string[]) => arms.filter((arm) => result.arms[arm]);
  const references = present(["gru", "gruMatched", "lstm", "scornn"]);
  const accuracy = present(["ncgru", "ncgruReset"]).flatMap((arm) =>
    references.map((reference) =>
      compareArms(result, { claim: `${labels[arm as keyof typeof labels]} reaches a lower final ${metric} than ${labels[reference as keyof typeof labels]}`, metric, lowerIsBetter, arm, baselineArm: reference, trivial, labels }),
    ),
  );
  const orthogonality = present(["ncgru", "ncgruReset", "scornn", "order1", "order2", "order3"]).map((arm) =>
    compareToValue(result, {
      claim: `${labels[arm as keyof typeof labels]} stays nearly orthogonal: its largest ‖UᵀU − I‖_F over training is below ${NCGRU_ORTHOGONALITY_TOLERANCE}`,
      metric: { name: "largest ‖UᵀU − I‖_F", of: (f, run) => f.maxOrthogonalityError ?? (run.curves.orthogonalityError?.value.length ? Math.max(...run.curves.orthogonalityError.value) : undefined) },
      arm,
      value: NCGRU_ORTHOGONALITY_TOLERANCE,
      lowerIsBetter: true,
      labels,
    }),
  );
  return { accuracy, orthogonality };
}
