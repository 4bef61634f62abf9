/**
 * Named-entity recognition data: CoNLL-2003 (4 space-separated columns `word POS chunk NER`, IOB1,
 * `-DOCSTART-` document lines) and WNUT-17 (`token<TAB>tag`, IOB2; a line holding a single TAB also
 * separates sentences). Tags are converted to IOB2 or BIOES; sentences become padded id batches with
 * masks and optional character ids.
 *
 * Tag schemes: IOB1 uses `B-` only when an entity directly follows another of the same type; IOB2
 * starts every entity with `B-`; BIOES adds `E-` (last token) and `S-` (single-token entity).
 * Filters (counted): `-DOCSTART-` lines (and the empty sentence they leave) are skipped. Nothing else
 * is dropped; a malformed line is an error naming file:line and the expected columns.
 */
import type { Rng } from "@rnnlab/core";
import { requireDatasetFiles } from "./store";
import { readLines } from "./text";
import { Vocabulary } from "./vocabulary";

export type TagScheme = "IOB1" | "IOB2" | "BIOES";

export interface NerSentence {
  words: string[];
  tags: string[];
  /** 1-based line of the first token. */
  line: number;
}

export interface NerFile {
  file: string;
  sentences: NerSentence[];
  tokens: number;
  skipped: { documentStarts: number };
}

export type NerFormat = "conll2003" | "wnut17";

/** Parses a CoNLL-style file; `format` fixes the column layout. Tags are returned as in the file. */
export function parseNerText(text: string, file: string, format: NerFormat): NerFile {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const result: NerFile = { file, sentences: [], tokens: 0, skipped: { documentStarts: 0 } };
  let current: NerSentence | null = null;
  const close = () => {
    if (current && current.words.length > 0) result.sentences.push(current);
    current = null;
  };
  lines.forEach((raw, index) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const where = `${file}:${index + 1}`;
    if (format === "conll2003") {
      if (line.trim() === "") return close();
      const columns = line.split(" ");
      if (columns[0] === "-DOCSTART-") {
        result.skipped.documentStarts++;
        return close();
      }
      if (columns.length !== 4 || columns.some((c) => c === ""))
        throw new Error(`${where}: expected 4 space-separated columns (word POS chunk NER), found ${columns.filter((c) => c !== "").length}: "${line}"`);
      checkTag(columns[3], where);
      current ??= { words: [], tags: [], line: index + 1 };
      current.words.push(columns[0]);
      current.tags.push(columns[3]);
    } else {
      if (line === "" || line === "\t") return close();
      const columns = line.split("\t");
      if (columns.length !== 2 || columns[0] === "" || columns[1] === "")
        throw new Error(`${where}: expected 2 tab-separated columns (token<TAB>tag), found ${columns.length}: "${line}"`);
      checkTag(columns[1], where);
      current ??= { words: [], tags: [], line: index + 1 };
      current.words.push(columns[0]);
      current.tags.push(columns[1]);
    }
    result.tokens++;
  });
  close();
  if (result.sentences.length === 0) throw new Error(`${file}: no sentences found; expected ${format === "conll2003" ? "'word POS chunk NER' lines" : "'token<TAB>tag' lines"} separated by blank lines.`);
  return result;
}

function checkTag(tag: string, where: string): void {
  if (tag !== "O" && !/^[BIES]-.+$/.test(tag)) throw new Error(`${where}: invalid NER tag "${tag}"; expected O or B-/I-/E-/S-<type>`);
}

export function readNerFile(file: string, format: NerFormat): NerFile {
  const text = readLines(file, { expected: "NER annotations" }).join("\n") + "\n";
  return parseNerText(text, file, format);
}

const typeOf = (tag: string) => tag.slice(2);

/** IOB1 -> IOB2: an `I-X` that does not continue an X entity starts one (`B-X`). */
export function iob1ToIob2(tags: readonly string[]): string[] {
  return tags.map((tag, i) => {
    if (!tag.startsWith("I-")) return tag;
    const previous = i > 0 ? tags[i - 1] : "O";
    return previous === "O" || typeOf(previous) !== typeOf(tag) ? `B-${typeOf(tag)}` : tag;
  });
}

/** IOB2 -> BIOES. */
export function iob2ToBioes(tags: readonly string[]): string[] {
  return tags.map((tag, i) => {
    if (tag === "O") return tag;
    const next = i + 1 < tags.length ? tags[i + 1] : "O";
    const continues = next === `I-${typeOf(tag)}`;
    if (tag.startsWith("B-")) return continues ? tag : `S-${typeOf(tag)}`;
    if (tag.startsWith("I-")) return continues ? tag : `E-${typeOf(tag)}`;
    throw new Error(`iob2ToBioes: tag "${tag}" is not IOB2`);
  });
}

export function convertTags(tags: readonly string[], from: TagScheme, to: TagScheme): string[] {
  if (from === to) return [...tags];
  if (from === "BIOES") throw new Error("convertTags: conversion from BIOES is not supported; convert from IOB1 or IOB2");
  const iob2 = from === "IOB1" ? iob1ToIob2(tags) : [...tags];
  if (to === "IOB2") return iob2;
  if (to === "BIOES") return iob2ToBioes(iob2);
  throw new Error(`convertTags: cannot convert ${from} to ${to}`);
}

export type NerDatasetName = "conll2003" | "wnut17";

const NER_LAYOUT: Record<NerDatasetName, { files: [string, string, string]; scheme: TagScheme; format: NerFormat }> = {
  conll2003: { files: ["eng.train", "eng.testa", "eng.testb"], scheme: "IOB1", format: "conll2003" },
  wnut17: { files: ["wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated"], scheme: "IOB2", format: "wnut17" },
};

