/**
 * Greedy decoding and beam search over any autoregressive step function.
 *
 * A decoder exposes one step: given the recurrent state of k hypotheses and the token each emitted last,
 * it returns log p(next token | prefix) for each hypothesis, [k, vocabulary], and the new state. Search
 * is model-agnostic; `seq2seq.ts` builds the step for the attentional translator.
 *
 * Scores. The raw score of a hypothesis y_1..y_n (y_n = EOS unless it was cut at maxLength) is
 * log P(y) = Σ_t log p(y_t | y_<t, x). Finished hypotheses are ranked by a length-normalised score:
 *   - "none":    log P(y)
 *   - "average": log P(y) / n                                   (simple length division)
 *   - "gnmt":    log P(y) / lp(n),  lp(n) = ((5 + n) / 6)^α      (Wu et al. 2016, GNMT, eq. 14; α = 0 → none)
 * n counts the emitted tokens including EOS (BOS is not emitted). Candidates inside the beam are always
 * ranked by their raw prefix score (as in GNMT and OpenNMT); normalisation only chooses among finished ones.
 *
 * Beam bookkeeping: the beam keeps exactly k live hypotheses. At each step the top 2k of the k·V
 * extensions are scanned in order; an EOS extension ranked within the top k finishes a hypothesis, the
 * first k non-EOS extensions stay live (2k candidates always hold at least k non-EOS ones, because each
 * live hypothesis contributes at most one EOS). Search stops when k hypotheses have finished, when no live
 * hypothesis can still beat the best finished one (exact only for "none": raw scores never increase), or
 * at maxLength, where the live hypotheses are finished as they are. With k = 1 this is exactly greedy search.
 */
import { tf } from "@rnnlab/core";

/** Named decoder state; every entry is [hypotheses, n] (the shape of a cells State, so a cell's step can take it). */
export type DecoderState = { [name: string]: tf.Tensor2D };

/** One decoder step for k hypotheses: previous tokens [k] (int32) -> log-probabilities [k, V] and the new state. */
export type DecodeStep = (state: DecoderState, previousTokens: tf.Tensor1D) => {
  logProbabilities: tf.Tensor2D;
  state: DecoderState;
};

export type LengthPenalty = { kind: "none" } | { kind: "average" } | { kind: "gnmt"; alpha: number };

export interface SearchOptions {
  beginToken: number;
  endToken: number;
  /** Longest output, in emitted tokens (EOS included). */
  maxLength: number;
}

export interface GreedyOptions extends Omit<SearchOptions, "maxLength"> {
  /** Longest output in emitted tokens (EOS included): one for all, or one per sentence. */
  maxLength: number | readonly number[];
}

export interface BeamSearchOptions extends SearchOptions {
  beamSize: number;
  /** Default {kind: "none"}: raw log-probabilities, directly comparable with greedy's. */
  lengthPenalty?: LengthPenalty;
  /**
   * How many finished hypotheses to return, best first (default 1, at most beamSize). Fewer come back when
   * the search stopped early (no normalisation and nothing live could beat the best finished one).
   */
  returnCount?: number;
}

export interface Hypothesis {
  /** Emitted tokens without BOS and without the final EOS. */
  tokens: number[];
  /** Σ log p over the emitted tokens, EOS included when emitted. */
  logProbability: number;
  /** The length-normalised score used for ranking. */
  score: number;
  /** Whether the hypothesis ended with EOS (false: cut at maxLength). */
  finished: boolean;
}

export function lengthNormalizedScore(logProbability: number, emittedLength: number, penalty: LengthPenalty): number {
  switch (penalty.kind) {
    case "none":
      return logProbability;
    case "average":
      return logProbability / Math.max(1, emittedLength);
    case "gnmt":
      return logProbability / Math.pow((5 + emittedLength) / 6, penalty.alpha);
    default:
      throw new Error(`lengthPenalty.kind must be "none", "average" or "gnmt", got ${JSON.stringify(penalty)}`);
  }
}

function validateSearch(options: SearchOptions): void {
  if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
    throw new Error(`maxLength must be an integer >= 1, got ${options.maxLength}`);
  }
  for (const key of ["beginToken", "endToken"] as const) {
    if (!Number.isInteger(options[key]) || options[key] < 0) throw new Error(`${key} must be a token id >= 0, got ${options[key]}`);
  }
}

function disposeState(state: DecoderState): void {
  for (const t of Object.values(state)) t.dispose();
}

/**
 * Greedy (argmax) decoding of a batch. `initialState` entries have the batch on axis 0; they are not
 * disposed. Returns per sentence the tokens (EOS excluded) and the raw log-probability (EOS included).
 */
