/**
 * Language-model metrics: token-weighted mean loss, perplexity, bits per character, accuracy.
 *
 *   mean NLL        = Σ_b loss_b·tokens_b / Σ_b tokens_b          (nats; loss_b is a batch's mean NLL)
 *   perplexity      = exp(mean NLL)                              (Mikolov et al. 2010; word-level PTB)
 *   bits per char   = mean NLL / ln 2                            (Graves 2013; character-level PTB)
 *   accuracy        = correct / total
 *
 * Batches differ in size (the last BPTT window is short), so a mean of per-batch means is biased:
 * every accumulator here sums value × count and divides once.
 */

function requireFiniteNumber(value: number, name: string): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`${name} must be a finite number, got ${String(value)}; pass a plain JS number (e.g. loss.dataSync()[0]).`);
  }
}

function requireNonNegativeCount(count: number, name: string): void {
  if (!Number.isFinite(count) || count < 0) {
    throw new Error(`${name} must be a finite count >= 0, got ${String(count)}.`);
  }
}

/** Accumulates a count-weighted mean: add(mean, count) sums mean·count; value() divides once. */
export class WeightedMeanAccumulator {
  private weightedSum = 0;
  private totalCount = 0;

  /** Adds a batch whose mean value is `mean` over `count` items (tokens, characters, sentences). */
  add(mean: number, count: number): this {
    requireFiniteNumber(mean, "WeightedMeanAccumulator.add(mean)");
    requireNonNegativeCount(count, "WeightedMeanAccumulator.add(count)");
    this.weightedSum += mean * count;
    this.totalCount += count;
    return this;
  }

  /** Adds a batch given as a sum over `count` items (e.g. a summed NLL), avoiding a divide and multiply. */
  addSum(sum: number, count: number): this {
    requireFiniteNumber(sum, "WeightedMeanAccumulator.addSum(sum)");
    requireNonNegativeCount(count, "WeightedMeanAccumulator.addSum(count)");
    this.weightedSum += sum;
    this.totalCount += count;
    return this;
  }

  get count(): number {
    return this.totalCount;
  }

  get sum(): number {
    return this.weightedSum;
  }

  /** The weighted mean; throws when nothing was added, because 0/0 would silently become NaN. */
  value(): number {
    if (this.totalCount === 0) {
      throw new Error("WeightedMeanAccumulator.value(): no items were added (total count is 0); call add(mean, count) first.");
    }
    return this.weightedSum / this.totalCount;
  }

  reset(): void {
    this.weightedSum = 0;
    this.totalCount = 0;
  }
}

/** Token-weighted negative log-likelihood in nats, with the derived perplexity and bits per character. */
export class LossAccumulator extends WeightedMeanAccumulator {
  /** Mean NLL per token in nats. */
  meanLoss(): number {
    return this.value();
  }

  perplexity(): number {
    return perplexity(this.value());
  }

  bitsPerCharacter(): number {
    return bitsPerCharacter(this.value());
  }
}

/** exp(mean NLL in nats). */
export function perplexity(meanNllNats: number): number {
  requireFiniteNumber(meanNllNats, "perplexity(meanNllNats)");
  return Math.exp(meanNllNats);
}

/** Mean NLL in nats converted to bits: divide by ln 2. */
export function bitsPerCharacter(meanNllNats: number): number {
  requireFiniteNumber(meanNllNats, "bitsPerCharacter(meanNllNats)");
  return meanNllNats / Math.LN2;
}

/** Share of positions where prediction equals target; `mask` (1 = count, 0 = skip, e.g. padding) is optional. */
export function accuracy(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  mask?: ArrayLike<number>,
): number {
  const { correct, total } = countCorrect(predictions, targets, mask);
  if (total === 0) {
    throw new Error("accuracy(): no positions counted (empty input or an all-zero mask).");
  }
  return correct / total;
}

/** Correct and total counts, for an AccuracyAccumulator or for summing across batches yourself. */
export function countCorrect(
  predictions: ArrayLike<number>,
  targets: ArrayLike<number>,
  mask?: ArrayLike<number>,
): { correct: number; total: number } {
  if (predictions.length !== targets.length) {
    throw new Error(
      `accuracy(): predictions has ${predictions.length} entries but targets has ${targets.length}; they must be the same length.`,
    );
  }
  if (mask !== undefined && mask.length !== targets.length) {
    throw new Error(`accuracy(): mask has ${mask.length} entries but targets has ${targets.length}; they must be the same length.`);
  }
  let correct = 0;
  let total = 0;
  for (let index = 0; index < targets.length; index++) {
    if (mask !== undefined && mask[index] === 0) continue;
    total += 1;
    if (predictions[index] === targets[index]) correct += 1;
  }
  return { correct, total };
}

/** Sums correct and total counts over batches and divides once. */
export class AccuracyAccumulator {
  private correctCount = 0;
  private totalCount = 0;

  add(correct: number, total: number): this {
    requireNonNegativeCount(correct, "AccuracyAccumulator.add(correct)");
    requireNonNegativeCount(total, "AccuracyAccumulator.add(total)");
    if (correct > total) {
      throw new Error(`AccuracyAccumulator.add(): correct (${correct}) exceeds total (${total}).`);
    }
    this.correctCount += correct;
    this.totalCount += total;
    return this;
  }

  addPredictions(predictions: ArrayLike<number>, targets: ArrayLike<number>, mask?: ArrayLike<number>): this {
    const { correct, total } = countCorrect(predictions, targets, mask);
    return this.add(correct, total);
  }

  get correct(): number {
    return this.correctCount;
  }

  get total(): number {
    return this.totalCount;
  }

  value(): number {
    if (this.totalCount === 0) {
      throw new Error("AccuracyAccumulator.value(): no positions were added; call add(correct, total) first.");
    }
    return this.correctCount / this.totalCount;
  }

  reset(): void {
    this.correctCount = 0;
    this.totalCount = 0;
  }
}
