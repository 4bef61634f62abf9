/**
 * Synthetic sequence tasks (docs/papers/baselines.md), generated from an Rng as typed arrays, with the loss of
 * the trivial baseline each paper compares against.
 *
 * Adding (Arjovsky et al. 2016 variant): x_t = (u_t, m_t), u_t ~ U(0,1), m has one 1 in [0, ⌊T/2⌋)
 *   and one in [⌊T/2⌋, T); target y = Σ_t u_t m_t. Baseline: predict 1 → MSE = Var(u1 + u2) = 1/6.
 * Copying (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): symbols 0 = blank, 1..8 data,
 *   9 = marker. Input: 10 data, T−1 blanks, marker, 10 blanks (length T+20). Target: T+10 blanks,
 *   then the 10 data. Baseline (blank, then uniform over 8): 10·ln 8/(T+20).
 * Denoise (Jing et al., GORU; NC-GRU code): symbols 0 = noise/blank, 1..n data (n = 9 by default as
 *   in NC-GRU), n+1 = marker (its own symbol, so a one-hot input has an explicit marker channel).
 *   Input: 10 data symbols at distinct (sampled WITHOUT replacement), increasing positions in
 *   [0, T), noise elsewhere up to position T+8, marker at T+9, then 10 blanks: length T+20, the same
 *   marker position as copying. Target: blank, then the 10 data in order at T+10..T+19.
 *   Baseline: 10·ln n/(T+20).
 *   DEVIATION: NC-GRU samples positions with replacement (colliding symbols) and one-hot encodes with
 *   depth 10 so its marker is an all-zero vector; we fix both (docs/papers/baselines.md).
 * Parenthesis (NC-GRU code): tokens "()[]{}a" (ids 0..6) uniform; after each token, for each of the
 *   3 bracket types, the number of unclosed openings as a saturating counter c ← min(c+1, 5) on
 *   open, max(c−1, 0) on close (our reading of "saturating at 5, floored at 0": the counter itself
 *   saturates). Targets: 3 × 6-way classes per step.
 *   Baseline (derived here): each type's counter is a lazy random walk on {0..5} (up 1/7, down 1/7,
 *   stay 5/7, held at the ends), starting at 0. Its marginal p_t follows p_t = p_{t−1}·M exactly.
 *   The best constant predictor is the time-averaged marginal q = (1/T)Σ_t p_t; its cross-entropy is
 *   H(q) = −Σ_k q_k ln q_k nats per output, and its squared error against one-hot targets is
 *   1 − Σ_k q_k² per output (summed over the 6 classes). A time-aware predictor (knows t, not the
 *   input) scores (1/T)Σ_t H(p_t). For large T, q → uniform (M is doubly stochastic) and H → ln 6.
 */
import type { Rng } from "@rnnlab/core";

export interface AddingBatch {
  /** [batch, length, 2]: channel 0 the values, channel 1 the markers. */
  inputs: Float32Array;
  /** [batch, 1]. */
  targets: Float32Array;
  batchSize: number;
  length: number;
}

export function generateAdding(rng: Rng, batchSize: number, length: number): AddingBatch {
  checkPositive({ batchSize, length });
  if (length < 2) throw new Error(`generateAdding: length must be >= 2, got ${length}`);
  const half = Math.floor(length / 2);
  const inputs = new Float32Array(batchSize * length * 2); // [batch, length, 2]
  const targets = new Float32Array(batchSize); // [batch, 1]
  for (let b = 0; b < batchSize; b++) {
    for (let t = 0; t < length; t++) inputs[(b * length + t) * 2] = rng.uniform();
    const first = rng.int(half);
    const second = half + rng.int(length - half);
    inputs[(b * length + first) * 2 + 1] = 1;
    inputs[(b * length + second) * 2 + 1] = 1;
    targets[b] = inputs[(b * length + first) * 2] + inputs[(b * length + second) * 2];
  }
  return { inputs, targets, batchSize, length };
}

/** MSE of always predicting 1: Var(U1 + U2) = 2/12. */
export function addingBaselineMse(): number {
  return 1 / 6;
}

export interface SymbolBatch {
  /** [batch, length] symbol ids. */
  inputs: Int32Array;
  /** [batch, length] target class ids. */
  targets: Int32Array;
  batchSize: number;
  length: number;
  /** Number of input symbols (one-hot depth). */
  inputSymbols: number;
  /** Number of target classes. */
  targetClasses: number;
}

export const COPY_BLANK = 0;
export const COPY_MARKER = 9;
const RECALL = 10;

/** Copying task with delay `delay` (= T); length T+20. */
export function generateCopying(rng: Rng, batchSize: number, delay: number, options: { dataSymbols?: number } = {}): SymbolBatch {
  checkPositive({ batchSize, delay });
  const n = options.dataSymbols ?? 8;
  const length = delay + 2 * RECALL;
  const marker = n + 1;
  const inputs = new Int32Array(batchSize * length); // [batch, T+20]
  const targets = new Int32Array(batchSize * length); // [batch, T+20]
  for (let b = 0; b < batchSize; b++) {
    const row = b * length;
    for (let i = 0; i < RECALL; i++) {
      const symbol = 1 + rng.int(n);
      inputs[row + i] = symbol;
      targets[row + delay + RECALL + i] = symbol;
    }
    inputs[row + delay + RECALL - 1] = marker;
  }
  return { inputs, targets, batchSize, length, inputSymbols: n + 2, targetClasses: n + 1 };
}

