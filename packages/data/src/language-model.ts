/**
 * Language-modelling corpora and BPTT batching (AWD-LSTM conventions, Merity et al. 2017,
 * github.com/salesforce/awd-lstm-lm `data.py`, `utils.py`, `main.py`).
 *
 * Tokens: each line is split on whitespace and gets one `<eos>`; every line counts, empty ones too
 * (WikiText-2's ` ` lines become a lone `<eos>`), exactly as `data.py` does. This gives PTB
 * 929,589 / 73,760 / 82,430 and WikiText-2 2,088,628 / 217,646 / 245,569 tokens.
 * Vocabulary: built from the training split in first-occurrence order (so ids equal AWD's). A
 * valid/test token absent from train maps to `<unk>` (counted in `outOfVocabulary`); without `<unk>`
 * in the vocabulary it is an error naming file:line. (PTB and WikiText-2 have none.)
 *
 * Character-level PTB (our rule, in the spirit of AWD's `pennchar`): per line, the characters of
 * each word; `_` between words; `<unk>` kept as ONE symbol (so it is not spelled `< u n k >`);
 * `<eos>` at the end of the line. Leading/trailing spaces of the Mikolov files are dropped.
 *
 * Batching: `batchify(ids, B)` trims to B·floor(n/B) tokens and lays stream b out as row b of a
 * row-major [B, steps] Int32Array (PyTorch's `view(B, -1).t()`, transposed). A window starting at
 * step i with length L has inputs data[:, i:i+L] and targets data[:, i+1:i+1+L], L capped at
 * steps-1-i (`get_batch`).
 * AWD variable windows: base = bptt with probability 0.95 else bptt/2; L = max(5, trunc(N(base, 5)));
 * the learning rate is scaled by L/bptt (`lr2 = lr * seq_len / args.bptt`), using the drawn L.
 */
import type { Rng } from "@rnnlab/core";
import { getManifestDataset } from "./manifest";
import { requireDatasetFiles } from "./store";
import { readTextFile, splitLines } from "./text";
import { Vocabulary } from "./vocabulary";

export const EOS = "<eos>";
export const UNK = "<unk>";

export type LanguageModelLevel = "word" | "character";

export interface CharacterRuleOptions {
  /** Symbol between words. Default "_". */
  wordSeparator?: string;
  /** Keep `<unk>` as one symbol (default true) rather than its five characters. */
  unknownAsSymbol?: boolean;
}

/**
 * Python's `str.split()` whitespace. JavaScript's `\s` also matches U+FEFF, which WikiText-2 train
 * uses 36 times as a token of its own; splitting on `\s` would lose those tokens and one type.
 */
const PYTHON_WHITESPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Splits a line into words exactly as Python's `line.split()` (AWD-LSTM `data.py`). */
export function splitWords(line: string): string[] {
  return line.split(PYTHON_WHITESPACE).filter((w) => w.length > 0);
}

/** The tokens of one line for the given level (`<eos>` appended). */
export function lineTokens(line: string, level: LanguageModelLevel, options: CharacterRuleOptions = {}): string[] {
  const words = splitWords(line);
  if (level === "word") {
    words.push(EOS);
    return words;
  }
  const separator = options.wordSeparator ?? "_";
  const out: string[] = [];
  words.forEach((w, i) => {
    if (i > 0) out.push(separator);
    if (w === UNK && options.unknownAsSymbol !== false) out.push(UNK);
    else for (const ch of w) out.push(ch);
  });
  out.push(EOS);
  return out;
}

export interface TextSource {
  text: string;
  /** For error messages. */
  file: string;
}

export interface LanguageModelCorpus {
  name: string;
  level: LanguageModelLevel;
  vocabulary: Vocabulary;
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
  lines: { train: number; valid: number; test: number };
  /** Valid/test tokens mapped to `<unk>` because train never had them. */
  outOfVocabulary: { valid: number; test: number };
}

