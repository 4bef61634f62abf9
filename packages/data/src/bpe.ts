/**
 * Byte-pair encoding for subword units (Sennrich, Haddow, Birch 2016, "Neural Machine Translation of
 * Rare Words with Subword Units"), following subword-nmt's conventions:
 * - a word is its characters with `</w>` glued to the LAST character (`l o w</w>`), so suffix units
 *   stay distinct from word-internal ones;
 * - learning repeatedly merges the most frequent adjacent symbol pair (counts weighted by word
 *   frequency), ties broken by the larger (left, right) pair as subword-nmt's
 *   `max(stats, key=lambda x: (stats[x], x))`, and stops at `numMerges` or when the best pair is rarer
 *   than `minFrequency` (subword-nmt default 2);
 * - applying a learned table merges, within each word, the adjacent pair with the lowest merge rank
 *   until none applies; every unit but the last of a word gets the `@@` continuation suffix.
 * Learning is incremental (only words holding the merged pair are updated; a lazy max-heap finds the
 * best pair), so 10k merges on Multi30k take seconds, not minutes.
 * DEVIATION: strings compare by UTF-16 code units, Python by code points; ties differ only for
 * characters outside the Basic Multilingual Plane.
 */

export const END_OF_WORD = "</w>";
export const CONTINUATION = "@@";

export function wordSymbols(word: string): string[] {
  const chars = [...word];
  if (chars.length === 0) return [];
  chars[chars.length - 1] += END_OF_WORD;
  return chars;
}

function comparePairs(a1: string, b1: string, a2: string, b2: string): number {
  if (a1 !== a2) return a1 < a2 ? -1 : 1;
  if (b1 !== b2) return b1 < b2 ? -1 : 1;
  return 0;
}

interface HeapEntry {
  count: number;
  left: string;
  right: string;
}

/** Max-heap by (count, left, right). */
class PairHeap {
  private items: HeapEntry[] = [];
  private above(x: HeapEntry, y: HeapEntry): boolean {
    return x.count !== y.count ? x.count > y.count : comparePairs(x.left, x.right, y.left, y.right) > 0;
  }
  get length(): number {
    return this.items.length;
  }
  push(entry: HeapEntry): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(items[i], items[parent])) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }
  pop(): HeapEntry | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.above(items[l], items[best])) best = l;
        if (r < items.length && this.above(items[r], items[best])) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best], items[i]];
        i = best;
      }
    }
    return top;
  }
}

const pairKey = (left: string, right: string) => `${left}\u0000${right}`;

/** Merges every non-overlapping occurrence of (left, right), left to right. */
export function mergePair(symbols: string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else out.push(symbols[i]);
  }
  return out;
}

export interface LearnBpeOptions {
  /** Stop when the best pair occurs fewer times than this. Default 2. */
  minFrequency?: number;
}

export class BytePairEncoding {
  readonly merges: ReadonlyArray<readonly [string, string]>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();

  constructor(merges: ReadonlyArray<readonly [string, string]>) {
    this.merges = merges;
    this.ranks = new Map(merges.map(([l, r], i) => [pairKey(l, r), i]));
  }

