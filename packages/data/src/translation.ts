/**
 * Parallel corpora for translation: aligned line files, vocabularies with special tokens, optional
 * BPE, length filtering and length-bucketed, padded batches.
 *
 * Layouts (see datasets/manifest.json):
 * - multi30k_de_en: `tok/<split>.lc.norm.tok.<lang>` (lowercased, tokenized: the model's text) and
 *   `raw/<split>.<lang>.gz` (original, cased captions: the detokenized BLEU references; when a raw
 *   file is absent, `detokenize` of the lowercased target is used instead). Splits: train=train,
 *   valid=val, test=test_2016_flickr.
 * - iwslt14_de_en: fairseq `prepare-iwslt14.sh` output `<split>.<lang>` (tokenized, lowercased, BPE
 *   with `@@ `); references are the BPE-joined tokenized target (fairseq `--remove-bpe` convention).
 * - iwslt15_en_vi: `train|tst2012|tst2013.<lang>` (Moses-tokenized, cased, XML-escaped); references
 *   are the target with Moses escapes undone and a simple detokenization (`detokenize`).
 * Filters, each counted in the result: pairs with an empty side (always dropped; none in Multi30k),
 * pairs outside [minLength, maxLength] (`filterByLength`, usually for training only).
 * Reading the files and the layouts: translation-corpus.ts.
 */
import type { Rng } from "@rnnlab/core";
import { BytePairEncoding } from "./bpe";
import { Vocabulary } from "./vocabulary";
import type { ParallelSplit, SplitName, TranslationCorpus } from "./translation-corpus";

export * from "./translation-corpus";

export const PAD = "<pad>";
export const UNKNOWN = "<unk>";
export const BOS = "<s>";
export const END = "</s>";
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
export const BOS_ID = 2;
export const END_ID = 3;
export const TRANSLATION_SPECIALS = [PAD, UNKNOWN, BOS, END];

/** Vocabulary with `<pad>=0 <unk>=1 <s>=2 </s>=3`, then tokens by frequency (ties: first occurrence). */
export function buildTranslationVocabulary(sentences: Iterable<readonly string[]>, options: { maxSize?: number; minFrequency?: number } = {}): Vocabulary {
  return Vocabulary.build(sentences, { specials: TRANSLATION_SPECIALS, order: "frequency", unknownToken: UNKNOWN, ...options });
}

/** Applies a BPE table to both sides (or one side) of a split, returning a new split. */
export function applyBpeToSplit(split: ParallelSplit, bpe: { source?: BytePairEncoding; target?: BytePairEncoding }): ParallelSplit {
  return {
    ...split,
    source: bpe.source ? split.source.map((s) => bpe.source!.apply(s)) : split.source,
    target: bpe.target ? split.target.map((t) => bpe.target!.apply(t)) : split.target,
  };
}

export interface LengthFilterOptions {
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Default 1. */
  minLength?: number;
}

/** Keeps pairs whose token counts lie in range; reports how many were dropped. */
export function filterByLength(split: ParallelSplit, options: LengthFilterOptions): { split: ParallelSplit; dropped: number } {
  const minimum = options.minLength ?? 1;
  const keep: number[] = [];
  split.source.forEach((s, i) => {
    const t = split.target[i];
    if (s.length < minimum || t.length < minimum) return;
    if (options.maxSourceLength !== undefined && s.length > options.maxSourceLength) return;
    if (options.maxTargetLength !== undefined && t.length > options.maxTargetLength) return;
    keep.push(i);
  });
  return {
    split: {
      ...split,
      source: keep.map((i) => split.source[i]),
      target: keep.map((i) => split.target[i]),
      references: keep.map((i) => split.references[i]),
      lineNumbers: keep.map((i) => split.lineNumbers[i]),
    },
    dropped: split.source.length - keep.length,
  };
}

export interface EncodedPairs {
  source: Int32Array[];
  target: Int32Array[];
}

export function encodePairs(split: ParallelSplit, sourceVocabulary: Vocabulary, targetVocabulary: Vocabulary): EncodedPairs {
  return {
    source: split.source.map((s) => sourceVocabulary.encode(s, split.sourceFile)),
    target: split.target.map((t) => targetVocabulary.encode(t, split.targetFile)),
  };
}

export interface TranslationBatch {
  batchSize: number;
  sourceLength: number;
  targetLength: number;
  /** [batch, sourceLength], padded with PAD_ID. */
  source: Int32Array;
  /** [batch, sourceLength], 1 for real tokens, 0 for padding. */
  sourceMask: Float32Array;
  sourceLengths: Int32Array;
  /** [batch, targetLength]: `<s> y1 .. yn` (decoder input). */
  targetInput: Int32Array;
  /** [batch, targetLength]: `y1 .. yn </s>` (decoder output). */
  targetOutput: Int32Array;
  /** [batch, targetLength]. */
  targetMask: Float32Array;
  /** Index of each row's pair in the encoded split (for references). */
  indices: Int32Array;
}

export interface TranslationBatchOptions {
  batchSize: number;
  /** Given: shuffle ties within length buckets and the batch order (training). Absent: fixed order. */
  rng?: Rng;
  /** Sort by length before chunking (default true), so batches hold similar lengths. */
  bucketByLength?: boolean;
  /** Append `</s>` to the source too (default false). */
  sourceEnd?: boolean;
}

