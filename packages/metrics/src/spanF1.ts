/**
 * Span (chunk) precision, recall and F1 with CoNLL conlleval semantics (Tjong Kim Sang & Buchholz,
 * CoNLL-2000; the conlleval.pl script also used for CoNLL-2003 NER).
 *
 *   precision_t = |gold_t ∩ guess_t| / |guess_t|,  recall_t = |gold_t ∩ guess_t| / |gold_t|,
 *   F1_t = 2·P·R / (P + R);  micro totals pool all types.  A span counts as correct only when its
 *   start, end and type all match.  Values are percentages (0..100), as conlleval prints them.
 *
 * Chunks are read with conlleval's startOfChunk/endOfChunk rules, so IOB1 (I- after O, or after a chunk of
 * another type, starts a chunk; B- only separates two adjacent chunks of one type) and IOB2 read the same.
 * A tag splits at its first "-" into prefix and type ("B-PER" → B, PER); "O" has no type.
 * DEVIATION: conlleval.pl knows no S- prefix and does not end a chunk on E→B; for BIOES we add the rules
 * the widely used Python port of conlleval adds (a chunk ends after every E- and S-, and every B- and S-
 * starts one). They change nothing for IOB1/IOB2 input, where E- and S- never occur.
 */

export type TaggingScheme = "IOB1" | "IOB2" | "BIOES";

export interface Span {
  type: string;
  /** First token index (inclusive). */
  start: number;
  /** Last token index (inclusive), as conlleval reports chunks. */
  end: number;
}

export interface PrecisionRecallF1 {
  /** Percent, 0..100; 0 when there are no guessed spans. */
  precision: number;
  /** Percent, 0..100; 0 when there are no gold spans. */
  recall: number;
  /** Percent, 0..100; 0 when precision + recall is 0. */
  f1: number;
  correct: number;
  /** Number of guessed (predicted) spans. */
  guessed: number;
  /** Number of gold spans. */
  gold: number;
}

export interface SpanF1Result {
  /** Micro-averaged over all types (conlleval's "accuracy … FB1" line). */
  overall: PrecisionRecallF1;
  /** One entry per type seen in gold or guesses, keys sorted. */
  perType: Record<string, PrecisionRecallF1>;
  /** Token-level tag accuracy in percent (conlleval's "accuracy"). */
  tokenAccuracy: number;
}

const ALLOWED_PREFIXES: Record<TaggingScheme, ReadonlySet<string>> = {
  IOB1: new Set(["B", "I", "O"]),
  IOB2: new Set(["B", "I", "O"]),
  BIOES: new Set(["B", "I", "O", "E", "S"]),
};

function splitTag(tag: string): { prefix: string; type: string } {
  const dash = tag.indexOf("-");
  if (dash === -1) return { prefix: tag, type: "" };
  return { prefix: tag.slice(0, dash), type: tag.slice(dash + 1) };
}

// conlleval.pl's endOfChunk, plus the BIOES rules (see the file header).
function endOfChunk(previousPrefix: string, prefix: string, previousType: string, type: string): boolean {
  if (previousPrefix === "E" || previousPrefix === "S") return true;
  if ((previousPrefix === "B" || previousPrefix === "I") && (prefix === "B" || prefix === "O" || prefix === "S")) return true;
  if (previousPrefix !== "O" && previousPrefix !== "." && previousType !== type) return true;
  return previousPrefix === "]" || previousPrefix === "[";
}

// conlleval.pl's startOfChunk, plus the BIOES rules (see the file header).
function startOfChunk(previousPrefix: string, prefix: string, previousType: string, type: string): boolean {
  if (prefix === "B" || prefix === "S") return true;
  if ((previousPrefix === "E" || previousPrefix === "S" || previousPrefix === "O") && (prefix === "E" || prefix === "I")) return true;
  if (prefix !== "O" && prefix !== "." && previousType !== type) return true;
  return prefix === "[" || prefix === "]";
}

function validateTags(tags: readonly string[], scheme: TaggingScheme, where: string): void {
  const allowed = ALLOWED_PREFIXES[scheme];
  if (allowed === undefined) {
    throw new Error(`spanF1 options.scheme: unknown scheme "${String(scheme)}"; use "IOB1", "IOB2" or "BIOES".`);
  }
  for (const [index, tag] of tags.entries()) {
    if (typeof tag !== "string") {
      throw new Error(`${where}[${index}]: expected a tag string, got ${typeof tag}.`);
    }
    const { prefix, type } = splitTag(tag);
    if (!allowed.has(prefix) || (prefix === "O" && tag !== "O") || (prefix !== "O" && type === "")) {
      throw new Error(
        `${where}[${index}]: tag "${tag}" is not valid in scheme ${scheme}; expected "O" or one of ${[...allowed]
          .filter((p) => p !== "O")
          .map((p) => `${p}-TYPE`)
          .join(", ")}.`,
      );
    }
  }
}