function encodeText(source: TextSource, level: LanguageModelLevel, vocabulary: Map<string, number> | null, frozen: Vocabulary | null, rule: CharacterRuleOptions) {
  const lines = splitLines(source.text);
  const ids: number[] = [];
  let oov = 0;
  lines.forEach((line, index) => {
    for (const token of lineTokens(line, level, rule)) {
      if (vocabulary) {
        let id = vocabulary.get(token);
        if (id === undefined) {
          id = vocabulary.size;
          vocabulary.set(token, id);
        }
        ids.push(id);
      } else {
        let id = frozen!.has(token) ? frozen!.id(token) : -1;
        if (id < 0) {
          if (frozen!.unknownId < 0)
            throw new Error(`${source.file}:${index + 1}: token "${token}" does not occur in the training split and the vocabulary has no ${UNK}`);
          id = frozen!.unknownId;
          oov++;
        }
        ids.push(id);
      }
    }
  });
  return { ids: Int32Array.from(ids), lines: lines.length, oov };
}

/** Builds a corpus from train/valid/test texts (vocabulary from train). */
export function buildLanguageModelCorpus(
  name: string,
  sources: { train: TextSource; valid: TextSource; test: TextSource },
  options: { level?: LanguageModelLevel } & CharacterRuleOptions = {},
): LanguageModelCorpus {
  const level = options.level ?? "word";
  const map = new Map<string, number>();
  const train = encodeText(sources.train, level, map, null, options);
  const tokens = [...map.keys()];
  const vocabulary = new Vocabulary(tokens, map.has(UNK) ? UNK : undefined);
  const valid = encodeText(sources.valid, level, null, vocabulary, options);
  const test = encodeText(sources.test, level, null, vocabulary, options);
  return {
    name,
    level,
    vocabulary,
    train: train.ids,
    valid: valid.ids,
    test: test.ids,
    lines: { train: train.lines, valid: valid.lines, test: test.lines },
    outOfVocabulary: { valid: valid.oov, test: test.oov },
  };
}

export interface LoadOptions {
  /** Overrides RNNLAB_DATA_DIR / <repo>/datasets. */
  dataDir?: string;
  /** Check size and sha256 against the manifest (default true; cached per process). */
  verify?: boolean;
}

export type LanguageModelDatasetName = "ptb" | "ptb-char" | "wikitext-2";

const LM_FILES: Record<"ptb" | "wikitext-2", [string, string, string]> = {
  ptb: ["ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"],
  "wikitext-2": ["train.txt", "valid.txt", "test.txt"],
};

/** Loads PTB (word or character level) or WikiText-2 from the data directory. */
export function loadLanguageModelCorpus(name: LanguageModelDatasetName, options: LoadOptions & CharacterRuleOptions = {}): LanguageModelCorpus {
  const dataset = name === "ptb-char" ? "ptb" : name;
  if (!(dataset in LM_FILES)) throw new Error(`Unknown language-model dataset "${name}"; expected ptb, ptb-char or wikitext-2`);
  getManifestDataset(dataset);
  const [train, valid, test] = requireDatasetFiles(dataset, LM_FILES[dataset], options);
  const read = (file: string): TextSource => ({ text: readTextFile(file, { expected: "one sentence per line" }), file });
  return buildLanguageModelCorpus(name, { train: read(train), valid: read(valid), test: read(test) }, {
    ...options,
    level: name === "ptb-char" ? "character" : "word",
  });
}

export const loadPtb = (options: LoadOptions = {}) => loadLanguageModelCorpus("ptb", options);
export const loadPtbCharacters = (options: LoadOptions & CharacterRuleOptions = {}) => loadLanguageModelCorpus("ptb-char", options);
export const loadWikitext2 = (options: LoadOptions = {}) => loadLanguageModelCorpus("wikitext-2", options);

/** Token streams laid out as a row-major [batchSize, steps] array. */
export interface BatchedStream {
  data: Int32Array;
  batchSize: number;
  steps: number;
  /** Tokens trimmed from the end (n mod batchSize). */
  trimmed: number;
}