/** Length-bucketed, padded batches: sort by (source, target) length, chunk, then shuffle batches. */
export function makeTranslationBatches(pairs: EncodedPairs, options: TranslationBatchOptions): TranslationBatch[] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`makeTranslationBatches: batchSize must be a positive integer, got ${batchSize}`);
  if (pairs.source.length !== pairs.target.length) throw new Error("makeTranslationBatches: source and target counts differ");
  const order = Array.from(pairs.source, (_, i) => i);
  if (options.rng) options.rng.shuffle(order); // random tie order inside buckets
  if (options.bucketByLength ?? true)
    order.sort((a, b) => pairs.source[a].length - pairs.source[b].length || pairs.target[a].length - pairs.target[b].length);
  const chunks: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) chunks.push(order.slice(i, i + batchSize));
  if (options.rng) options.rng.shuffle(chunks);
  const extra = options.sourceEnd ? 1 : 0;
  return chunks.map((rows) => {
    const b = rows.length;
    const sourceLength = Math.max(...rows.map((i) => pairs.source[i].length)) + extra;
    const targetLength = Math.max(...rows.map((i) => pairs.target[i].length)) + 1;
    const batch: TranslationBatch = {
      batchSize: b,
      sourceLength,
      targetLength,
      source: new Int32Array(b * sourceLength), // [batch, sourceLength]
      sourceMask: new Float32Array(b * sourceLength),
      sourceLengths: new Int32Array(b),
      targetInput: new Int32Array(b * targetLength), // [batch, targetLength]
      targetOutput: new Int32Array(b * targetLength),
      targetMask: new Float32Array(b * targetLength),
      indices: Int32Array.from(rows),
    };
    rows.forEach((pair, r) => {
      const s = pairs.source[pair];
      const t = pairs.target[pair];
      batch.source.set(s, r * sourceLength);
      if (extra) batch.source[r * sourceLength + s.length] = END_ID;
      batch.sourceMask.fill(1, r * sourceLength, r * sourceLength + s.length + extra);
      batch.sourceLengths[r] = s.length + extra;
      batch.targetInput[r * targetLength] = BOS_ID;
      batch.targetInput.set(t, r * targetLength + 1);
      batch.targetOutput.set(t, r * targetLength);
      batch.targetOutput[r * targetLength + t.length] = END_ID;
      batch.targetMask.fill(1, r * targetLength, r * targetLength + t.length + 1);
    });
    return batch;
  });
}

export interface TranslationTaskOptions {
  /** Learn BPE with this many merges on the training split (absent: word level). */
  bpeMerges?: number;
  /** One BPE table learned on source + target training text (fairseq IWSLT'14 style); default false. */
  jointBpe?: boolean;
  /** Training pairs longer than this (in units, after BPE) are dropped; valid/test are never filtered. */
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Vocabulary cap per language (specials included) and minimum training frequency. */
  maxVocabularySize?: number;
  minFrequency?: number;
}

export interface PreparedSplit {
  split: ParallelSplit;
  pairs: EncodedPairs;
}

export interface TranslationTask {
  sourceVocabulary: Vocabulary;
  targetVocabulary: Vocabulary;
  sourceBpe: BytePairEncoding | null;
  targetBpe: BytePairEncoding | null;
  splits: Partial<Record<SplitName, PreparedSplit>>;
  /** What each filter removed, per split. */
  dropped: Partial<Record<SplitName, { emptyPairs: number; tooLong: number }>>;
}

/**
 * The usual pipeline on a loaded corpus: BPE learned on train (optional), length filter on train,
 * vocabularies from train, every split encoded. Unknown valid/test units map to `<unk>`.
 */
export function prepareTranslationTask(corpus: TranslationCorpus, options: TranslationTaskOptions = {}): TranslationTask {
  const train = corpus.splits.train;
  if (!train) throw new Error(`prepareTranslationTask(${corpus.name}): the corpus has no train split; load it with splits including "train"`);
  let sourceBpe: BytePairEncoding | null = null;
  let targetBpe: BytePairEncoding | null = null;
  if (options.bpeMerges !== undefined) {
    if (options.jointBpe) sourceBpe = targetBpe = BytePairEncoding.learn([...train.source, ...train.target], options.bpeMerges);
    else {
      sourceBpe = BytePairEncoding.learn(train.source, options.bpeMerges);
      targetBpe = BytePairEncoding.learn(train.target, options.bpeMerges);
    }
  }
  const segment = (split: ParallelSplit) => (sourceBpe && targetBpe ? applyBpeToSplit(split, { source: sourceBpe, target: targetBpe }) : split);
  const filtered = filterByLength(segment(train), { maxSourceLength: options.maxSourceLength, maxTargetLength: options.maxTargetLength });
  const vocabularyOptions = { maxSize: options.maxVocabularySize, minFrequency: options.minFrequency };
  const sourceVocabulary = buildTranslationVocabulary(filtered.split.source, vocabularyOptions);
  const targetVocabulary = buildTranslationVocabulary(filtered.split.target, vocabularyOptions);
  const task: TranslationTask = { sourceVocabulary, targetVocabulary, sourceBpe, targetBpe, splits: {}, dropped: {} };
  for (const name of ["train", "valid", "test"] as SplitName[]) {
    const raw = corpus.splits[name];
    if (!raw) continue;
    const split = name === "train" ? filtered.split : segment(raw);
    task.splits[name] = { split, pairs: encodePairs(split, sourceVocabulary, targetVocabulary) };
    task.dropped[name] = { emptyPairs: raw.dropped.emptyPairs, tooLong: name === "train" ? filtered.dropped : 0 };
  }
  return task;
}