/** Memoryless baseline: 10·ln(n)/(T+20) nats per step. */
export function copyingBaselineCrossEntropy(delay: number, dataSymbols = 8): number {
  return (RECALL * Math.log(dataSymbols)) / (delay + 2 * RECALL);
}

/** Denoise task; see the file comment for the layout. */
export function generateDenoise(rng: Rng, batchSize: number, length: number, options: { dataSymbols?: number } = {}): SymbolBatch {
  checkPositive({ batchSize, length });
  if (length < RECALL) throw new Error(`generateDenoise: length must be >= ${RECALL} to hold ${RECALL} data symbols, got ${length}`);
  const n = options.dataSymbols ?? 9;
  const total = length + 2 * RECALL;
  const inputs = new Int32Array(batchSize * total); // [batch, T+20]
  const targets = new Int32Array(batchSize * total); // [batch, T+20]
  for (let b = 0; b < batchSize; b++) {
    const row = b * total;
    const positions = rng.sampleWithoutReplacement(length, RECALL);
    positions.forEach((p, i) => {
      const symbol = 1 + rng.int(n);
      inputs[row + p] = symbol;
      targets[row + length + RECALL + i] = symbol;
    });
    inputs[row + length + RECALL - 1] = n + 1;
  }
  return { inputs, targets, batchSize, length: total, inputSymbols: n + 2, targetClasses: n + 1 };
}

export function denoiseBaselineCrossEntropy(length: number, dataSymbols = 9): number {
  return (RECALL * Math.log(dataSymbols)) / (length + 2 * RECALL);
}

export const PARENTHESIS_TOKENS = "()[]{}a";
export const PARENTHESIS_MAX_COUNT = 5;

export interface ParenthesisBatch {
  /** [batch, length] token ids into PARENTHESIS_TOKENS. */
  inputs: Int32Array;
  /** [batch, length, 3] counts in 0..5 for (), [], {}. */
  targets: Int32Array;
  batchSize: number;
  length: number;
}

export function generateParenthesis(rng: Rng, batchSize: number, length: number): ParenthesisBatch {
  checkPositive({ batchSize, length });
  const inputs = new Int32Array(batchSize * length); // [batch, length]
  const targets = new Int32Array(batchSize * length * 3); // [batch, length, 3]
  for (let b = 0; b < batchSize; b++) {
    const counts = [0, 0, 0];
    for (let t = 0; t < length; t++) {
      const token = rng.int(PARENTHESIS_TOKENS.length);
      inputs[b * length + t] = token;
      if (token < 6) {
        const type = token >> 1;
        counts[type] = token % 2 === 0 ? Math.min(counts[type] + 1, PARENTHESIS_MAX_COUNT) : Math.max(counts[type] - 1, 0);
      }
      for (let k = 0; k < 3; k++) targets[(b * length + t) * 3 + k] = counts[k];
    }
  }
  return { inputs, targets, batchSize, length };
}

/** Exact marginals p_1..p_T of one bracket type's counter (p_0 = state 0). */
export function parenthesisCountMarginals(length: number): Float64Array[] {
  const states = PARENTHESIS_MAX_COUNT + 1;
  const step = 1 / PARENTHESIS_TOKENS.length;
  let p = new Float64Array(states);
  p[0] = 1;
  const out: Float64Array[] = [];
  for (let t = 0; t < length; t++) {
    const next = new Float64Array(states);
    for (let k = 0; k < states; k++) {
      next[Math.min(k + 1, states - 1)] += p[k] * step; // open
      next[Math.max(k - 1, 0)] += p[k] * step; // close
      next[k] += p[k] * (1 - 2 * step); // other token
    }
    out.push(next);
    p = next;
  }
  return out;
}

/** The time-averaged count distribution q (the best constant predictor). */
export function parenthesisAverageMarginal(length: number): Float64Array {
  const q = new Float64Array(PARENTHESIS_MAX_COUNT + 1);
  for (const p of parenthesisCountMarginals(length)) p.forEach((v, k) => (q[k] += v / length));
  return q;
}

const entropy = (p: ArrayLike<number>) => Array.from(p).reduce((s, v) => (v > 0 ? s - v * Math.log(v) : s), 0);

/**
 * Cross-entropy (nats per 6-way output, the same averaged over the 3 outputs) of the best constant
 * predictor, or with `timeAware` of the best predictor that knows only the step index.
 */
export function parenthesisBaselineCrossEntropy(length: number, options: { timeAware?: boolean } = {}): number {
  if (options.timeAware) return parenthesisCountMarginals(length).reduce((s, p) => s + entropy(p), 0) / length;
  return entropy(parenthesisAverageMarginal(length));
}

/** Squared error (summed over the 6 one-hot classes, per output) of the best constant predictor. */
export function parenthesisBaselineMse(length: number): number {
  const q = parenthesisAverageMarginal(length);
  return 1 - Array.from(q).reduce((s, v) => s + v * v, 0);
}

function checkPositive(values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values))
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}
