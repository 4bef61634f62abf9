/**
 * Verdicts from data (issue 17): every claim a notebook states is checked here, on the per-seed finals of
 * a result file, and rendered as markdown with its numbers, so notebook prose never types a result number.
 *
 * The rule (docs/papers/README.md, "How verdicts are decided"; stated there once):
 *   d_s = (arm − reference arm) on every seed s that both arms ran, oriented so that d > 0 is the claimed
 *   direction (for a lower-is-better metric d_s = reference − arm); 95% Student-t interval of mean(d) and a
 *   paired two-sided t-test (`confidenceInterval`, `pairedTTest` of @rnnlab/metrics).
 *   - supported:    ≥ 3 shared seeds and the interval lies entirely above the threshold θ;
 *   - contradicted: ≥ 3 shared seeds and the interval lies entirely below θ;
 *   - inconclusive at this scale: anything else, also when an arm is missing, when fewer than 3 seeds are
 *     shared, or when the run did not learn (neither compared arm is better than the experiment's trivial
 *     reference, e.g. the memoryless baseline, by its own interval).
 *   θ = 0 for "better than" claims; θ = −margin for "no worse than" claims (margin stated with the claim).
 *   Ratios (speedups): r_s = reference_s / arm_s per shared seed, interval of mean(r), θ = the ratio claimed.
 *   One-value claims ("error below 0.05"): the interval of the arm's per-seed values against that value.
 */
import { confidenceInterval, pairedTTest, type ConfidenceInterval } from "@rnnlab/metrics";
import type { ExperimentResult, RunRecord } from "./results";

export type Verdict = "supported" | "contradicted" | "inconclusive at this scale";

/** Where the rule is written; the rendered markdown links here (relative to notebooks/). */
export const VERDICT_RULE_LINK = "../docs/papers/README.md#how-verdicts-are-decided";
/** Fewest shared seeds a verdict other than "inconclusive" needs. */
export const MIN_VERDICT_SEEDS = 3;

/** A final metric by name, or a value derived from one run's finals (undefined where the run lacks it). */
export type MetricSpec = string | { name: string; of: (final: Record<string, number>, run: RunRecord) => number | undefined };

export interface ArmValues {
  /** The arm's key in the result, and the label the tables show. */
  arm: string;
  label: string;
  /** The experiment the arm comes from (arms of two experiments with the same seeds and data may be paired). */
  experiment: string;
  /** Seeds with a finite value, ascending, and their values. */
  seeds: number[];
  values: number[];
  /** Mean and 95% interval over seeds; undefined without any value (halfWidth NaN with one seed). */
  interval?: ConfidenceInterval;
}

export interface ClaimCheck {
  /** The claim in words (prose that holds for any outcome). */
  claim: string;
  kind: "difference" | "ratio" | "value";
  metric: string;
  lowerIsBetter: boolean;
  arms: ArmValues[];
  /** Arms the claim names that the result does not have (the claim is then inconclusive). */
  missing: string[];
  /** Seeds both arms ran (difference and ratio claims). */
  sharedSeeds: number[];
  /**
   * The statistic the verdict tests, with its interval over the shared seeds: for a difference the claimed
   * arm minus the reference arm in the metric's own units (not oriented); for a ratio reference/arm; for a
   * value claim the arm's values.
   */
  statistic?: ConfidenceInterval;
  /** Two-sided p of the paired t-test (difference: d vs 0; ratio: r vs the threshold; value: values vs it). */
  p?: number;
  /** The threshold θ in the statistic's units (0 for "better"; ±margin; the claimed ratio or value). */
  threshold: number;
  /** Which side of the threshold the claim puts the statistic on. */
  claimedSide: "above" | "below";
  /** The trivial reference (e.g. a memoryless baseline) in the metric's units, when the experiment has one. */
  trivial?: { value: number; label: string; learned: string[] };
  verdict: Verdict;
  reason: string;
}

export interface CompareOptions {
  /** The claim in words. */
  claim: string;
  metric: MetricSpec;
  lowerIsBetter: boolean;
  /** The arm the claim says is better (or not worse), and the arm it is compared with. */
  arm: string;
  baselineArm: string;
  /** The reference arm's result when it lives in another experiment with the same seeds and data. */
  baselineResult?: ExperimentResult;
  /** "better" (θ = 0, default) or "noWorse": the arm may be worse by at most `margin` (metric units). */
  direction?: "better" | "noWorse";
  margin?: number;
  /** Two-sided level of the test: the interval is 1 − alpha (default 0.05 → 95%). */
  alpha?: number;
  minSeeds?: number;
  /** The trivial reference in the metric's units; when no compared arm is better than it by its interval, the run did not learn. */
  trivial?: { value: number; label: string };
  /** Readable arm names. */
  labels?: Record<string, string>;
}

