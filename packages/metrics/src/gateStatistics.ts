/**
 * Gate saturation statistics (G2-LSTM, Li et al., ICML 2018, docs/papers/g2-lstm.md): the share of input/forget
 * gate values below 0.1 and above 0.9, and a normalised histogram for plotting.
 *
 *   shareBelow(low)  = #{v < low} / N,   shareAbove(high) = #{v > high} / N
 *   density_k        = count_k / (N · binWidth)     so that Σ_k density_k · binWidth = 1
 *
 * From raw values the shares are exact. From a streaming `Histogram` (@rnnlab/core) they are exact when
 * the thresholds fall on bin edges (e.g. 20 bins on [0, 1]); a value lying exactly on the upper
 * threshold is then counted as above it. Inside a bin the Histogram splits the count linearly.
 */
import { Histogram, type HistogramJSON } from "@rnnlab/core";

export interface GateSaturation {
  /** Share of values strictly below `low`. */
  shareBelowLow: number;
  /** Share of values strictly above `high` (see the header for the histogram case). */
  shareAboveHigh: number;
  /** shareBelowLow + shareAboveHigh: the "nearly binary" share. */
  shareSaturated: number;
  /** Number of values the shares are over (NaN excluded). */
  count: number;
  low: number;
  high: number;
}

export interface SaturationThresholds {
  /** Default 0.1. */
  low?: number;
  /** Default 0.9. */
  high?: number;
}

function resolveThresholds(thresholds: SaturationThresholds): { low: number; high: number } {
  const low = thresholds.low ?? 0.1;
  const high = thresholds.high ?? 0.9;
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high)) {
    throw new Error(`gate saturation thresholds: need finite low <= high, got low=${low}, high=${high}.`);
  }
  return { low, high };
}

function fromCounts(below: number, above: number, count: number, low: number, high: number): GateSaturation {
  if (count === 0) {
    throw new Error("gateSaturation(): no values (count is 0); trace some gate values first.");
  }
  return {
    shareBelowLow: below / count,
    shareAboveHigh: above / count,
    shareSaturated: (below + above) / count,
    count,
    low,
    high,
  };
}

/** Exact shares from gate values (NaN values are skipped). */
export function gateSaturation(values: ArrayLike<number>, thresholds: SaturationThresholds = {}): GateSaturation {
  const accumulator = new GateSaturationAccumulator(thresholds);
  accumulator.add(values);
  return accumulator.value();
}

/** Streaming exact shares: counts below/above and divides once. */
export class GateSaturationAccumulator {
  private below = 0;
  private above = 0;
  private count = 0;
  private readonly low: number;
  private readonly high: number;

  constructor(thresholds: SaturationThresholds = {}) {
    ({ low: this.low, high: this.high } = resolveThresholds(thresholds));
  }

  add(values: ArrayLike<number>): this {
    for (let index = 0; index < values.length; index++) {
      const value = values[index];
      if (Number.isNaN(value)) continue;
      this.count += 1;
      if (value < this.low) this.below += 1;
      else if (value > this.high) this.above += 1;
    }
    return this;
  }

  value(): GateSaturation {
    return fromCounts(this.below, this.above, this.count, this.low, this.high);
  }
}

/** Shares from a streaming Histogram (or its JSON form, as stored in result files). */
export function gateSaturationFromHistogram(
  histogram: Histogram | HistogramJSON,
  thresholds: SaturationThresholds = {},
): GateSaturation {
  const { low, high } = resolveThresholds(thresholds);
  const resolved = histogram instanceof Histogram ? histogram : Histogram.fromJSON(histogram);
  if (resolved.total === 0) {
    throw new Error("gateSaturationFromHistogram(): the histogram is empty (total is 0); trace some gate values first.");
  }
  const below = resolved.shareBelow(low) * resolved.total;
  const above = resolved.shareAbove(high) * resolved.total;
  return fromCounts(below, above, resolved.total, low, high);
}

export interface HistogramDensity {
  /** Bin centres, for a bar or line plot. */
  centers: number[];
  /** count / (total · binWidth): integrates to 1 over [min, max]. */
  densities: number[];
  /** count / total: sums to 1. */
  shares: number[];
  binWidth: number;
}

/** Normalised histogram for plotting, from a Histogram, its JSON, or plain equal-width bin counts. */
export function histogramDensity(histogram: Histogram | HistogramJSON | { min: number; max: number; counts: ArrayLike<number> }): HistogramDensity {
  const { min, max, counts } = histogram;
  const bins = counts.length;
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min) || bins === 0) {
    throw new Error(`histogramDensity(): need finite min < max and at least one bin, got min=${min}, max=${max}, bins=${bins}.`);
  }
  let total = 0;
  for (let index = 0; index < bins; index++) total += counts[index];
  if (total === 0) {
    throw new Error("histogramDensity(): all bin counts are 0; nothing to normalise.");
  }
  const binWidth = (max - min) / bins;
  const centers: number[] = [];
  const densities: number[] = [];
  const shares: number[] = [];
  for (let index = 0; index < bins; index++) {
    centers.push(min + (index + 0.5) * binWidth);
    shares.push(counts[index] / total);
    densities.push(counts[index] / (total * binWidth));
  }
  return { centers, densities, shares, binWidth };
}
