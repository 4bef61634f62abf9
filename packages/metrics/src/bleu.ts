/**
 * Corpus BLEU (Papineni et al., ACL 2002) with sacreBLEU 2.x defaults (Post, WMT 2018).
 *
 *   p_n   = Σ_seg Σ_{g ∈ ngrams_n(hyp)} min(count_hyp(g), max_ref count_ref(g)) / Σ_seg |ngrams_n(hyp)|
 *   BP    = 1 if c ≥ r, else exp(1 − r/c)        c = total hypothesis length, r = Σ closest reference length
 *   BLEU  = 100 · BP · exp( (1/N) Σ_{n=1..N} log p_n ),  N = 4
 *
 * Defaults as sacreBLEU's `BLEU()`: tokenizer `13a` (mteval-v13a), mixed case, smoothing `exp`
 * (NIST "method 3": the k-th order with zero matches gets precision 1/(2^k · total)), no effective order.
 * The closest reference length breaks ties towards the shorter reference; with several references the
 * clipped count of an n-gram is its maximum count in any one reference. A missing reference (undefined or
 * null) is dropped for its segment (sacreBLEU's variable-reference rule); an empty string is a reference of
 * length 0 and is kept, as in sacreBLEU >= 2.2 (`_cache_references` drops only `None`; 2.0-2.1 dropped ""
 * too), so it takes part in the closest-reference length. The tokenizer is a port of sacreBLEU's tokenizer_13a.py
 * and tokenizer_re.py, including Python's notion of whitespace in str.split()/strip().
 * DEVIATION: `lowercase` uses JS toLowerCase(), which differs from Python's str.lower() for a few
 * characters (e.g. U+0130); the signature's version field says `rnnlab` rather than a sacreBLEU version.
 */

export type BleuSmoothMethod = "exp" | "floor" | "add-k" | "none";
export type BleuTokenizer = "13a" | "none";

export interface BleuOptions {
  /** "13a" (default, sacreBLEU's) or "none" (split on whitespace only, for pre-tokenised text). */
  tokenize?: BleuTokenizer;
  lowercase?: boolean;
  /** "exp" (default), "floor", "add-k" or "none". */
  smoothMethod?: BleuSmoothMethod;
  /** For "floor" (default 0.1) and "add-k" (default 1); ignored by the others. */
  smoothValue?: number;
  /** Highest n-gram order; 4 by default. */
  maxNgramOrder?: number;
  /** Average only over orders the hypothesis has n-grams of (sentence-level use). Default false. */
  effectiveOrder?: boolean;
}

export interface BleuStatistics {
  /** Matched (clipped) n-gram counts, index n-1 for order n. */
  counts: number[];
  /** Hypothesis n-gram counts, index n-1 for order n. */
  totals: number[];
  sysLen: number;
  refLen: number;
}

export interface BleuScore extends BleuStatistics {
  /** BLEU in 0..100, as sacreBLEU reports it. */
  score: number;
  /** Per-order precisions in 0..100 (smoothed where the smoothing applies). */
  precisions: number[];
  bp: number;
  /** sysLen / refLen (0 when refLen is 0). */
  ratio: number;
  /** sacreBLEU-style signature, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:rnnlab". */
  signature: string;
}

const SMOOTH_DEFAULTS: Record<BleuSmoothMethod, number | undefined> = {
  none: undefined,
  floor: 0.1,
  "add-k": 1,
  exp: undefined,
};

// Python's str.split()/strip() whitespace: Unicode White_Space plus the \x1c-\x1f separators,
// without U+FEFF (which JS's \s would include).
const PYTHON_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE}]+`, "u");
const TRAILING_WHITESPACE = new RegExp(`[${PYTHON_WHITESPACE}]+$`, "u");

/** Python's `" ".join(line.split())`: tokens separated by single spaces, no leading/trailing whitespace. */
function splitLikePython(line: string): string[] {
  return line.split(WHITESPACE_RUN).filter((token) => token.length > 0);
}

// sacreBLEU's TokenizerRegexp, applied in order; Python's re.sub and JS's global replace both substitute
// leftmost non-overlapping matches, so the results agree.
const REGEXP_TOKENIZER_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Punctuation and symbols: { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +  : ; < = > ? @  /
  [new RegExp("([{-~\\[-`\\u0020-&(-+:-@/])", "gu"), " $1 "],
  // Period and comma unless preceded by a digit.
  [/([^0-9])([.,])/gu, "$1 $2 "],
  // Period and comma unless followed by a digit.
  [/([.,])([^0-9])/gu, " $1 $2"],
  // Dash when preceded by a digit.
  [/([0-9])(-)/gu, "$1 $2 "],
];