function metricName(metric: MetricSpec): string {
  return typeof metric === "string" ? metric : metric.name;
}

/** The per-seed values of one arm (seeds with a finite value only), or undefined when the arm is absent. */
export function armValues(result: ExperimentResult, arm: string, metric: MetricSpec, labels: Record<string, string> = {}): ArmValues | undefined {
  const a = result.arms[arm];
  if (!a) return undefined;
  const pairs: [number, number][] = [];
  for (const [seed, run] of Object.entries(a.runs)) {
    const v = typeof metric === "string" ? run.final[metric] : metric.of(run.final, run);
    if (typeof v === "number" && Number.isFinite(v)) pairs.push([Number(seed), v]);
  }
  pairs.sort((x, y) => x[0] - y[0]);
  const values = pairs.map((p) => p[1]);
  return {
    arm,
    label: labels[arm] ?? arm,
    experiment: result.id,
    seeds: pairs.map((p) => p[0]),
    values,
    interval: values.length ? confidenceInterval(values) : undefined,
  };
}

/** The trivial baseline the runs of a synthetic task report (final "baseline"), if any. */
export function trivialBaselineOf(result: ExperimentResult): number | undefined {
  for (const a of Object.values(result.arms)) for (const r of Object.values(a.runs)) if (Number.isFinite(r.final.baseline)) return r.final.baseline;
  return undefined;
}

function decide(interval: ConfidenceInterval | undefined, threshold: number, side: "above" | "below"): Verdict {
  if (!interval || !Number.isFinite(interval.lower) || !Number.isFinite(interval.upper)) return "inconclusive at this scale";
  const above = interval.lower > threshold;
  const below = interval.upper < threshold;
  if (side === "above") return above ? "supported" : below ? "contradicted" : "inconclusive at this scale";
  return below ? "supported" : above ? "contradicted" : "inconclusive at this scale";
}

function fmtSeeds(seeds: number[]): string {
  return seeds.length ? seeds.join(", ") : "none";
}

/** Arms whose interval lies entirely on the better side of the trivial reference. */
function learnedArms(arms: ArmValues[], trivial: number, lowerIsBetter: boolean): string[] {
  return arms.filter((a) => a.interval && (lowerIsBetter ? a.interval.upper < trivial : a.interval.lower > trivial)).map((a) => a.arm);
}

function missingCheck(base: Omit<ClaimCheck, "verdict" | "reason">, missing: string[], available: string): ClaimCheck {
  return { ...base, missing, verdict: "inconclusive at this scale", reason: `arm${missing.length > 1 ? "s" : ""} ${missing.map((m) => `"${m}"`).join(", ")} not in the result (arms: ${available}); skipped` };
}

/**
 * Is `arm` better (or not worse) than `baselineArm` on `metric`? Paired over the seeds both ran; the
 * verdict follows the rule in this file's header and docs/papers/README.md.
 */