export function batchify(ids: Int32Array, batchSize: number): BatchedStream {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchify: batchSize must be a positive integer, got ${batchSize}`);
  const steps = Math.floor(ids.length / batchSize);
  if (steps < 2) throw new Error(`batchify: ${ids.length} tokens are too few for batchSize ${batchSize} (need at least 2 steps per stream)`);
  return { data: ids.slice(0, steps * batchSize), batchSize, steps, trimmed: ids.length - steps * batchSize }; // [batch, steps]
}

export interface BpttWindow {
  /** [batchSize, length] row-major. */
  inputs: Int32Array;
  /** [batchSize, length]: inputs shifted by one step. */
  targets: Int32Array;
  start: number;
  length: number;
  batchSize: number;
}

/** The window of `length` steps at `start` (length capped at steps-1-start). */
export function bpttWindow(stream: BatchedStream, start: number, length: number): BpttWindow {
  const len = Math.min(length, stream.steps - 1 - start);
  if (len < 1) throw new Error(`bpttWindow: start ${start} leaves no targets (steps ${stream.steps})`);
  const { batchSize, steps, data } = stream;
  const inputs = new Int32Array(batchSize * len); // [batch, len]
  const targets = new Int32Array(batchSize * len); // [batch, len]
  for (let b = 0; b < batchSize; b++) {
    inputs.set(data.subarray(b * steps + start, b * steps + start + len), b * len);
    targets.set(data.subarray(b * steps + start + 1, b * steps + start + 1 + len), b * len);
  }
  return { inputs, targets, start, length: len, batchSize };
}

/** Fixed-length windows covering the stream (training with fixed bptt, and evaluation). */
export function* fixedWindows(stream: BatchedStream, bptt: number): Generator<BpttWindow> {
  if (!Number.isInteger(bptt) || bptt < 1) throw new Error(`fixedWindows: bptt must be a positive integer, got ${bptt}`);
  for (let start = 0; start < stream.steps - 1; start += bptt) yield bpttWindow(stream, start, bptt);
}

export interface VariableWindow extends BpttWindow {
  /** The drawn length before capping at the end of the stream. */
  drawnLength: number;
  /** drawnLength / bptt: multiply the learning rate by this for the step (AWD `lr2`). */
  learningRateScale: number;
}

export interface VariableWindowOptions {
  /** Probability of using bptt (else bptt/2) as the mean. Default 0.95. */
  fullProbability?: number;
  /** Standard deviation of the length. Default 5. */
  standardDeviation?: number;
  /** Minimum length. Default 5. */
  minimumLength?: number;
  /** Optional cap on the drawn length (AWD has `min(seq_len, bptt + 20)` commented out; default none). */
  maximumLength?: number;
}

/** AWD-LSTM variable-length windows; every draw comes from `rng`. */
export function* variableWindows(stream: BatchedStream, bptt: number, rng: Rng, options: VariableWindowOptions = {}): Generator<VariableWindow> {
  if (!Number.isInteger(bptt) || bptt < 1) throw new Error(`variableWindows: bptt must be a positive integer, got ${bptt}`);
  const p = options.fullProbability ?? 0.95;
  const std = options.standardDeviation ?? 5;
  const minimum = options.minimumLength ?? 5;
  // AWD: `while i < train_data.size(0) - 1 - 1`.
  for (let start = 0; start < stream.steps - 2; ) {
    const base = rng.uniform() < p ? bptt : bptt / 2;
    let drawn = Math.max(minimum, Math.trunc(rng.normal(base, std)));
    if (options.maximumLength !== undefined) drawn = Math.min(drawn, options.maximumLength);
    const window = bpttWindow(stream, start, drawn);
    yield { ...window, drawnLength: drawn, learningRateScale: drawn / bptt };
    start += drawn;
  }
}

/**
 * Evaluation batching (AWD `evaluate`): batchify with a small batch (AWD: 10 for valid, 1 for test)
 * and walk fixed windows; every target token is scored exactly once.
 */
export function evaluationWindows(ids: Int32Array, batchSize: number, bptt: number): { stream: BatchedStream; windows: Generator<BpttWindow> } {
  const stream = batchify(ids, batchSize);
  return { stream, windows: fixedWindows(stream, bptt) };
}

/** Number of target tokens a full pass of fixed windows scores (for perplexity normalisation). */
export function streamTargetCount(stream: BatchedStream): number {
  return (stream.steps - 1) * stream.batchSize;
}
