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