/**
 * Spans of one tag sequence (one sentence), read with conlleval's rules. Chunks never cross the end of
 * the sequence; pass sentences separately.
 */
export function extractSpans(tags: readonly string[], scheme: TaggingScheme = "IOB2"): Span[] {
  validateTags(tags, scheme, "extractSpans(tags)");
  const spans: Span[] = [];
  let previousPrefix = "O";
  let previousType = "";
  let openStart = -1;
  for (let index = 0; index <= tags.length; index++) {
    // A virtual "O" after the last token closes any open chunk, as conlleval's sentence boundary does.
    const { prefix, type } = index < tags.length ? splitTag(tags[index]) : { prefix: "O", type: "" };
    if (openStart >= 0 && endOfChunk(previousPrefix, prefix, previousType, type)) {
      spans.push({ type: previousType, start: openStart, end: index - 1 });
      openStart = -1;
    }
    if (index < tags.length && startOfChunk(previousPrefix, prefix, previousType, type)) {
      openStart = index;
    }
    previousPrefix = prefix;
    previousType = type;
  }
  return spans;
}

function score(correct: number, guessed: number, gold: number): PrecisionRecallF1 {
  const precision = guessed > 0 ? (100 * correct) / guessed : 0;
  const recall = gold > 0 ? (100 * correct) / gold : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, correct, guessed, gold };
}

/** Accumulates span counts sentence by sentence; value() divides once at the end. */
export class SpanF1Accumulator {
  private readonly counts = new Map<string, { correct: number; guessed: number; gold: number }>();
  private tokensCorrect = 0;
  private tokensTotal = 0;

  constructor(private readonly scheme: TaggingScheme = "IOB2") {
    if (ALLOWED_PREFIXES[scheme] === undefined) {
      throw new Error(`SpanF1Accumulator(scheme): unknown scheme "${String(scheme)}"; use "IOB1", "IOB2" or "BIOES".`);
    }
  }

  private entry(type: string): { correct: number; guessed: number; gold: number } {
    let found = this.counts.get(type);
    if (found === undefined) {
      found = { correct: 0, guessed: 0, gold: 0 };
      this.counts.set(type, found);
    }
    return found;
  }

  /** Adds one sentence: gold tags and predicted tags of equal length. */
  add(goldTags: readonly string[], predictedTags: readonly string[]): this {
    if (goldTags.length !== predictedTags.length) {
      throw new Error(
        `spanF1: a sentence has ${goldTags.length} gold tags but ${predictedTags.length} predicted tags; they must align token by token.`,
      );
    }
    const goldSpans = extractSpans(goldTags, this.scheme);
    const predictedSpans = extractSpans(predictedTags, this.scheme);
    const goldKeys = new Set(goldSpans.map((span) => `${span.start}:${span.end}:${span.type}`));
    for (const span of goldSpans) this.entry(span.type).gold += 1;
    for (const span of predictedSpans) {
      const entry = this.entry(span.type);
      entry.guessed += 1;
      if (goldKeys.has(`${span.start}:${span.end}:${span.type}`)) entry.correct += 1;
    }
    for (let index = 0; index < goldTags.length; index++) {
      if (goldTags[index] === predictedTags[index]) this.tokensCorrect += 1;
    }
    this.tokensTotal += goldTags.length;
    return this;
  }

  value(): SpanF1Result {
    let correct = 0;
    let guessed = 0;
    let gold = 0;
    const perType: Record<string, PrecisionRecallF1> = {};
    for (const type of [...this.counts.keys()].sort()) {
      const entry = this.counts.get(type)!;
      correct += entry.correct;
      guessed += entry.guessed;
      gold += entry.gold;
      perType[type] = score(entry.correct, entry.guessed, entry.gold);
    }
    return {
      overall: score(correct, guessed, gold),
      perType,
      tokenAccuracy: this.tokensTotal > 0 ? (100 * this.tokensCorrect) / this.tokensTotal : 0,
    };
  }
}

/** Span P/R/F1 over sentences: gold[i] and predicted[i] are the tag sequences of sentence i. */
export function spanF1(
  gold: readonly (readonly string[])[],
  predicted: readonly (readonly string[])[],
  scheme: TaggingScheme = "IOB2",
): SpanF1Result {
  if (gold.length !== predicted.length) {
    throw new Error(`spanF1(): ${gold.length} gold sentences but ${predicted.length} predicted sentences; pass one tag list per sentence for both.`);
  }
  const accumulator = new SpanF1Accumulator(scheme);
  for (let sentence = 0; sentence < gold.length; sentence++) {
    accumulator.add(gold[sentence], predicted[sentence]);
  }
  return accumulator.value();
}
