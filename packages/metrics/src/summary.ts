/**
 * Summaries over seeds and the sensitivity-table delta.
 *
 *   mean = Σ x_i / n,   std = sqrt( Σ (x_i − mean)² / (n − 1) )   (sample standard deviation, n ≥ 2)
 *   delta = compressed − original,  relativeDelta = delta / |original|
 */

export interface MeanStd {
  mean: number;
  /** Sample standard deviation (n − 1); NaN when n < 2, because one seed says nothing about spread. */
  std: number;
  count: number;
  min: number;
  max: number;
}

function requireFiniteValues(values: ArrayLike<number>, where: string): void {
  if (values.length === 0) {
    throw new Error(`${where}: no values; pass at least one number (one per seed).`);
  }
  for (let index = 0; index < values.length; index++) {
    if (typeof values[index] !== "number" || !Number.isFinite(values[index])) {
      throw new Error(`${where}[${index}]: expected a finite number, got ${String(values[index])}.`);
    }
  }
}

/** Mean and sample standard deviation over seeds. */
export function meanStd(values: ArrayLike<number>): MeanStd {
  requireFiniteValues(values, "meanStd(values)");
  const count = values.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let index = 0; index < count; index++) {
    sum += values[index];
    min = Math.min(min, values[index]);
    max = Math.max(max, values[index]);
  }
  const mean = sum / count;
  let squares = 0;
  for (let index = 0; index < count; index++) squares += (values[index] - mean) ** 2;
  const std = count >= 2 ? Math.sqrt(squares / (count - 1)) : Number.NaN;
  return { mean, std, count, min, max };
}

export interface MetricDelta {
  original: number;
  compressed: number;
  /** compressed − original (for perplexity, positive = worse; for BLEU, negative = worse). */
  delta: number;
  /** delta / |original|; NaN when original is 0. */
  relativeDelta: number;
}

export interface PairedMetricDelta {
  original: MeanStd;
  compressed: MeanStd;
  /** Statistics of the per-seed deltas (paired by index). */
  delta: MeanStd;
  perSeed: MetricDelta[];
}

function singleDelta(original: number, compressed: number): MetricDelta {
  const delta = compressed - original;
  return { original, compressed, delta, relativeDelta: original === 0 ? Number.NaN : delta / Math.abs(original) };
}

/**
 * The change a compression causes in a metric. With numbers, one delta; with per-seed arrays (paired by
 * index: the same trained model before and after compression), the per-seed deltas and their mean ± std.
 */
export function metricDelta(original: number, compressed: number): MetricDelta;
export function metricDelta(original: ArrayLike<number>, compressed: ArrayLike<number>): PairedMetricDelta;
export function metricDelta(
  original: number | ArrayLike<number>,
  compressed: number | ArrayLike<number>,
): MetricDelta | PairedMetricDelta {
  if (typeof original === "number" && typeof compressed === "number") {
    requireFiniteValues([original], "metricDelta(original)");
    requireFiniteValues([compressed], "metricDelta(compressed)");
    return singleDelta(original, compressed);
  }
  if (typeof original === "number" || typeof compressed === "number") {
    throw new Error("metricDelta(): pass two numbers or two per-seed arrays, not one of each.");
  }
  if (original.length !== compressed.length) {
    throw new Error(
      `metricDelta(): original has ${original.length} seeds but compressed has ${compressed.length}; they must be paired by seed.`,
    );
  }
  requireFiniteValues(original, "metricDelta(original)");
  requireFiniteValues(compressed, "metricDelta(compressed)");
  const perSeed: MetricDelta[] = [];
  for (let index = 0; index < original.length; index++) perSeed.push(singleDelta(original[index], compressed[index]));
  return {
    original: meanStd(original),
    compressed: meanStd(compressed),
    delta: meanStd(perSeed.map((entry) => entry.delta)),
    perSeed,
  };
}