/** sacreBLEU's `13a` tokenizer (mteval-v13a.pl's tokenisation); returns tokens joined by single spaces. */
export function tokenize13a(line: string): string {
  let text = line
    .split("<skipped>").join("")
    .split("-\n").join("")
    .split("\n").join(" ")
    .split("&quot;").join('"')
    .split("&amp;").join("&")
    .split("&lt;").join("<")
    .split("&gt;").join(">");
  text = ` ${text} `;
  for (const [pattern, replacement] of REGEXP_TOKENIZER_RULES) {
    text = text.replace(pattern, replacement);
  }
  return splitLikePython(text).join(" ");
}

function resolveOptions(options: BleuOptions = {}): Required<Omit<BleuOptions, "smoothValue">> & { smoothValue: number | undefined } {
  const known = new Set(["tokenize", "lowercase", "smoothMethod", "smoothValue", "maxNgramOrder", "effectiveOrder"]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new Error(`BLEU options: unknown key "${key}"; allowed keys are ${[...known].join(", ")}.`);
    }
  }
  const smoothMethod = options.smoothMethod ?? "exp";
  if (!(smoothMethod in SMOOTH_DEFAULTS)) {
    throw new Error(`BLEU options.smoothMethod: unknown value "${String(smoothMethod)}"; use "exp", "floor", "add-k" or "none".`);
  }
  const tokenize = options.tokenize ?? "13a";
  if (tokenize !== "13a" && tokenize !== "none") {
    throw new Error(`BLEU options.tokenize: unknown value "${String(tokenize)}"; use "13a" or "none".`);
  }
  const maxNgramOrder = options.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new Error(`BLEU options.maxNgramOrder must be a positive integer, got ${String(maxNgramOrder)}.`);
  }
  return {
    tokenize,
    lowercase: options.lowercase ?? false,
    smoothMethod,
    smoothValue: options.smoothValue,
    maxNgramOrder,
    effectiveOrder: options.effectiveOrder ?? false,
  };
}

type ResolvedBleuOptions = ReturnType<typeof resolveOptions>;

function preprocess(sentence: string, options: ResolvedBleuOptions): string {
  const lowered = options.lowercase ? sentence.toLowerCase() : sentence;
  const stripped = lowered.replace(TRAILING_WHITESPACE, "");
  return options.tokenize === "13a" ? tokenize13a(stripped) : stripped;
}