export function compareArms(result: ExperimentResult, options: CompareOptions): ClaimCheck {
  const { claim, metric, lowerIsBetter, arm, baselineArm, labels = {} } = options;
  const alpha = options.alpha ?? 0.05;
  const minSeeds = options.minSeeds ?? MIN_VERDICT_SEEDS;
  const direction = options.direction ?? "better";
  const margin = direction === "noWorse" ? (options.margin ?? 0) : 0;
  if (!(margin >= 0)) throw new Error(`compareArms: margin=${margin} must be ≥ 0 (the loss a "no worse" claim tolerates, in ${metricName(metric)} units).`);
  const refResult = options.baselineResult ?? result;
  // d = arm − reference; a lower-is-better "better" claim puts d below −0 (θ = 0), a "no worse" claim below +margin.
  const threshold = lowerIsBetter ? margin : -margin;
  const claimedSide = lowerIsBetter ? "below" : "above";
  const a = armValues(result, arm, metric, labels);
  const b = armValues(refResult, baselineArm, metric, labels);
  const base = { claim, kind: "difference" as const, metric: metricName(metric), lowerIsBetter, arms: [a, b].filter((x): x is ArmValues => !!x), missing: [], sharedSeeds: [], threshold, claimedSide } satisfies Omit<ClaimCheck, "verdict" | "reason">;
  const missing = [!a ? `${arm}` : undefined, !b ? `${baselineArm}` : undefined].filter((x): x is string => !!x);
  if (missing.length) return missingCheck(base, missing, [...new Set([...Object.keys(result.arms), ...Object.keys(refResult.arms)])].join(", "));
  const shared = a!.seeds.filter((s) => b!.seeds.includes(s));
  const x = shared.map((s) => a!.values[a!.seeds.indexOf(s)]);
  const y = shared.map((s) => b!.values[b!.seeds.indexOf(s)]);
  const check: Omit<ClaimCheck, "verdict" | "reason"> = { ...base, sharedSeeds: shared };
  if (shared.length === 0) return { ...check, verdict: "inconclusive at this scale", reason: `the arms share no seed (${a!.label}: ${fmtSeeds(a!.seeds)}; ${b!.label}: ${fmtSeeds(b!.seeds)}), so no paired difference` };
  const test = pairedTTest(y, x, 1 - alpha); // difference = x − y = arm − reference
  const out = { ...check, statistic: test.difference, p: test.p };
  if (options.trivial) {
    const learned = learnedArms([a!, b!], options.trivial.value, lowerIsBetter);
    out.trivial = { ...options.trivial, learned };
    if (learned.length === 0 && shared.length >= minSeeds) {
      return { ...out, verdict: "inconclusive at this scale", reason: `the run did not learn: neither arm is ${lowerIsBetter ? "below" : "above"} the ${options.trivial.label} (${fmt(options.trivial.value)}) by its ${ciPercent(alpha)} interval` };
    }
  }
  if (shared.length < minSeeds) return { ...out, verdict: "inconclusive at this scale", reason: `${shared.length} shared seed${shared.length === 1 ? "" : "s"} (${fmtSeeds(shared)}); a verdict needs at least ${minSeeds}` };
  const verdict = decide(test.difference, threshold, claimedSide);
  const thresholdText = margin > 0 ? `${lowerIsBetter ? "+" : "−"}${fmt(margin)} (the tolerated loss)` : "0";
  const reason =
    verdict === "supported"
      ? `the ${ciPercent(alpha)} interval of the paired difference lies entirely on the claimed side of ${thresholdText}`
      : verdict === "contradicted"
        ? `the ${ciPercent(alpha)} interval of the paired difference lies entirely on the opposite side of ${thresholdText}`
        : `the ${ciPercent(alpha)} interval of the paired difference includes ${thresholdText}`;
  return { ...out, verdict, reason };
}

export interface RatioOptions {
  claim: string;
  /** A time-like metric (lower is faster), e.g. secondsPerStep: the ratio is reference / arm per seed. */
  metric: MetricSpec;
  arm: string;
  baselineArm: string;
  /** The ratio the claim says is exceeded (default 1: "faster at all"). */
  threshold?: number;
  alpha?: number;
  minSeeds?: number;
  labels?: Record<string, string>;
}

/**
 * Speedup claims: r_s = reference_s / arm_s on each shared seed (e.g. per-element s/step ÷ structured s/step);
 * the verdict asks whether the interval of mean(r) lies above `threshold`.
 */