/*
 * Confidence intervals and the paired test (issue 17: every comparison states mean, a 95% interval and,
 * where arms share seeds, a paired test). One definition for the notebooks, the report and the figures.
 *
 *   interval:     mean ± t_{(1+level)/2, n−1} · std / √n                     (Student t, sample std)
 *   paired test:  d_i = b_i − a_i,  t = mean(d) / (std(d)/√n),  df = n − 1,  p = P(|T_df| ≥ |t|)
 *   Student t CDF through the regularized incomplete beta: P(|T_df| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2)
 *   (continued fraction as in Numerical Recipes §6.4); quantiles by bisection on the CDF.
 */

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), |error| < 1e-14 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(x >= 0 && x <= 1)) throw new Error(`regularizedIncompleteBeta: x=${x} must be in [0, 1]`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** Two-sided tail probability P(|T| ≥ |t|) of Student's t with `df` degrees of freedom. */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`studentTTwoSidedP: df=${df} must be positive`);
  if (Number.isNaN(t)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** The quantile t with P(T ≤ t) = probability (0.5 < probability < 1), e.g. 0.975 for a 95% interval. */
export function studentTQuantile(probability: number, df: number): number {
  if (!(probability > 0.5 && probability < 1)) throw new Error(`studentTQuantile: probability=${probability} must be in (0.5, 1)`);
  const tail = 2 * (1 - probability); // two-sided tail mass beyond ±t
  let lo = 0;
  let hi = 1;
  while (studentTTwoSidedP(hi, df) > tail) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTTwoSidedP(mid, df) > tail) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface ConfidenceInterval extends MeanStd {
  level: number;
  /** t_{(1+level)/2, n−1} · std / √n; NaN for one value (no spread, no interval). */
  halfWidth: number;
  lower: number;
  upper: number;
}

/** Mean, sample std and the Student-t confidence interval of the mean (default 95%) over seeds. */
export function confidenceInterval(values: ArrayLike<number>, level = 0.95): ConfidenceInterval {
  if (!(level > 0 && level < 1)) throw new Error(`confidenceInterval: level=${level} must be in (0, 1)`);
  const s = meanStd(values);
  const halfWidth = s.count >= 2 ? (studentTQuantile((1 + level) / 2, s.count - 1) * s.std) / Math.sqrt(s.count) : Number.NaN;
  return { ...s, level, halfWidth, lower: s.mean - halfWidth, upper: s.mean + halfWidth };
}

export interface PairedTTest {
  /** Statistics of d_i = b_i − a_i with its confidence interval. */
  difference: ConfidenceInterval;
  t: number;
  degreesOfFreedom: number;
  /** Two-sided p-value; NaN with fewer than two pairs, or when every difference is 0. */
  p: number;
}

/** Paired two-sided t-test of b against a (arms that share seeds, paired by index). */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>, level = 0.95): PairedTTest {
  if (a.length !== b.length) throw new Error(`pairedTTest: a has ${a.length} values but b has ${b.length}; they must be paired by seed.`);
  requireFiniteValues(a, "pairedTTest(a)");
  requireFiniteValues(b, "pairedTTest(b)");
  const d = Array.from({ length: a.length }, (_, i) => b[i] - a[i]);
  const difference = confidenceInterval(d, level);
  const n = d.length;
  if (n < 2) return { difference, t: Number.NaN, degreesOfFreedom: n - 1, p: Number.NaN };
  if (difference.std === 0) {
    // Identical differences: no spread to test against; equal arms (all 0) say nothing, a constant shift is certain.
    return { difference, t: difference.mean === 0 ? Number.NaN : Math.sign(difference.mean) * Infinity, degreesOfFreedom: n - 1, p: difference.mean === 0 ? Number.NaN : 0 };
  }
  const t = difference.mean / (difference.std / Math.sqrt(n));
  return { difference, t, degreesOfFreedom: n - 1, p: studentTTwoSidedP(t, n - 1) };
}