  /** Learns up to `numMerges` merges from word frequencies (or from tokenized sentences). */
  static learn(corpus: Map<string, number> | Iterable<readonly string[]>, numMerges: number, options: LearnBpeOptions = {}): BytePairEncoding {
    if (!Number.isInteger(numMerges) || numMerges < 0) throw new Error(`BytePairEncoding.learn: numMerges must be a non-negative integer, got ${numMerges}`);
    const minFrequency = options.minFrequency ?? 2;
    let frequencies: Map<string, number>;
    if (corpus instanceof Map) frequencies = corpus;
    else {
      frequencies = new Map();
      for (const sentence of corpus) for (const w of sentence) frequencies.set(w, (frequencies.get(w) ?? 0) + 1);
    }
    const words = [...frequencies.entries()].filter(([w]) => w.length > 0).map(([w, count]) => ({ symbols: wordSymbols(w), count }));
    const counts = new Map<string, number>();
    const where = new Map<string, Set<number>>();
    const heap = new PairHeap();
    const add = (symbols: string[], count: number, index: number, sign: 1 | -1, touched: Set<string>) => {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = pairKey(symbols[i], symbols[i + 1]);
        counts.set(key, (counts.get(key) ?? 0) + sign * count);
        touched.add(key);
        if (sign > 0) {
          let set = where.get(key);
          if (!set) where.set(key, (set = new Set()));
          set.add(index);
        }
      }
    };
    const initial = new Set<string>();
    words.forEach((w, i) => add(w.symbols, w.count, i, 1, initial));
    const pushKey = (key: string) => {
      const c = counts.get(key)!;
      if (c <= 0) return;
      const split = key.indexOf("\u0000");
      heap.push({ count: c, left: key.slice(0, split), right: key.slice(split + 1) });
    };
    initial.forEach(pushKey);
    const merges: [string, string][] = [];
    while (merges.length < numMerges && heap.length > 0) {
      const top = heap.pop()!;
      const key = pairKey(top.left, top.right);
      if (counts.get(key) !== top.count) continue; // stale entry
      if (top.count < minFrequency) break;
      merges.push([top.left, top.right]);
      const touched = new Set<string>();
      for (const index of where.get(key) ?? []) {
        const w = words[index];
        const merged = mergePair(w.symbols, top.left, top.right);
        if (merged.length === w.symbols.length) continue; // stale: the pair left this word earlier
        add(w.symbols, w.count, index, -1, touched);
        add(merged, w.count, index, 1, touched);
        w.symbols = merged;
      }
      where.delete(key);
      counts.delete(key);
      touched.delete(key);
      touched.forEach(pushKey);
    }
    return new BytePairEncoding(merges);
  }

  /** The units of one word, `</w>` removed (no `@@` markers). */
  segmentWord(word: string): string[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let symbols = wordSymbols(word);
    for (;;) {
      let bestRank = Infinity;
      let best = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(pairKey(symbols[i], symbols[i + 1]));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      symbols = mergePair(symbols, symbols[best], symbols[best + 1]);
    }
    const last = symbols[symbols.length - 1];
    if (last === END_OF_WORD) symbols.pop();
    else if (last.endsWith(END_OF_WORD)) symbols[symbols.length - 1] = last.slice(0, -END_OF_WORD.length);
    this.cache.set(word, symbols);
    return symbols;
  }

  /** Segments tokens into units, marking non-final units with `@@` (subword-nmt output). */
  apply(tokens: readonly string[]): string[] {
    const out: string[] = [];
    for (const token of tokens) {
      const units = this.segmentWord(token);
      units.forEach((u, i) => out.push(i < units.length - 1 ? u + CONTINUATION : u));
    }
    return out;
  }

  /** Undoes `apply` (fairseq `--remove-bpe`): joins units ending in `@@`. */
  static join(units: readonly string[]): string[] {
    const out: string[] = [];
    let pending = "";
    for (const u of units) {
      if (u.endsWith(CONTINUATION)) pending += u.slice(0, -CONTINUATION.length);
      else {
        out.push(pending + u);
        pending = "";
      }
    }
    if (pending) out.push(pending);
    return out;
  }

  /** subword-nmt codes file text (`#version: 0.2` header, one `left right` pair per line). */
  toCodes(): string {
    return ["#version: 0.2", ...this.merges.map(([l, r]) => `${l} ${r}`)].join("\n") + "\n";
  }

  static fromCodes(text: string, file = "codes"): BytePairEncoding {
    const merges: [string, string][] = [];
    text.split("\n").forEach((line, i) => {
      if (line === "" || (i === 0 && line.startsWith("#version"))) return;
      const parts = line.split(" ");
      if (parts.length !== 2) throw new Error(`${file}:${i + 1}: expected "left right", found ${parts.length} fields`);
      merges.push([parts[0], parts[1]]);
    });
    return new BytePairEncoding(merges);
  }
}