export interface NerCorpus {
  name: NerDatasetName;
  scheme: TagScheme;
  train: NerFile;
  valid: NerFile;
  test: NerFile;
}

/** Loads CoNLL-2003 or WNUT-17 with tags converted to `scheme` (default IOB2). */
export function loadNerCorpus(name: NerDatasetName, options: { scheme?: "IOB2" | "BIOES"; dataDir?: string; verify?: boolean } = {}): NerCorpus {
  const layout = NER_LAYOUT[name];
  if (!layout) throw new Error(`Unknown NER dataset "${name}"; expected conll2003 or wnut17`);
  const scheme = options.scheme ?? "IOB2";
  const paths = requireDatasetFiles(name, layout.files, options);
  const [train, valid, test] = paths.map((p) => {
    const parsed = readNerFile(p, layout.format);
    for (const s of parsed.sentences) s.tags = convertTags(s.tags, layout.scheme, scheme);
    return parsed;
  });
  return { name, scheme, train, valid, test };
}

export const WORD_PAD = "<pad>";
export const WORD_UNKNOWN = "<unk>";

export interface NerVocabularies {
  words: Vocabulary;
  /** Tags, `<pad>` at 0, the rest sorted by name (deterministic across runs and files). */
  tags: Vocabulary;
  characters: Vocabulary;
}

/** Word vocabulary `<pad>=0 <unk>=1` + training words by frequency; tag and character vocabularies. */
export function buildNerVocabularies(
  sentences: readonly NerSentence[],
  options: { maxWords?: number; minFrequency?: number; lowercase?: boolean } = {},
): NerVocabularies {
  const norm = (w: string) => (options.lowercase ? w.toLowerCase() : w);
  const words = Vocabulary.build(
    sentences.map((s) => s.words.map(norm)),
    { specials: [WORD_PAD, WORD_UNKNOWN], order: "frequency", unknownToken: WORD_UNKNOWN, maxSize: options.maxWords, minFrequency: options.minFrequency },
  );
  const tagSet = [...new Set(sentences.flatMap((s) => s.tags))].sort();
  const tags = new Vocabulary([WORD_PAD, ...tagSet]);
  const characters = Vocabulary.build(
    sentences.map((s) => s.words.flatMap((w) => [...w])),
    { specials: [WORD_PAD, WORD_UNKNOWN], order: "frequency", unknownToken: WORD_UNKNOWN },
  );
  return { words, tags, characters };
}

export interface NerBatch {
  batchSize: number;
  length: number;
  /** [batch, length], 0-padded. */
  wordIds: Int32Array;
  /** [batch, length], 0-padded (tag `<pad>`). */
  tagIds: Int32Array;
  /** [batch, length], 1 for tokens. */
  mask: Float32Array;
  lengths: Int32Array;
  /** [batch, length, maxWordLength] when characters were requested. */
  characterIds?: Int32Array;
  maxWordLength?: number;
  indices: Int32Array;
}

export interface NerBatchOptions {
  batchSize: number;
  /** Shuffle sentence order (training); absent: file order. */
  rng?: Rng;
  characters?: boolean;
  /** Truncate words to this many characters for characterIds (default: longest word in the batch). */
  maxWordLength?: number;
  lowercase?: boolean;
}

/** Padded batches of sentences. An unknown tag (absent from `tags`) is an error naming its line. */
export function makeNerBatches(sentences: readonly NerSentence[], vocabularies: NerVocabularies, options: NerBatchOptions): NerBatch[] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`makeNerBatches: batchSize must be a positive integer, got ${batchSize}`);
  const order = sentences.map((_, i) => i);
  if (options.rng) options.rng.shuffle(order);
  const norm = (w: string) => (options.lowercase ? w.toLowerCase() : w);
  const batches: NerBatch[] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const rows = order.slice(start, start + batchSize);
    const b = rows.length;
    const length = Math.max(...rows.map((i) => sentences[i].words.length));
    const batch: NerBatch = {
      batchSize: b,
      length,
      wordIds: new Int32Array(b * length), // [batch, length]
      tagIds: new Int32Array(b * length),
      mask: new Float32Array(b * length),
      lengths: new Int32Array(b),
      indices: Int32Array.from(rows),
    };
    let maxWord = 0;
    if (options.characters) {
      maxWord = options.maxWordLength ?? Math.max(...rows.flatMap((i) => sentences[i].words.map((w) => [...w].length)));
      batch.maxWordLength = maxWord;
      batch.characterIds = new Int32Array(b * length * maxWord); // [batch, length, maxWordLength]
    }
    rows.forEach((index, r) => {
      const s = sentences[index];
      batch.lengths[r] = s.words.length;
      s.words.forEach((w, t) => {
        const at = r * length + t;
        batch.wordIds[at] = vocabularies.words.id(norm(w));
        const tag = vocabularies.tags.has(s.tags[t]) ? vocabularies.tags.id(s.tags[t]) : -1;
        if (tag < 0) throw new Error(`sentence at line ${s.line}: tag "${s.tags[t]}" is not in the tag vocabulary (built from other data?)`);
        batch.tagIds[at] = tag;
        batch.mask[at] = 1;
        if (batch.characterIds) {
          const chars = [...w].slice(0, maxWord);
          chars.forEach((ch, k) => (batch.characterIds![at * maxWord + k] = vocabularies.characters.id(ch)));
        }
      });
    });
    batches.push(batch);
  }
  return batches;
}