export function greedyDecode(
  step: DecodeStep,
  initialState: DecoderState,
  batchSize: number,
  options: GreedyOptions,
): Hypothesis[] {
  const limits = typeof options.maxLength === "number" ? new Array<number>(batchSize).fill(options.maxLength) : [...options.maxLength];
  if (limits.length !== batchSize) throw new Error(`greedyDecode: maxLength has ${limits.length} entries for a batch of ${batchSize}`);
  for (const m of limits) validateSearch({ ...options, maxLength: m });
  const tokens: number[][] = Array.from({ length: batchSize }, () => []);
  const logProbability = new Float64Array(batchSize);
  const done = new Array<boolean>(batchSize).fill(false);
  const cut = new Array<boolean>(batchSize).fill(false);
  let previous = new Int32Array(batchSize).fill(options.beginToken);
  let state = initialState;
  for (let b = 0; b < batchSize; b++) if (limits[b] === 0) done[b] = true;
  for (let t = 0; done.some((d) => !d); t++) {
    const out = tf.tidy(() => {
      const r = step(state, tf.tensor1d(previous, "int32"));
      const best = r.logProbabilities.argMax(1); // [batch]
      const bestLogProbability = r.logProbabilities.max(1); // [batch]
      return { best, bestLogProbability, state: r.state };
    });
    const best = out.best.dataSync() as Int32Array;
    const bestLogProbability = out.bestLogProbability.dataSync();
    out.best.dispose();
    out.bestLogProbability.dispose();
    if (state !== initialState) disposeState(state);
    state = out.state;
    previous = new Int32Array(best);
    for (let b = 0; b < batchSize; b++) {
      if (done[b]) continue;
      logProbability[b] += bestLogProbability[b];
      if (best[b] === options.endToken) done[b] = true;
      else tokens[b].push(best[b]);
      if (t + 1 >= limits[b] && !done[b]) {
        done[b] = true;
        cut[b] = true;
      }
    }
  }
  if (state !== initialState) disposeState(state);
  return tokens.map((tk, b) => ({ tokens: tk, logProbability: logProbability[b], score: logProbability[b], finished: !cut[b] }));
}

/** An extension of a live hypothesis: its raw prefix score, the slot it extends and the token it adds. */
type Candidate = { score: number; source: number; token: number };

/** The live hypotheses after one step: the slot each extends, the new prefixes, raw scores and last tokens. */
type BeamSlots = { sources: number[]; prefixes: number[][]; scores: number[]; tokens: number[] };

/** Checks beamSearch's options and the one-sentence initial state; returns k, the penalty and returnCount. */
function validateBeam(initialState: DecoderState, options: BeamSearchOptions): { k: number; penalty: LengthPenalty; returnCount: number } {
  validateSearch(options);
  const k = options.beamSize;
  if (!Number.isInteger(k) || k < 1) throw new Error(`beamSize must be an integer >= 1, got ${k}`);
  const penalty = options.lengthPenalty ?? { kind: "none" };
  lengthNormalizedScore(0, 1, penalty); // validates the penalty kind
  const returnCount = options.returnCount ?? 1;
  if (!Number.isInteger(returnCount) || returnCount < 1 || returnCount > k) {
    throw new Error(`returnCount must be an integer in [1, beamSize=${k}], got ${returnCount}`);
  }
  for (const [name, t] of Object.entries(initialState)) {
    if (t.shape[0] !== 1) throw new Error(`beamSearch: initialState.${name} must have 1 on axis 0 (one sentence), got shape [${t.shape}]`);
  }
  return { k, penalty, returnCount };
}

/** The top 2k extensions of the k live slots by raw prefix score (a partial selection over k·V entries), best first. */
function topExtensions(scores: readonly number[], logProbabilities: ArrayLike<number>, k: number): Candidate[] {
  const vocabulary = logProbabilities.length / k;
  const candidateCount = Math.min(2 * k, k * vocabulary);
  const top: Candidate[] = [];
  for (let source = 0; source < k; source++) {
    if (scores[source] === -Infinity) continue;
    for (let token = 0; token < vocabulary; token++) {
      const score = scores[source] + logProbabilities[source * vocabulary + token];
      let i: number;
      if (top.length < candidateCount) i = top.push({ score, source, token }) - 1;
      else if (score > top[top.length - 1].score) top[(i = top.length - 1)] = { score, source, token };
      else continue;
      // Keep `top` sorted, best first; on ties the earlier (lower source, lower token) candidate stays ahead.
      while (i > 0 && top[i - 1].score < top[i].score) {
        [top[i - 1], top[i]] = [top[i], top[i - 1]];
        i--;
      }
    }
  }
  return top;
}

