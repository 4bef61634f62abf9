/**
 * The tagger's data side (./tagger.ts): token-id sentences, casing classes (Collobert et al. 2011's "caps"
 * feature) and padded time-major batches.
 */
import { tf } from "@rnnlab/core";
import type { TokenIds } from "./seq2seq";

/**
 * Casing classes (id 0 is padding): 1 lower, 2 Capitalized, 3 ALLCAPS, 4 miXed, 5 numeric (digits and
 * . , only), 6 contains a digit, 7 no letter or digit (punctuation, symbols).
 */
export const CASING_CLASSES = 8;

export function wordCasing(word: string): number {
  if (/^[0-9][0-9.,]*$/.test(word)) return 5;
  if (/[0-9]/.test(word)) return 6;
  const letters = [...word].filter((ch) => ch.toLowerCase() !== ch.toUpperCase());
  if (letters.length === 0) return 7;
  const upper = letters.filter((ch) => ch === ch.toUpperCase()).length;
  if (upper === 0) return 1;
  if (upper === letters.length) return letters.length === 1 ? 2 : 3;
  if (upper === 1 && letters[0] === letters[0].toUpperCase()) return 2;
  return 4;
}

/** Sentences as ids: words[i][t] (casing class casing[i][t], see wordCasing) has tag tags[i][t]. */
export interface TaggedIds {
  words: readonly TokenIds[];
  tags: readonly TokenIds[];
  /** Needed when the model has casingEmbeddingSize > 0. */
  casing?: readonly TokenIds[];
}

/** Sentences to tag (no gold tags). */
export type UntaggedIds = Omit<TaggedIds, "tags">;

export interface TaggingTensors {
  /** [T, B] int32, padded with padToken. */
  words: tf.Tensor2D;
  /** [T, B] int32, padded with 0 (masked out). */
  tags: tf.Tensor2D;
  /** [T, B] float32, 1 on real tokens. */
  mask: tf.Tensor2D;
  lengths: number[];
  /** [T, B] int32 casing classes (0 on padding), when the data has them. */
  casing?: tf.Tensor2D;
}

export function padTaggingBatch(config: { padToken: number }, words: readonly TokenIds[], tags: readonly TokenIds[], casing?: readonly TokenIds[]): TaggingTensors {
  if (words.length !== tags.length || words.length === 0) throw new Error(`padTaggingBatch: need as many tag sequences as sentences (>0), got ${words.length} and ${tags.length}`);
  const B = words.length;
  words.forEach((w, b) => {
    if (w.length === 0) throw new Error(`padTaggingBatch: sentence ${b} is empty; drop empty sentences before batching`);
    if (w.length !== tags[b].length) throw new Error(`padTaggingBatch: sentence ${b} has ${w.length} words but ${tags[b].length} tags`);
    if (casing && casing[b]?.length !== w.length) throw new Error(`padTaggingBatch: sentence ${b} has ${w.length} words but ${casing[b]?.length} casing classes`);
  });
  const T = Math.max(...words.map((w) => w.length));
  const w = new Int32Array(T * B).fill(config.padToken);
  const y = new Int32Array(T * B);
  const m = new Float32Array(T * B);
  const k = new Int32Array(T * B);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < words[b].length; t++) {
      w[t * B + b] = words[b][t];
      y[t * B + b] = tags[b][t];
      m[t * B + b] = 1;
      if (casing) k[t * B + b] = casing[b][t];
    }
  }
  return {
    words: tf.tensor2d(w, [T, B], "int32"),
    tags: tf.tensor2d(y, [T, B], "int32"),
    mask: tf.tensor2d(m, [T, B]),
    lengths: words.map((s) => s.length),
    ...(casing ? { casing: tf.tensor2d(k, [T, B], "int32") } : {}),
  };
}

export function disposeTaggingTensors(batch: TaggingTensors): void {
  batch.words.dispose();
  batch.tags.dispose();
  batch.mask.dispose();
  batch.casing?.dispose();
}

/**
 * @rnnlab/data NER sentences (`{words, tags}` strings) as ids through its vocabularies (`buildNerVocabularies`:
 * words with <pad>=0 and <unk>, tags with <pad>=0), with casing classes from the original words. Use
 * `vocabularies.tags` tokens as `tagNames`.
 */
export function taggedIdsFromSentences(
  sentences: readonly { words: readonly string[]; tags: readonly string[] }[],
  vocabularies: { words: { id(token: string): number }; tags: { id(token: string): number } },
  options: { lowercase?: boolean } = {},
): TaggedIds {
  return {
    words: sentences.map((s) => s.words.map((w) => vocabularies.words.id(options.lowercase ? w.toLowerCase() : w))),
    tags: sentences.map((s) => s.tags.map((t) => vocabularies.tags.id(t))),
    casing: sentences.map((s) => s.words.map(wordCasing)),
  };
}