export function compareRatio(result: ExperimentResult, options: RatioOptions): ClaimCheck {
  const { claim, metric, arm, baselineArm, labels = {} } = options;
  const alpha = options.alpha ?? 0.05;
  const minSeeds = options.minSeeds ?? MIN_VERDICT_SEEDS;
  const threshold = options.threshold ?? 1;
  if (!(threshold > 0)) throw new Error(`compareRatio: threshold=${threshold} must be a positive ratio.`);
  const a = armValues(result, arm, metric, labels);
  const b = armValues(result, baselineArm, metric, labels);
  const base = { claim, kind: "ratio" as const, metric: metricName(metric), lowerIsBetter: true, arms: [a, b].filter((x): x is ArmValues => !!x), missing: [], sharedSeeds: [], threshold, claimedSide: "above" as const };
  const missing = [!a ? arm : undefined, !b ? baselineArm : undefined].filter((x): x is string => !!x);
  if (missing.length) return missingCheck(base, missing, Object.keys(result.arms).join(", "));
  const shared = a!.seeds.filter((s) => b!.seeds.includes(s) && a!.values[a!.seeds.indexOf(s)] > 0);
  if (shared.length === 0) return { ...base, verdict: "inconclusive at this scale", reason: `the arms share no seed with a positive ${metricName(metric)}, so no per-seed ratio` };
  const ratios = shared.map((s) => b!.values[b!.seeds.indexOf(s)] / a!.values[a!.seeds.indexOf(s)]);
  const test = pairedTTest(ratios.map(() => threshold), ratios, 1 - alpha); // difference = r − θ
  const statistic = confidenceInterval(ratios, 1 - alpha);
  const out = { ...base, sharedSeeds: shared, statistic, p: test.p };
  if (shared.length < minSeeds) return { ...out, verdict: "inconclusive at this scale", reason: `${shared.length} shared seed${shared.length === 1 ? "" : "s"} (${fmtSeeds(shared)}); a verdict needs at least ${minSeeds}` };
  const verdict = decide(statistic, threshold, "above");
  const reason = `the ${ciPercent(alpha)} interval of the mean per-seed ratio ${verdict === "supported" ? "lies entirely above" : verdict === "contradicted" ? "lies entirely below" : "includes"} ${fmt(threshold)}×`;
  return { ...out, verdict, reason };
}

export interface ValueOptions {
  claim: string;
  metric: MetricSpec;
  arm: string;
  /** The claim: the arm's values lie below (lowerIsBetter) or above this value. */
  value: number;
  lowerIsBetter: boolean;
  alpha?: number;
  minSeeds?: number;
  labels?: Record<string, string>;
}

/** One-arm claims against a stated value (e.g. "the orthogonality error stays below 0.05"). */
export function compareToValue(result: ExperimentResult, options: ValueOptions): ClaimCheck {
  const { claim, metric, arm, value, lowerIsBetter, labels = {} } = options;
  const alpha = options.alpha ?? 0.05;
  const minSeeds = options.minSeeds ?? MIN_VERDICT_SEEDS;
  const a = armValues(result, arm, metric, labels);
  const claimedSide = lowerIsBetter ? ("below" as const) : ("above" as const);
  const base = { claim, kind: "value" as const, metric: metricName(metric), lowerIsBetter, arms: a ? [a] : [], missing: [], sharedSeeds: a?.seeds ?? [], threshold: value, claimedSide };
  if (!a) return missingCheck(base, [arm], Object.keys(result.arms).join(", "));
  if (a.values.length === 0) return { ...base, verdict: "inconclusive at this scale", reason: `no seed of ${a.label} recorded ${metricName(metric)}` };
  const test = pairedTTest(a.values.map(() => value), a.values, 1 - alpha);
  const out = { ...base, statistic: a.interval, p: test.p };
  if (a.values.length < minSeeds) return { ...out, verdict: "inconclusive at this scale", reason: `${a.values.length} seed${a.values.length === 1 ? "" : "s"}; a verdict needs at least ${minSeeds}` };
  const verdict = decide(a.interval, value, claimedSide);
  const other = claimedSide === "below" ? "above" : "below";
  const reason = `the ${ciPercent(alpha)} interval of the mean ${verdict === "supported" ? `lies entirely ${claimedSide}` : verdict === "contradicted" ? `lies entirely ${other}` : "includes"} ${fmt(value)}`;
  return { ...out, verdict, reason };
}

const fmt = (v: number | undefined): string => formatStatistic(v);

function ciPercent(alpha: number): string {
  return `${Math.round((1 - alpha) * 1000) / 10}%`;
}

/** Four significant digits, scientific below 1e-3, no exponent for large values; "—" for NaN (as the verdict tables print numbers). */
export function formatStatistic(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const abs = Math.abs(v);
  const text = abs < 1e-3 ? v.toExponential(2) : abs >= 1e4 ? v.toFixed(0) : Number(v.toPrecision(4)).toString();
  return text.replace(/^-/, "−");
}

function fmtInterval(ci: ConfidenceInterval | undefined): string {
  if (!ci || ci.count < 2 || !Number.isFinite(ci.halfWidth)) return "— (one seed)";
  return `[${fmt(ci.lower)}, ${fmt(ci.upper)}]`;
}

