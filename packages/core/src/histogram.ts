/**
 * Fixed-bin histogram: constant memory however many values stream in (gate tracing, weight stats).
 *
 * Bins are equal-width over [min, max]. Values outside the range are counted in the edge bins (so
 * `total` is every value added) and also in `underflow` / `overflow`, so a caller can tell. NaN is
 * counted in `nan` only.
 */

export interface HistogramJSON {
  min: number;
  max: number;
  bins: number;
  counts: number[];
  total: number;
  underflow: number;
  overflow: number;
  nan: number;
}

export class Histogram {
  readonly min: number;
  readonly max: number;
  readonly bins: number;
  readonly counts: Float64Array;
  total = 0;
  underflow = 0;
  overflow = 0;
  nan = 0;

  constructor(min: number, max: number, bins: number) {
    if (!Number.isFinite(min) || !Number.isFinite(max) || !(max > min)) {
      throw new Error(`Histogram: need finite min < max, got min=${min}, max=${max}`);
    }
    if (!Number.isInteger(bins) || bins < 1) throw new Error(`Histogram: bins must be a positive integer, got ${bins}`);
    this.min = min;
    this.max = max;
    this.bins = bins;
    this.counts = new Float64Array(bins);
  }

  get binWidth(): number {
    return (this.max - this.min) / this.bins;
  }

  /** Lower edge of bin i (i = bins gives max). */
  edge(i: number): number {
    return this.min + (i * (this.max - this.min)) / this.bins;
  }

  add(values: ArrayLike<number>): this {
    const { min, max, bins, counts } = this;
    const scale = bins / (max - min);
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (Number.isNaN(v)) {
        this.nan++;
        continue;
      }
      let i = Math.floor((v - min) * scale);
      if (v < min) {
        this.underflow++;
        i = 0;
      } else if (v > max) {
        this.overflow++;
        i = bins - 1;
      } else if (i >= bins) {
        i = bins - 1; // v == max belongs to the last bin
      }
      counts[i]++;
      this.total++;
    }
    return this;
  }

  /**
   * Share of values below x. Exact at bin edges; inside a bin the bin's count is split linearly
   * (values are assumed uniform within a bin).
   */
  shareBelow(x: number): number {
    if (this.total === 0) return 0;
    return this.countBelow(x) / this.total;
  }

  /** Share of values above x (1 − shareBelow(x)). */
  shareAbove(x: number): number {
    if (this.total === 0) return 0;
    return (this.total - this.countBelow(x)) / this.total;
  }

  private countBelow(x: number): number {
    if (x <= this.min) return 0;
    if (x >= this.max) return this.total;
    const position = (x - this.min) / this.binWidth;
    const whole = Math.floor(position);
    let sum = 0;
    for (let i = 0; i < whole; i++) sum += this.counts[i];
    const fraction = position - whole;
    if (whole < this.bins && fraction > 1e-9) sum += fraction * this.counts[whole];
    return sum;
  }

  /** Add another histogram's counts into this one (same min, max, bins). */
  merge(other: Histogram): this {
    if (other.min !== this.min || other.max !== this.max || other.bins !== this.bins) {
      throw new Error(
        `Histogram.merge: ranges differ (this [${this.min}, ${this.max}] x ${this.bins}, other [${other.min}, ${other.max}] x ${other.bins})`,
      );
    }
    for (let i = 0; i < this.bins; i++) this.counts[i] += other.counts[i];
    this.total += other.total;
    this.underflow += other.underflow;
    this.overflow += other.overflow;
    this.nan += other.nan;
    return this;
  }

  toJSON(): HistogramJSON {
    return {
      min: this.min,
      max: this.max,
      bins: this.bins,
      counts: Array.from(this.counts),
      total: this.total,
      underflow: this.underflow,
      overflow: this.overflow,
      nan: this.nan,
    };
  }

  static fromJSON(json: HistogramJSON): Histogram {
    const h = new Histogram(json.min, json.max, json.bins);
    if (!Array.isArray(json.counts) || json.counts.length !== json.bins) {
      throw new Error(`Histogram.fromJSON: counts must be an array of length bins=${json.bins}`);
    }
    h.counts.set(json.counts);
    h.total = json.total;
    h.underflow = json.underflow ?? 0;
    h.overflow = json.overflow ?? 0;
    h.nan = json.nan ?? 0;
    return h;
  }
}