/**
 * Splits the ranked candidates: an EOS extension ranked within the top k finishes a hypothesis (pushed to
 * `finished`); the first k non-EOS extensions become the next live slots (dead slots pad a tiny vocabulary).
 */
function nextSlots(top: readonly Candidate[], prefixes: readonly number[][], k: number, endToken: number, penalty: LengthPenalty, finished: Hypothesis[]): BeamSlots {
  const next: BeamSlots = { sources: [], prefixes: [], scores: [], tokens: [] };
  top.forEach((c, rank) => {
    if (c.token === endToken) {
      if (rank < k) {
        const tokens = prefixes[c.source];
        finished.push({ tokens, logProbability: c.score, score: lengthNormalizedScore(c.score, tokens.length + 1, penalty), finished: true });
      }
    } else if (next.sources.length < k) {
      next.sources.push(c.source);
      next.prefixes.push([...prefixes[c.source], c.token]);
      next.scores.push(c.score);
      next.tokens.push(c.token);
    }
  });
  while (next.sources.length < k) {
    // Only possible when V is tiny: pad with dead slots.
    next.sources.push(0);
    next.prefixes.push([]);
    next.scores.push(-Infinity);
    next.tokens.push(endToken);
  }
  return next;
}

/** Each state entry's rows gathered in `sources` order (new tensors). */
function gatherRows(state: DecoderState, sources: number[]): DecoderState {
  return tf.tidy(() => {
    const index = tf.tensor1d(sources, "int32");
    const r: DecoderState = {};
    for (const [name, tensor] of Object.entries(state)) r[name] = tf.gather(tensor, index);
    return r;
  });
}

/** The best `returnCount` hypotheses. Stable sort: among equal scores the earlier-finished one wins (what greedy would return). */
function bestHypotheses(finished: readonly Hypothesis[], returnCount: number): Hypothesis[] {
  return finished
    .map((h, order) => ({ h, order }))
    .sort((a, b) => b.h.score - a.h.score || a.order - b.order)
    .slice(0, returnCount)
    .map((x) => x.h);
}

/**
 * Beam search for ONE source sentence. `initialState` entries have a leading axis of 1 (one sentence);
 * they are tiled to the beam and not disposed. `step` is called with k = beamSize hypotheses.
 */
export function beamSearch(step: DecodeStep, initialState: DecoderState, options: BeamSearchOptions): Hypothesis[] {
  const { k, penalty, returnCount } = validateBeam(initialState, options);
  let state: DecoderState = tf.tidy(() => {
    const tiled: DecoderState = {};
    for (const [name, t] of Object.entries(initialState)) tiled[name] = tf.tile(t, [k, ...t.shape.slice(1).map(() => 1)]);
    return tiled;
  });
  // All k slots start as the same empty prefix; only slot 0 may expand at the first step, else the
  // beam would fill with k copies of the same hypothesis.
  let prefixes: number[][] = Array.from({ length: k }, () => []);
  let scores = Array.from({ length: k }, (_, i) => (i === 0 ? 0 : -Infinity));
  let previous = new Int32Array(k).fill(options.beginToken);
  const finished: Hypothesis[] = [];
  const bestFinishedScore = () => finished.reduce((m, h) => Math.max(m, h.score), -Infinity);

  for (let t = 0; t < options.maxLength; t++) {
    const out = tf.tidy(() => step(state, tf.tensor1d(previous, "int32")));
    const logProbabilities = out.logProbabilities.dataSync();
    out.logProbabilities.dispose();
    const next = nextSlots(topExtensions(scores, logProbabilities, k), prefixes, k, options.endToken, penalty, finished);
    const reordered = gatherRows(out.state, next.sources);
    disposeState(out.state);
    disposeState(state);
    state = reordered;
    prefixes = next.prefixes;
    scores = next.scores;
    previous = new Int32Array(next.tokens);
    if (finished.length >= k) break;
    // Raw scores only fall as a prefix grows, so with no normalisation nothing live can overtake.
    if (penalty.kind === "none" && finished.length > 0 && bestFinishedScore() >= Math.max(...scores)) break;
    if (t === options.maxLength - 1) {
      for (let i = 0; i < k; i++) {
        if (scores[i] === -Infinity) continue;
        finished.push({ tokens: prefixes[i], logProbability: scores[i], score: lengthNormalizedScore(scores[i], prefixes[i].length, penalty), finished: false });
      }
    }
  }
  disposeState(state);
  return bestHypotheses(finished, returnCount);
}