function fmtP(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return "—";
  return p < 1e-4 ? "< 0.0001" : p.toFixed(p < 0.01 ? 4 : 3);
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function statisticText(check: ClaimCheck): string {
  const s = check.statistic;
  if (!s) return "";
  const seeds = `${s.count} shared seed${s.count === 1 ? "" : "s"}: ${fmtSeeds(check.sharedSeeds)}`;
  if (check.kind === "ratio") {
    const [a, b] = check.arms;
    return `Ratio ${b.label} / ${a.label} of ${check.metric} (speedup of ${a.label}), mean over seeds: **${fmt(s.mean)}×**, 95% CI ${fmtInterval(s)}, p = ${fmtP(check.p)} against ${fmt(check.threshold)}× (${seeds}).`;
  }
  if (check.kind === "value") {
    return `Claimed: ${check.metric} ${check.claimedSide} ${fmt(check.threshold)}; p = ${fmtP(check.p)} (one-sample t against ${fmt(check.threshold)}).`;
  }
  const [a, b] = check.arms;
  const better = check.lowerIsBetter ? "lower is better" : "higher is better";
  const margin = check.threshold !== 0 ? `; tolerated loss ${fmt(Math.abs(check.threshold))}` : "";
  return `Paired difference ${a.label} − ${b.label} (${check.metric}, ${better}${margin}): **${fmt(s.mean)}**, 95% CI ${fmtInterval(s)}, paired t-test p = ${fmtP(check.p)} (${seeds}).`;
}

function trivialText(check: ClaimCheck): string {
  if (!check.trivial) return "";
  const t = check.trivial;
  const learned = t.learned.length ? `better than it by its interval: ${t.learned.map((arm) => check.arms.find((a) => a.arm === arm)?.label ?? arm).join(", ")}` : "no compared arm is better than it by its interval";
  return ` The ${t.label} is ${fmt(t.value)}; ${learned}.`;
}

/**
 * One claim as markdown: the claim, a table (arm, seeds, mean, 95% CI), the paired difference or ratio with
 * its interval and p, and the verdict in bold with its reason and a link to the rule.
 */
export function verdictMarkdown(check: ClaimCheck, options: { ruleLink?: string } = {}): string {
  const lines = [`**Claim:** ${check.claim}`, ""];
  if (check.arms.length) {
    lines.push(`| arm (${cell(check.metric)}) | n | mean | 95% CI |`, "|---|---|---|---|");
    for (const a of check.arms) lines.push(`| ${cell(a.label)}${a.experiment !== check.arms[0].experiment ? ` (${a.experiment})` : ""} | ${a.values.length} | ${fmt(a.interval?.mean)} | ${fmtInterval(a.interval)} |`);
    lines.push("");
  }
  const stat = statisticText(check);
  if (stat || check.trivial) lines.push(`${stat}${trivialText(check)}`.trim(), "");
  lines.push(`**Verdict: ${check.verdict}** (${check.reason}; [rule](${options.ruleLink ?? VERDICT_RULE_LINK})).`);
  return lines.join("\n");
}

/** Several claims as one compact table: claim, compared arms, statistic with its interval, p, n, verdict. */
export function verdictTableMarkdown(checks: ClaimCheck[], options: { ruleLink?: string } = {}): string {
  if (checks.length === 0) return "No claim to check.";
  const present = checks.filter((c) => c.missing.length === 0);
  const skipped = checks.filter((c) => c.missing.length > 0);
  const rows = present.map((c) => {
    const s = c.statistic;
    const what = c.kind === "ratio" ? "speedup (ratio)" : c.kind === "value" ? "mean" : "difference";
    const arms = c.kind === "value" ? (c.arms[0]?.label ?? c.missing.join(", ")) : c.arms.length === 2 ? `${c.arms[0].label} vs ${c.arms[1].label}` : `missing: ${c.missing.join(", ")}`;
    const value = s ? `${fmt(s.mean)}${c.kind === "ratio" ? "×" : ""} ${fmtInterval(s)}` : "—";
    return `| ${cell(c.claim)} | ${cell(arms)} | ${cell(c.metric)} ${what} | ${value} | ${fmtP(c.p)} | ${s?.count ?? 0} | **${c.verdict}** |`;
  });
  return [
    "| claim | arms | statistic | mean [95% CI] | p | n | verdict |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `Reasons, row by row: ${present.map((c, i) => `(${i + 1}) ${c.reason}`).join("; ")}. [How verdicts are decided](${options.ruleLink ?? VERDICT_RULE_LINK}).`,
    ...(skipped.length ? ["", `Skipped: ${skipped.map((c) => `"${c.claim}" (${c.reason})`).join("; ")}.`] : []),
  ].join("\n");
}