/** Counts of all n-grams of orders 1..maxOrder, keyed per order by tokens joined with a space. */
function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number>[] {
  const perOrder: Map<string, number>[] = [];
  for (let order = 1; order <= maxOrder; order++) {
    const counts = new Map<string, number>();
    for (let start = 0; start + order <= tokens.length; start++) {
      const key = tokens.slice(start, start + order).join(" ");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    perOrder.push(counts);
  }
  return perOrder;
}

/** sacreBLEU's _get_closest_ref_len: smallest |hyp − ref|, ties to the shorter reference. */
function closestReferenceLength(hypothesisLength: number, referenceLengths: readonly number[]): number {
  let closestDifference = -1;
  let closestLength = -1;
  for (const referenceLength of referenceLengths) {
    const difference = Math.abs(hypothesisLength - referenceLength);
    if (closestDifference === -1 || difference < closestDifference) {
      closestDifference = difference;
      closestLength = referenceLength;
    } else if (difference === closestDifference && referenceLength < closestLength) {
      closestLength = referenceLength;
    }
  }
  return closestLength;
}

/** BLEU from sufficient statistics: sacreBLEU's BLEU.compute_bleu, operation for operation. */
export function computeBleu(statistics: BleuStatistics, options: BleuOptions = {}, numberOfReferences: number | "var" = 1): BleuScore {
  const resolved = resolveOptions(options);
  const maxOrder = resolved.maxNgramOrder;
  if (statistics.counts.length !== maxOrder || statistics.totals.length !== maxOrder) {
    throw new Error(
      `computeBleu(): counts and totals must have maxNgramOrder=${maxOrder} entries, got ${statistics.counts.length} and ${statistics.totals.length}.`,
    );
  }
  const counts = [...statistics.counts];
  const totals = [...statistics.totals];
  const { sysLen, refLen } = statistics;
  const smoothValue = resolved.smoothValue ?? SMOOTH_DEFAULTS[resolved.smoothMethod];
  const signature = bleuSignature(options, numberOfReferences);
  const ratio = refLen ? sysLen / refLen : 0;

  let bp: number;
  if (sysLen < refLen) {
    bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  } else {
    bp = 1;
  }
  const precisions = new Array<number>(maxOrder).fill(0);
  // sacreBLEU returns 0 early when nothing matched at any order (its issue #141).
  if (!counts.some((count) => count !== 0)) {
    return { score: 0, precisions, bp, sysLen, refLen, counts, totals, ratio, signature };
  }
  let smoothMteval = 1;
  let effectiveOrder = maxOrder;
  for (let order = 1; order <= maxOrder; order++) {
    if (resolved.smoothMethod === "add-k" && order > 1) {
      counts[order - 1] += smoothValue as number;
      totals[order - 1] += smoothValue as number;
    }
    if (totals[order - 1] === 0) break;
    if (resolved.effectiveOrder) effectiveOrder = order;
    if (counts[order - 1] === 0) {
      if (resolved.smoothMethod === "exp") {
        smoothMteval *= 2;
        precisions[order - 1] = 100 / (smoothMteval * totals[order - 1]);
      } else if (resolved.smoothMethod === "floor") {
        precisions[order - 1] = (100 * (smoothValue as number)) / totals[order - 1];
      }
    } else {
      precisions[order - 1] = (100 * counts[order - 1]) / totals[order - 1];
    }
  }
  // sacreBLEU's my_log maps log(0) to -9999999999, which drives the score to exactly 0.
  let logSum = 0;
  for (const precision of precisions.slice(0, effectiveOrder)) {
    logSum += precision === 0 ? -9999999999 : Math.log(precision);
  }
  const score = bp * Math.exp(logSum / effectiveOrder);
  return { score, precisions, bp, sysLen, refLen, counts, totals, ratio, signature };
}

/**
 * Segment-level sufficient statistics, summed over the corpus (sacreBLEU's corpus_score).
 * `references` is a list of reference streams, each as long as `hypotheses` (sacreBLEU's layout):
 * references[k][i] is the k-th reference of segment i. A missing (undefined/null) reference is skipped for that
 * segment; an empty string is a reference of length 0 (sacreBLEU >= 2.2).
 */
export function bleuStatistics(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: BleuOptions = {},
): BleuStatistics & { numberOfReferences: number | "var" } {
  const resolved = resolveOptions(options);
  if (!Array.isArray(hypotheses)) {
    throw new Error("corpusBleu(hypotheses): expected an array of hypothesis strings.");
  }
  if (!Array.isArray(references) || references.length === 0 || !references.every((stream) => Array.isArray(stream))) {
    throw new Error("corpusBleu(references): expected a non-empty array of reference streams (string[][]): references[k][i] is reference k of segment i.");
  }
  for (const [streamIndex, stream] of references.entries()) {
    if (stream.length !== hypotheses.length) {
      throw new Error(
        `corpusBleu(references[${streamIndex}]): has ${stream.length} segments but hypotheses has ${hypotheses.length}; every reference stream must align with the hypotheses.`,
      );
    }
  }
  const maxOrder = resolved.maxNgramOrder;
  const counts = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  const referenceCountsSeen = new Set<number>();
  for (let segment = 0; segment < hypotheses.length; segment++) {
    const hypothesis = hypotheses[segment];
    if (typeof hypothesis !== "string") {
      throw new Error(`corpusBleu(hypotheses[${segment}]): expected a string, got ${typeof hypothesis}.`);
    }
    const segmentReferences = references
      .map((stream) => stream[segment])
      .filter((reference): reference is string => reference !== undefined && reference !== null);
    if (segmentReferences.length === 0) {
      // sacreBLEU would score such a segment against a reference length of -1; refuse it instead.
      throw new Error(`corpusBleu(references): segment ${segment} has no reference (all undefined/null); every segment needs at least one reference string.`);
    }
    referenceCountsSeen.add(segmentReferences.length);

    const referenceNgrams: Map<string, number>[] = Array.from({ length: maxOrder }, () => new Map<string, number>());
    const referenceLengths: number[] = [];
    for (const reference of segmentReferences) {
      const tokens = splitLikePython(preprocess(reference, resolved));
      referenceLengths.push(tokens.length);
      const perOrder = ngramCounts(tokens, maxOrder);
      for (let order = 0; order < maxOrder; order++) {
        for (const [ngram, count] of perOrder[order]) {
          referenceNgrams[order].set(ngram, Math.max(referenceNgrams[order].get(ngram) ?? 0, count));
        }
      }
    }
    const hypothesisTokens = splitLikePython(preprocess(hypothesis, resolved));
    sysLen += hypothesisTokens.length;
    refLen += closestReferenceLength(hypothesisTokens.length, referenceLengths);
    const hypothesisNgrams = ngramCounts(hypothesisTokens, maxOrder);
    for (let order = 0; order < maxOrder; order++) {
      for (const [ngram, count] of hypothesisNgrams[order]) {
        totals[order] += count;
        const referenceCount = referenceNgrams[order].get(ngram);
        if (referenceCount !== undefined) counts[order] += Math.min(count, referenceCount);
      }
    }
  }
  const numberOfReferences = referenceCountsSeen.size === 1 ? [...referenceCountsSeen][0] : "var";
  return { counts, totals, sysLen, refLen, numberOfReferences };
}

/** Corpus BLEU over aligned hypotheses and reference streams; sacreBLEU's `corpus_bleu` with the same options. */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  options: BleuOptions = {},
): BleuScore {
  const { numberOfReferences, ...statistics } = bleuStatistics(hypotheses, references, options);
  return computeBleu(statistics, options, numberOfReferences);
}

