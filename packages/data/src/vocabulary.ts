/**
 * Vocabularies: token <-> id maps with a deterministic index order.
 *
 * - `firstOccurrence`: ids in the order tokens first appear (AWD-LSTM / pytorch word_language_model
 *   `Dictionary`, so PTB/WikiText-2 ids equal theirs).
 * - `frequency`: by count descending, ties by first occurrence (for size caps: the kept set is the
 *   most frequent one, and the order is still deterministic).
 * Special tokens always take the first ids, in the order given.
 */

export type VocabularyOrder = "firstOccurrence" | "frequency";

export interface VocabularyOptions {
  /** Reserved tokens at ids 0..k-1, e.g. ["<pad>", "<unk>", "<s>", "</s>"]. */
  specials?: string[];
  order?: VocabularyOrder;
  /** Keep at most this many entries in total (specials included). */
  maxSize?: number;
  /** Drop tokens seen fewer times than this. */
  minFrequency?: number;
  /** Token that unknown words map to; must be among the specials or the counted tokens. */
  unknownToken?: string;
}

export class Vocabulary {
  readonly tokens: readonly string[];
  private readonly index: Map<string, number>;
  readonly unknownId: number;
  /** Counted types removed by maxSize / minFrequency. */
  readonly droppedTypes: number;

  constructor(tokens: string[], unknownToken?: string, droppedTypes = 0) {
    // Copy each token into its own string: a token split out of a file is a V8 "sliced string" that
    // keeps the whole file text alive (21 MB for WikiText-2's train split) as long as it lives.
    this.tokens = tokens.map((t) => Buffer.from(t, "utf8").toString("utf8"));
    this.index = new Map(this.tokens.map((t, i) => [t, i]));
    if (this.index.size !== this.tokens.length) throw new Error("Vocabulary: duplicate tokens");
    this.unknownId = unknownToken === undefined ? -1 : (this.index.get(unknownToken) ?? -1);
    if (unknownToken !== undefined && this.unknownId < 0) throw new Error(`Vocabulary: unknown token "${unknownToken}" is not in the vocabulary`);
    this.droppedTypes = droppedTypes;
  }

  /** Builds a vocabulary from token sequences (see the file comment for the order rules). */
  static build(sequences: Iterable<readonly string[]>, options: VocabularyOptions = {}): Vocabulary {
    const specials = options.specials ?? [];
    const counts = new Map<string, number>();
    for (const sequence of sequences) for (const token of sequence) counts.set(token, (counts.get(token) ?? 0) + 1);
    for (const s of specials) counts.delete(s);
    let entries = [...counts.entries()]; // Map iteration order = first occurrence
    const before = entries.length;
    if (options.minFrequency !== undefined) entries = entries.filter(([, c]) => c >= options.minFrequency!);
    if ((options.order ?? "firstOccurrence") === "frequency" || options.maxSize !== undefined) {
      const rank = new Map(entries.map(([t], i) => [t, i]));
      const sorted = [...entries].sort((a, b) => b[1] - a[1] || rank.get(a[0])! - rank.get(b[0])!);
      if (options.maxSize !== undefined) {
        const keep = new Set(sorted.slice(0, Math.max(0, options.maxSize - specials.length)).map(([t]) => t));
        entries = (options.order ?? "firstOccurrence") === "frequency" ? sorted.filter(([t]) => keep.has(t)) : entries.filter(([t]) => keep.has(t));
      } else entries = sorted;
    }
    return new Vocabulary([...specials, ...entries.map(([t]) => t)], options.unknownToken, before - entries.length);
  }

  get size(): number {
    return this.tokens.length;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** Id of `token`; the unknown id if absent and one exists, else -1. */
  id(token: string): number {
    return this.index.get(token) ?? this.unknownId;
  }

  token(id: number): string {
    const t = this.tokens[id];
    if (t === undefined) throw new Error(`Vocabulary: id ${id} out of range [0, ${this.tokens.length})`);
    return t;
  }

  /** Encodes tokens; throws (naming `where`) for an unknown token when there is no unknown id. */
  encode(tokens: readonly string[], where = "input"): Int32Array {
    const ids = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const id = this.id(tokens[i]);
      if (id < 0) throw new Error(`${where}: token "${tokens[i]}" is not in the vocabulary and there is no unknown token`);
      ids[i] = id;
    }
    return ids;
  }

  decode(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.token(id));
  }

  toJSON(): { tokens: readonly string[]; unknownToken: string | null } {
    return { tokens: this.tokens, unknownToken: this.unknownId >= 0 ? this.tokens[this.unknownId] : null };
  }

  static fromJSON(json: { tokens: string[]; unknownToken: string | null }): Vocabulary {
    return new Vocabulary(json.tokens, json.unknownToken ?? undefined);
  }
}