/**
 * BLEU of one sentence against its references (a list of strings). Effective order is on by default,
 * as sacreBLEU recommends for sentence-level scores; corpus BLEU is the metric to report.
 */
export function sentenceBleu(hypothesis: string, references: readonly string[], options: BleuOptions = {}): BleuScore {
  const withDefaults: BleuOptions = { effectiveOrder: true, ...options };
  return corpusBleu([hypothesis], references.map((reference) => [reference]), withDefaults);
}

/** sacreBLEU's signature format: nrefs|case|eff|tok|smooth|version (short form: #|c|e|tok|s|v). */
export function bleuSignature(options: BleuOptions = {}, numberOfReferences: number | "var" = 1, short = false): string {
  const resolved = resolveOptions(options);
  const smoothDefault = SMOOTH_DEFAULTS[resolved.smoothMethod];
  let smooth: string = resolved.smoothMethod;
  if (smoothDefault !== undefined) {
    smooth += `[${(resolved.smoothValue ?? smoothDefault).toFixed(2)}]`;
  }
  const fields: Array<[string, string, string]> = [
    ["nrefs", "#", String(numberOfReferences)],
    ["case", "c", resolved.lowercase ? "lc" : "mixed"],
    ["eff", "e", resolved.effectiveOrder ? "yes" : "no"],
    ["tok", "tok", resolved.tokenize],
    ["smooth", "s", smooth],
    ["version", "v", "rnnlab"],
  ];
  if (resolved.maxNgramOrder !== 4) {
    // sacreBLEU has no field for this; record it so a non-default order cannot pass for standard BLEU.
    fields.splice(5, 0, ["ngram", "n", String(resolved.maxNgramOrder)]);
  }
  return fields.map(([name, abbreviation, value]) => `${short ? abbreviation : name}:${value}`).join("|");
}
